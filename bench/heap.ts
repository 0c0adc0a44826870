import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

/** A full garbage collection (exposes V8's `gc` on first use). */
export function fullGc(): void {
  if (collect === undefined) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
  collect();
}

/**
 * Bytes in use after a full collection: the JavaScript heap and the ArrayBuffer stores outside it (where typed
 * arrays above V8's on-heap size live, such as a `BlockHashSet`'s slots).
 */
export function settledHeapBytes(): number {
  fullGc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
