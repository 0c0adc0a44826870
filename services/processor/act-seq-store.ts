import type { Store } from '../../core/io.js';

/**
 * The act sequence store of a processor (one counter per engine, kind and policy). Hooks drop an act whose seq is not
 * newer than the last one they applied, so a new owner of an engine must continue above whatever the previous owner
 * sent: every owner starts its counters at a floor taken from the wall clock in microseconds when it (re)builds its
 * state (`restart`), which is above any seq an earlier owner reached unless that one sent more than one act per
 * microsecond of its ownership.
 */
export interface ActSeqStore extends Store<number> {
  /** Forgets every counter; the next act of each gets `floor + 1`. */
  restart(floor: number): void;
  readonly floor: number;
}

/** The floor for `restart` at wall-clock time `nowMs`. */
export function seqFloorAt(nowMs: number): number {
  return Math.floor(nowMs) * 1000;
}

export function createActSeqStore(name: string, floor = 0): ActSeqStore {
  const map = new Map<string, number>();
  let base = floor;
  return {
    name,
    get: (key) => map.get(key) ?? base,
    put(key, value) {
      map.set(key, value);
    },
    delete(key) {
      map.delete(key);
    },
    has: (key) => map.has(key),
    keys: () => map.keys(),
    entries: () => map.entries(),
    get size() {
      return map.size;
    },
    flush: () => undefined,
    restore: () => undefined,
    restart(next) {
      map.clear();
      base = next;
    },
    get floor() {
      return base;
    },
  };
}
