import { randomBytes } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { kafkaError } from '../../adapters/kafka/kafka-client.js';
import { parseOffset } from '../../adapters/kafka/offsets.js';
import { InfraError } from '../../core/errors.js';

/** One row of a global table: the latest value of a key and where it was read. */
export interface TableRow<V> {
  value: V;
  partition: number;
  offset: string;
}

/** Counters of a table reader (a live view). */
export interface TableReaderStats {
  records: number;
  tombstones: number;
  /** Records whose value did not decode (skipped). */
  undecodable: number;
}

/**
 * A compacted topic read as a global table (Kafka Streams' GlobalKTable): every partition, from the beginning,
 * continuously, the latest value per key, a tombstone removing its key.
 */
export interface TableReader<V> {
  readonly topic: string;
  readonly rows: ReadonlyMap<string, TableRow<V>>;
  readonly stats: Readonly<TableReaderStats>;
  /** Starts reading (resolves once the consumer runs). */
  start(): Promise<void>;
  /** Resolves once every record written before the call has been read (the end offsets of that moment). */
  caughtUp(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface TableReaderOptions<V> {
  kafka: Kafka;
  topic: string;
  /** Bytes → value; a throw skips the record (counted as undecodable). */
  decode: (bytes: Buffer) => V;
  /** Told after every change of a key (`undefined`: removed). */
  onChange?: (key: string, row: TableRow<V> | undefined) => void;
  /** Told about a value that did not decode. */
  onUndecodable?: (key: string, error: unknown) => void;
  /** Prefix of the reader's own consumer group (never committed); default `cachesage-table`. */
  groupPrefix?: string;
}

/** Creates a global-table reader over its own throwaway consumer group (kafkajs has no manual assignment). */
export function createTableReader<V>(options: TableReaderOptions<V>): TableReader<V> {
  const { kafka, topic, decode } = options;
  const rows = new Map<string, TableRow<V>>();
  const stats: TableReaderStats = { records: 0, tombstones: 0, undecodable: 0 };
  const positions = new Map<number, bigint>();
  let waiters: (() => void)[] = [];
  const consumer: Consumer = kafka.consumer({
    groupId: `${options.groupPrefix ?? 'cachesage-table'}.${topic}.${randomBytes(6).toString('hex')}`,
    maxWaitTimeInMs: 200,
    allowAutoTopicCreation: false,
  });
  let started: Promise<void> | undefined;
  let closed = false;

  const wake = (): void => {
    const list = waiters;
    waiters = [];
    for (const w of list) w();
  };

  const start = (): Promise<void> => {
    started ??= (async () => {
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              const key = m.key?.toString('utf8');
              stats.records++;
              if (key === undefined) continue;
              if (m.value === null || m.value.length === 0) {
                stats.tombstones++;
                if (rows.delete(key)) options.onChange?.(key, undefined);
                continue;
              }
              let value: V;
              try {
                value = decode(m.value);
              } catch (err) {
                stats.undecodable++;
                options.onUndecodable?.(key, err);
                continue;
              }
              const row = { value, partition: batch.partition, offset: m.offset };
              rows.set(key, row);
              options.onChange?.(key, row);
            }
            const next = parseOffset(batch.lastOffset()) + 1n;
            if (next > (positions.get(batch.partition) ?? 0n)) positions.set(batch.partition, next);
            wake();
          },
        });
      } catch (err) {
        throw kafkaError(`table ${topic}: cannot start its reader`, err);
      }
    })();
    return started;
  };

  const caughtUp = async (timeoutMs = 30_000): Promise<void> => {
    const admin = kafka.admin();
    let targets: { partition: number; high: bigint }[];
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      targets = offsets
        .map((o) => ({ partition: o.partition, high: parseOffset(o.high), low: parseOffset(o.low) }))
        .filter((o) => o.high > o.low);
    } catch (err) {
      throw kafkaError(`table ${topic}: cannot fetch its end offsets`, err);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const behind = (): boolean => targets.some((t) => (positions.get(t.partition) ?? 0n) < t.high);
    const deadline = Date.now() + timeoutMs;
    while (behind()) {
      if (closed) throw new InfraError('CONNECTION_FAILED', `table ${topic}: reader closed`);
      const left = deadline - Date.now();
      if (left <= 0) throw new InfraError('TIMEOUT', `table ${topic}: not caught up within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };

  return {
    topic,
    rows,
    stats,
    start,
    caughtUp,
    async close() {
      closed = true;
      wake();
      await consumer.disconnect().catch(() => undefined);
    },
  };
}
