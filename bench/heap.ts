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

/** Heap bytes in use after a full collection. */
export function settledHeapBytes(): number {
  fullGc();
  return process.memoryUsage().heapUsed;
}
