import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { KafkaSecurity } from '../../core/config.js';
import { CacheSageError, ConfigError, InfraError } from '../../core/errors.js';
import { createKafkaClient, kafkaError, positiveInt } from '../kafka/kafka-client.js';
import { headersOf } from '../kafka/kafka-source.js';
import { parseOffset } from '../kafka/offsets.js';
import type { RecordedRange, RecordedRecord } from './recording-format.js';

/** Where a range starts: the oldest retained record, or the first record at or after a time (epoch ms). */
export type RangeStart = 'beginning' | number;
/** Where a range ends: the end offsets when the read starts, or before the first record at or after a time. */
export type RangeEnd = 'now' | number;

export interface ReadRangeOptions {
  brokers: readonly string[];
  topics: readonly string[];
  from: RangeStart;
  to: RangeEnd;
  /** SASL/TLS of the client built here when `kafka` is not given. */
  security?: KafkaSecurity;
  kafka?: Kafka;
  clientId?: string;
  /** Give up (InfraError TIMEOUT) when nothing new was read for this long; default 30 000. */
  idleTimeoutMs?: number;
  /** Told after every batch: records read so far and the offsets the range spans (an upper bound of records). */
  onProgress?: (read: number, total: number) => void;
  /** Told the offsets the range spans once they are known, before the first record. */
  onRanges?: (ranges: readonly RecordedRange[]) => void | Promise<void>;
}

export interface ReadRangeResult {
  ranges: RecordedRange[];
  /** Records handed to `onRecord` (inside the offsets and the time bounds). */
  records: number;
}

interface Wanted {
  start: bigint;
  end: bigint;
}

/**
 * Reads the records of `topics` between two points (DESIGN §7 replay): per partition, from the first offset at or
 * after `from` (kafkajs `fetchTopicOffsetsByTimestamp`) to the first at or after `to` (or the end offsets when the
 * read starts, for `now`), keeping only records whose timestamp lies in [from, to). Records reach `onRecord` in
 * offset order per partition; `onRecord` may return a promise (back-pressure). Reads through a throwaway consumer
 * group whose starting offsets are set first and which is deleted at the end; nothing is committed.
 */
export async function readRange(
  options: ReadRangeOptions,
  onRecord: (record: RecordedRecord) => void | Promise<void>,
): Promise<ReadRangeResult> {
  const topics = [...new Set(options.topics)];
  if (topics.length === 0) throw new ConfigError('readRange: no topics');
  const { from, to } = options;
  if (from !== 'beginning' && !Number.isFinite(from)) throw new ConfigError(`readRange: bad start ${String(from)}`);
  if (to !== 'now' && !Number.isFinite(to)) throw new ConfigError(`readRange: bad end ${String(to)}`);
  if (typeof from === 'number' && typeof to === 'number' && to <= from) {
    throw new ConfigError(`readRange: the end ${new Date(to).toISOString()} is not after the start`);
  }
  const idleTimeoutMs = positiveInt(options.idleTimeoutMs ?? 30_000, 'readRange idleTimeoutMs');
  const clientId = options.clientId ?? 'cachesage-record';
  const kafka =
    options.kafka ??
    createKafkaClient({
      brokers: options.brokers,
      clientId,
      ...(options.security === undefined ? {} : { security: options.security }),
    });
  const groupId = `${clientId}.${randomBytes(6).toString('hex')}`;
  const wanted = new Map<string, Wanted>();
  const ranges: RecordedRange[] = [];
  let total = 0n;
  const admin = kafka.admin();
  try {
    await admin.connect();
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      const starts =
        from === 'beginning' ? undefined : await admin.fetchTopicOffsetsByTimestamp(topic, Math.floor(from));
      const ends = to === 'now' ? undefined : await admin.fetchTopicOffsetsByTimestamp(topic, Math.ceil(to));
      const positions: { partition: number; offset: string }[] = [];
      for (const o of offsets) {
        const low = parseOffset(o.low);
        const high = parseOffset(o.high);
        const byTime = (list: typeof starts, fallback: bigint): bigint => {
          const found = list?.find((p) => p.partition === o.partition)?.offset;
          return found === undefined ? fallback : parseOffset(found);
        };
        const start = max(low, byTime(starts, low));
        const end = min(high, byTime(ends, high));
        positions.push({ partition: o.partition, offset: (end > start ? start : high).toString() });
        if (end > start) {
          wanted.set(`${topic}|${o.partition}`, { start, end });
          ranges.push({ topic, partition: o.partition, start: start.toString(), end: end.toString() });
          total += end - start;
        }
      }
      await admin.setOffsets({ groupId, topic, partitions: positions });
    }
  } catch (err) {
    await admin.disconnect().catch(() => undefined);
    if (err instanceof CacheSageError) throw err;
    throw kafkaError(`reading ${topics.join(', ')}: cannot find the range's offsets`, err);
  }
  ranges.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  try {
    await options.onRanges?.(ranges);
  } catch (err) {
    await admin.disconnect().catch(() => undefined);
    throw err;
  }
  let records = 0;
  let read = 0;
  const totalRecords = Number(total);
  if (wanted.size === 0) {
    await admin.disconnect().catch(() => undefined);
    return { ranges, records };
  }

  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  let finish!: () => void;
  let failed!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    failed = reject;
  });
  let stopped = false;
  let lastProgress = Date.now();
  const watchdog = setInterval(
    () => {
      if (Date.now() - lastProgress < idleTimeoutMs) return;
      const left = [...wanted.keys()].map((k) => k.replace('|', ':')).join(', ');
      failed(new InfraError('TIMEOUT', `reading the range: nothing read for ${idleTimeoutMs} ms; not done: ${left}`));
    },
    Math.min(1000, idleTimeoutMs),
  );
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) failed(kafkaError('reading the range', event.payload.error));
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const key = `${batch.topic}|${batch.partition}`;
        const range = wanted.get(key);
        if (range === undefined || stopped) return;
        for (const m of batch.messages) {
          const offset = parseOffset(m.offset);
          if (offset < range.start) continue;
          if (offset >= range.end) break;
          read++;
          const timestamp = Number(m.timestamp);
          if (typeof from === 'number' && timestamp < from) continue;
          if (typeof to === 'number' && timestamp >= to) continue;
          records++;
          try {
            await onRecord({
              topic: batch.topic,
              partition: batch.partition,
              offset: m.offset,
              timestamp,
              key: m.key === null || m.key === undefined ? null : m.key.toString('utf8'),
              value: m.value === null || m.value === undefined ? null : new Uint8Array(m.value),
              headers: headersOf(m.headers),
            });
          } catch (err) {
            stopped = true;
            failed(err);
            return;
          }
        }
        lastProgress = Date.now();
        options.onProgress?.(read, totalRecords);
        if (parseOffset(batch.lastOffset()) + 1n >= range.end) {
          wanted.delete(key);
          if (wanted.size === 0) finish();
        }
      },
    });
    await done;
  } catch (err) {
    if (err instanceof CacheSageError) throw err;
    throw kafkaError('reading the range', err);
  } finally {
    stopped = true;
    clearInterval(watchdog);
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  return { ranges, records };
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
