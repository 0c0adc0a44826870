import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { KafkaSecurity } from '../../core/config.js';
import { CacheSageError, InfraError } from '../../core/errors.js';
import { createKafkaClient, kafkaError, positiveInt } from './kafka-client.js';
import { headersOf } from './kafka-source.js';
import { parseOffset } from './offsets.js';

/** One record read back from a topic. */
export interface ReadRecord {
  partition: number;
  offset: string;
  key: string | null;
  /** null for a tombstone. */
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface ReadTopicOptions {
  brokers: readonly string[];
  topic: string;
  /** Partitions to read; default all. */
  partitions?: readonly number[];
  /** Give up (InfraError TIMEOUT) after this long; default 30 000. */
  timeoutMs?: number;
  clientId?: string;
  kafka?: Kafka;
  /** SASL/TLS of the client built here when `kafka` is not given. */
  security?: KafkaSecurity;
}

export interface ReadTopicResult {
  records: number;
  /** Partition → the end offset (high watermark) read up to. */
  endOffsets: Record<number, string>;
}

/**
 * Reads partitions of a topic from their beginning up to the end offsets (high watermarks) they had when the read
 * started, calling `onRecord` in offset order per partition. Used to restore a store from its compacted changelog.
 * kafkajs has no manual assignment, so it reads through a throwaway consumer group that never commits.
 */
export async function readTopicToEnd(
  options: ReadTopicOptions,
  onRecord: (record: ReadRecord) => void,
): Promise<ReadTopicResult> {
  const { topic } = options;
  const timeoutMs = positiveInt(options.timeoutMs ?? 30_000, 'readTopicToEnd timeoutMs');
  const clientId = options.clientId ?? 'cachesage-restore';
  const kafka =
    options.kafka ??
    createKafkaClient({
      brokers: options.brokers,
      clientId,
      ...(options.security === undefined ? {} : { security: options.security }),
    });
  const admin = kafka.admin();
  const wanted = new Map<number, bigint>();
  const endOffsets: Record<number, string> = {};
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    for (const o of offsets) {
      if (options.partitions !== undefined && !options.partitions.includes(o.partition)) continue;
      endOffsets[o.partition] = o.high;
      if (parseOffset(o.high) > parseOffset(o.low)) wanted.set(o.partition, parseOffset(o.high));
    }
  } catch (err) {
    throw kafkaError(`reading ${topic}: cannot fetch its offsets`, err);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  if (wanted.size === 0) return { records: 0, endOffsets };

  const groupId = `${clientId}.${topic}.${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  let records = 0;
  let stopped = false;
  let finish!: () => void;
  let failed!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    failed = reject;
  });
  const timer = setTimeout(() => {
    const left = [...wanted.keys()].join(', ');
    failed(new InfraError('TIMEOUT', `reading ${topic}: partitions ${left} not read to their end in ${timeoutMs} ms`));
  }, timeoutMs);
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) failed(kafkaError(`reading ${topic}`, event.payload.error));
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = wanted.get(batch.partition);
        if (end === undefined || stopped) return;
        for (const m of batch.messages) {
          if (parseOffset(m.offset) >= end) break;
          records++;
          try {
            onRecord({
              partition: batch.partition,
              offset: m.offset,
              key: m.key === null || m.key === undefined ? null : m.key.toString('utf8'),
              value: m.value ?? null,
              headers: headersOf(m.headers),
            });
          } catch (err) {
            stopped = true;
            failed(err);
            return;
          }
        }
        if (parseOffset(batch.lastOffset()) + 1n >= end) {
          wanted.delete(batch.partition);
          if (wanted.size === 0) finish();
        }
      },
    });
    await done;
  } catch (err) {
    if (err instanceof CacheSageError) throw err;
    throw kafkaError(`reading ${topic}`, err);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
  return { records, endOffsets };
}
