import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';

/** The Kafka brokers and NATS URL the global setup found or started. */
export function integrationEnv(): { kafkaBrokers: string[]; natsUrl: string } {
  return { kafkaBrokers: inject('kafkaBrokers').split(','), natsUrl: inject('natsUrl') };
}

/**
 * A name unique to one test: `<prefix>-<time>-<random>` with only [a-z0-9-] added, so it stays a valid Kafka topic,
 * consumer group, NATS subject token and JetStream stream name when the prefix is.
 */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export interface WaitForOptions {
  /** Default 15 000. */
  timeoutMs?: number;
  /** Default 50. */
  intervalMs?: number;
  /** Said in the error on timeout. */
  what?: string;
}

/**
 * Polls `condition` until it returns a truthy value (returned) or the time is up (throws with the last value or
 * error). Conditions may throw while not yet true.
 */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitForOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(
        `waitFor timed out after ${timeoutMs} ms${options.what ? ` waiting for ${options.what}` : ''} (last: ${detail})`,
      );
    }
    await sleep(intervalMs);
  }
}
