import { ConfigError } from '../../core/errors.js';
import type { Sink, SinkMessage, Store } from '../../core/io.js';

/**
 * A store whose changelog is a compacted table topic the layer shares (`cachesage.model`, `cachesage.sessions`):
 * values are written with the topic's own codec, so every processor reads them as a global table.
 */
export interface TableStore<V> extends Store<V> {
  /** The topic changes are written to. */
  readonly topic: string;
  /** Sets a key read back from the topic: not a change, nothing is written. */
  load(key: string, value: V): void;
  /** Drops a key of a partition given up: not a change, no tombstone. */
  forget(key: string): void;
}

/** Stores flushed together: one flush writes the changes of all of them in one produce request, in store order. */
export interface TableStoreGroup {
  readonly stores: readonly TableStore<unknown>[];
  /** Writes every store's changes (a tombstone for a deleted key); undefined when nothing changed. */
  flush(): Promise<void> | undefined;
  /** Resolves once every write started so far has settled. */
  settled(): Promise<void>;
}

export interface TableStoreSpec<V> {
  name: string;
  topic: string;
  encode: (value: V) => Uint8Array;
}

export interface TableStoreGroupOptions {
  /** A Kafka sink (serialized writes; one `write` is one produce request). */
  sink: Sink<Uint8Array | null>;
  stores: readonly TableStoreSpec<never>[];
}

interface Entry {
  spec: TableStoreSpec<unknown>;
  map: Map<string, unknown>;
  dirty: Set<string>;
}

/**
 * Creates stores that write their changes to their table topics when flushed. The changes of every store of the
 * group go out in a single write, earlier stores first (counts before the positions that follow from them), so a
 * crash leaves them consistent or, at worst, the later store behind.
 */
export function createTableStoreGroup(options: TableStoreGroupOptions): TableStoreGroup {
  const { sink } = options;
  if (options.stores.length === 0) throw new ConfigError('table stores: at least one store is required');
  const entries: Entry[] = options.stores.map((spec) => ({
    spec: spec as TableStoreSpec<unknown>,
    map: new Map(),
    dirty: new Set(),
  }));
  let tail: Promise<unknown> = Promise.resolve();

  const flush = (): Promise<void> | undefined => {
    const messages: SinkMessage<Uint8Array | null>[] = [];
    for (const { spec, map, dirty } of entries) {
      for (const key of dirty) {
        const value = map.get(key);
        messages.push({ destination: spec.topic, key, value: value === undefined ? null : spec.encode(value) });
      }
      dirty.clear();
    }
    if (messages.length === 0) return undefined;
    const write = Promise.resolve(sink.write(messages));
    tail = write.catch(() => undefined);
    return write;
  };

  const stores = entries.map(
    ({ spec, map, dirty }): TableStore<unknown> => ({
      name: spec.name,
      topic: spec.topic,
      get: (key) => map.get(key),
      put(key, value) {
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
      flush,
      restore: () => undefined,
      load(key, value) {
        map.set(key, value);
        dirty.delete(key);
      },
      forget(key) {
        map.delete(key);
        dirty.delete(key);
      },
    }),
  );
  return {
    stores,
    flush,
    settled: async () => {
      await tail;
    },
  };
}
