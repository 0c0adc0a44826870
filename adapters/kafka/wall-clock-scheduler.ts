import type { Scheduler } from '../../core/io.js';

/** The real clock as a Scheduler (production transports): `now()` is epoch ms, `schedule` a timer. */
export function wallClockScheduler(): Scheduler {
  return {
    now: () => Date.now(),
    schedule(atMs, fn) {
      setTimeout(fn, Math.max(0, atMs - Date.now()));
    },
  };
}
