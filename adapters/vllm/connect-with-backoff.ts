import type { Logger } from 'pino';
import { reasonOf } from '../../core/errors.js';

/**
 * Connects `client` (a Kafka sink), retrying with capped exponential backoff until it succeeds: a service started
 * before its broker waits for it instead of exiting.
 */
export async function connectWithBackoff(
  client: { connect(): Promise<void> },
  logger: Logger,
  maxDelayMs = 30_000,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.connect();
      return;
    } catch (err) {
      const delayMs = Math.min(maxDelayMs, 500 * 2 ** Math.min(attempt, 10));
      logger.warn({ err: reasonOf(err), delayMs }, 'Kafka not reachable yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
