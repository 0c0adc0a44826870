import type { KafkaSecurity } from '../../core/config.js';
import { ConfigError, DecodeError, ProgrammerError } from '../../core/errors.js';
import type { Sink, SinkMessage, Store } from '../../core/io.js';
import { CHECKPOINT_KEY, type Checkpoint, decodeCheckpoint, encodeCheckpoint } from './changelog-checkpoint.js';
import { createKafkaSink } from './kafka-sink.js';
import { type ReadRecord, readTopicToEnd } from './topic-reader.js';
import type { ValueCodec } from './value-codecs.js';

/** A store backed by a compacted changelog topic (Kafka Streams' persistent store, kept in memory). */
export interface ChangelogStore<V> extends Store<V> {
  readonly topic: string;
  /** The checkpoint found by the last `restore()`, if the changelog holds one. */
  readonly checkpoint: Checkpoint | undefined;
  /** Records read by the last `restore()`. */
  readonly restoredRecords: number;
  /**
   * The changelog records of every key changed since the last flush (a tombstone for a deleted key), values encoded
   * as they are now; clears the change set. `flush()` writes exactly these.
   */
  takeChanges(): SinkMessage<Uint8Array | null>[];
  /** Closes the Kafka sink the store opened for itself (none when a sink was given). */
  close(): Promise<void>;
}

export interface ChangelogStoreOptions<V> {
  name: string;
  /** The compacted changelog topic (`changelogTopic(app, store)` in `infra/topics.ts`). */
  topic: string;
  codec: ValueCodec<V>;
  /** Brokers for the store's own sink and for restore reads. */
  brokers?: readonly string[];
  /** Where `flush()` writes; default a Kafka sink of its own on `brokers`. */
  sink?: Sink<Uint8Array | null>;
  /** Reads the changelog for `restore()`; default `readTopicToEnd` on `brokers` (beginning to high watermark). */
  read?: (onRecord: (record: ReadRecord) => void) => Promise<unknown>;
  /** Changelog partitions `restore()` reads; default all. */
  restorePartitions?: readonly number[];
  restoreTimeoutMs?: number;
  /** SASL/TLS of the store's own Kafka clients (sink and restore reader). */
  security?: KafkaSecurity;
}

/** The record that stores a checkpoint in a changelog topic. */
export function checkpointRecord(topic: string, positions: Checkpoint): SinkMessage<Uint8Array | null> {
  return { destination: topic, key: CHECKPOINT_KEY, value: encodeCheckpoint(positions) };
}

/**
 * A `Store` whose contents live in memory and whose changes go to a compacted Kafka topic: `flush()` writes every
 * key changed since the last flush (a tombstone for a delete) and resolves once Kafka acknowledged them; `restore()`
 * reads the changelog from the beginning to the end offset it has when the restore starts and rebuilds the contents
 * (a tombstone removes its key; the latest record of a key wins). A checkpoint record (`CHECKPOINT_KEY`) is kept
 * apart, never as a store entry.
 */
export function createChangelogStore<V>(options: ChangelogStoreOptions<V>): ChangelogStore<V> {
  const { name, topic, codec } = options;
  if (typeof name !== 'string' || name.length === 0) throw new ConfigError('changelog store: name is required');
  if (typeof topic !== 'string' || topic.length === 0) throw new ConfigError(`changelog store ${name}: no topic`);
  if (typeof codec?.encode !== 'function' || typeof codec.decode !== 'function') {
    throw new ConfigError(`changelog store ${name}: a value codec is required`);
  }
  const brokers = options.brokers;
  if ((options.sink === undefined || options.read === undefined) && (brokers === undefined || brokers.length === 0)) {
    throw new ConfigError(`changelog store ${name}: brokers are required without both a sink and a reader`);
  }
  const ownSink = options.sink === undefined;
  const sink =
    options.sink ??
    createKafkaSink({
      brokers: brokers!,
      name: `changelog:${name}`,
      ...(options.security === undefined ? {} : { security: options.security }),
    });
  const read =
    options.read ??
    ((onRecord: (record: ReadRecord) => void) =>
      readTopicToEnd(
        {
          brokers: brokers!,
          topic,
          clientId: `cachesage-restore-${name.replace(/[^a-zA-Z0-9._-]/g, '-')}`,
          ...(options.restorePartitions === undefined ? {} : { partitions: options.restorePartitions }),
          ...(options.restoreTimeoutMs === undefined ? {} : { timeoutMs: options.restoreTimeoutMs }),
          ...(options.security === undefined ? {} : { security: options.security }),
        },
        onRecord,
      ));
  const map = new Map<string, V>();
  const dirty = new Set<string>();
  let checkpoint: Checkpoint | undefined;
  let restoredRecords = 0;

  const takeChanges = (): SinkMessage<Uint8Array | null>[] => {
    const out: SinkMessage<Uint8Array | null>[] = [];
    for (const key of dirty) {
      const value = map.get(key);
      out.push({ destination: topic, key, value: value === undefined ? null : codec.encode(value) });
    }
    dirty.clear();
    return out;
  };

  const apply = (record: ReadRecord): void => {
    restoredRecords++;
    if (record.key === null) return;
    if (record.key === CHECKPOINT_KEY) {
      if (record.value !== null) checkpoint = decodeCheckpoint(record.value);
      return;
    }
    if (record.value === null) {
      map.delete(record.key);
      return;
    }
    try {
      map.set(record.key, codec.decode(record.value));
    } catch (err) {
      throw new DecodeError(
        'DECODE_FAILED',
        `changelog store ${name}: value of key ${JSON.stringify(record.key)} at ${topic}/${record.partition}@${record.offset} does not decode`,
        { cause: err },
      );
    }
  };

  return {
    name,
    topic,
    get checkpoint() {
      return checkpoint;
    },
    get restoredRecords() {
      return restoredRecords;
    },
    get: (key) => map.get(key),
    put(key, value) {
      if (key === CHECKPOINT_KEY) throw new ProgrammerError(`changelog store ${name}: the checkpoint key is reserved`);
      map.set(key, value);
      dirty.add(key);
    },
    delete(key) {
      map.delete(key);
      dirty.add(key);
    },
    has: (key) => map.has(key),
    keys: () => map.keys(),
    entries: () => map.entries(),
    get size() {
      return map.size;
    },
    takeChanges,
    flush() {
      const changes = takeChanges();
      if (changes.length === 0) return;
      return sink.write(changes);
    },
    async restore() {
      map.clear();
      dirty.clear();
      checkpoint = undefined;
      restoredRecords = 0;
      await read(apply);
    },
    async close() {
      if (ownSink) await sink.close();
    },
  };
}
