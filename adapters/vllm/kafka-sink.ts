import { Kafka, logLevel as kafkaLogLevel, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { ConfigError, InfraError, reasonOf } from '../../core/errors.js';
import type { Sink, SinkMessage } from '../../core/io.js';

export interface KafkaProducerSinkOptions {
  brokers: string[];
  clientId: string;
}

/** A Sink over one idempotent kafkajs producer; call `connect()` before the first write. */
export interface KafkaProducerSink extends Sink<Uint8Array> {
  connect(): Promise<void>;
}

/**
 * A minimal Kafka sink for the engine-side edges (vLLM bridge, tagging proxy): one idempotent producer, acks from
 * all replicas, one batch in flight at a time (concurrent sends on an idempotent producer fail with sequence
 * errors), messages keyed as given. A failed write throws a retriable InfraError; the caller retries.
 */
export function createKafkaProducerSink(options: KafkaProducerSinkOptions): KafkaProducerSink {
  if (options.brokers.length === 0) throw new ConfigError('Kafka sink: at least one broker is required');
  const kafka = new Kafka({ clientId: options.clientId, brokers: options.brokers, logLevel: kafkaLogLevel.NOTHING });
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let tail: Promise<unknown> = Promise.resolve();
  let connected = false;

  async function send(messages: readonly SinkMessage<Uint8Array>[]): Promise<void> {
    const byTopic = new Map<string, { key: string | null; value: Buffer; headers?: Record<string, string> }[]>();
    for (const m of messages) {
      let list = byTopic.get(m.destination);
      if (list === undefined) {
        list = [];
        byTopic.set(m.destination, list);
      }
      list.push({
        key: m.key,
        value: Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength),
        ...(m.headers === undefined ? {} : { headers: m.headers }),
      });
    }
    try {
      await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })) });
    } catch (err) {
      throw new InfraError('CONNECTION_FAILED', `Kafka write failed: ${(err as Error).message}`, {
        retriable: true,
        cause: err,
      });
    }
  }

  return {
    name: `kafka:${options.clientId}`,
    async connect() {
      try {
        await producer.connect();
        connected = true;
      } catch (err) {
        throw new InfraError('CONNECTION_FAILED', `Kafka at ${options.brokers.join(',')} is not reachable`, {
          retriable: true,
          cause: err,
        });
      }
    },
    write(messages) {
      if (messages.length === 0) return Promise.resolve();
      const next = tail.then(() => send(messages));
      tail = next.catch(() => undefined);
      return next;
    },
    async close() {
      await tail;
      if (connected) await producer.disconnect();
      connected = false;
    },
  };
}

/** Connects `sink`, retrying with capped exponential backoff until it succeeds (a service that starts before Kafka). */
export async function connectWithBackoff(sink: KafkaProducerSink, logger: Logger, maxDelayMs = 30_000): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await sink.connect();
      return;
    } catch (err) {
      const delayMs = Math.min(maxDelayMs, 500 * 2 ** Math.min(attempt, 10));
      logger.warn({ err: reasonOf(err), delayMs }, 'Kafka not reachable yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
