import { ConfigError } from '../../core/errors.js';
import type { Store } from '../../core/io.js';

/**
 * The in-memory stand-in for a compacted changelog topic: the last flushed copy of every key. It outlives the stores
 * written to it, so a new store restored from it (a restarted runner) sees exactly what the old one flushed.
 */
export interface MemoryChangelog<V> {
  readonly entries: Map<string, V>;
}

export function createMemoryChangelog<V>(): MemoryChangelog<V> {
  return { entries: new Map() };
}

export interface MemoryStoreOptions<V> {
  name: string;
  /** Without one, `flush` and `restore` are no-ops (the simulator's case: nothing to persist). */
  changelog?: MemoryChangelog<V>;
  /** Copies a value into and out of the changelog. Default `structuredClone`. */
  copy?: (value: V) => V;
}

/**
 * A `Store` over a `Map`. With a changelog, it tracks changed keys, `flush()` writes copies of them to the changelog
 * (the contents at the moment of the call), and `restore()` replaces its contents with copies of the changelog's.
 */
export function createMemoryStore<V>(options: MemoryStoreOptions<V>): Store<V> {
  const { name, changelog } = options;
  if (typeof name !== 'string' || name.length === 0) throw new ConfigError('memory store: name is required');
  const copy = options.copy ?? ((v: V) => structuredClone(v));
  const map = new Map<string, V>();
  const dirty = changelog === undefined ? null : new Set<string>();
  return {
    name,
    get: (key) => map.get(key),
    put(key, value) {
      map.set(key, value);
      dirty?.add(key);
    },
    delete(key) {
      map.delete(key);
      dirty?.add(key);
    },
    has: (key) => map.has(key),
    keys: () => map.keys(),
    entries: () => map.entries(),
    get size() {
      return map.size;
    },
    flush() {
      if (changelog === undefined || dirty === null) return;
      for (const key of dirty) {
        const value = map.get(key);
        if (value === undefined) changelog.entries.delete(key);
        else changelog.entries.set(key, copy(value));
      }
      dirty.clear();
    },
    restore() {
      if (changelog === undefined || dirty === null) return;
      map.clear();
      for (const [key, value] of changelog.entries) map.set(key, copy(value));
      dirty.clear();
    },
  };
}

export interface MemoryStoresOptions {
  /** Changelogs by store name; missing ones are created and added (keep the map to restore later). */
  changelogs?: Map<string, MemoryChangelog<unknown>>;
  copy?: (value: unknown) => unknown;
}

/** One memory store per name (e.g. `topology.stores.map((s) => s.name)`), optionally changelog-backed. */
export function createMemoryStores(
  names: readonly string[],
  options: MemoryStoresOptions = {},
): Record<string, Store<unknown>> {
  const stores: Record<string, Store<unknown>> = {};
  for (const name of names) {
    let changelog = options.changelogs?.get(name);
    if (options.changelogs !== undefined && changelog === undefined) {
      changelog = createMemoryChangelog();
      options.changelogs.set(name, changelog);
    }
    stores[name] = createMemoryStore({
      name,
      ...(changelog === undefined ? {} : { changelog }),
      ...(options.copy === undefined ? {} : { copy: options.copy }),
    });
  }
  return stores;
}
