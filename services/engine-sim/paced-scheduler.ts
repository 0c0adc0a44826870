import { ConfigError } from '../../core/errors.js';
import type { Scheduler } from '../../core/io.js';

/** A scheduler that runs simulated time against the wall clock. */
export interface PacedScheduler extends Scheduler {
  /** Simulated ms per wall ms (1: the cost model's timings in real time). */
  readonly speed: number;
  /** Tasks waiting. */
  readonly pending: number;
  /** Tasks that ran later than their time by more than `lateMs` (the process could not keep up). */
  readonly late: number;
  /** Stops the timer; queued tasks never run. */
  stop(): void;
}

export interface PacedSchedulerOptions {
  /** Simulated ms per wall ms; default 1. */
  speed?: number;
  /** Simulated time at creation; default the wall clock (epoch ms), so event times read as real times at 1×. */
  startMs?: number;
  /** A task this much behind its time (simulated ms) counts as late; default 50. */
  lateMs?: number;
  /** Wall clock in ms (monotonic); default `performance.now`. */
  wallNow?: () => number;
}

interface Task {
  at: number;
  seq: number;
  fn: () => void;
}

function before(a: Task, b: Task): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function push(heap: Task[], task: Task): void {
  heap.push(task);
  let i = heap.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!before(heap[i] as Task, heap[p] as Task)) break;
    [heap[i], heap[p]] = [heap[p] as Task, heap[i] as Task];
    i = p;
  }
}

function pop(heap: Task[]): Task | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (top === undefined || last === undefined || heap.length === 0) return top;
  heap[0] = last;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < heap.length && before(heap[l] as Task, heap[m] as Task)) m = l;
    if (r < heap.length && before(heap[r] as Task, heap[m] as Task)) m = r;
    if (m === i) return top;
    [heap[i], heap[m]] = [heap[m] as Task, heap[i] as Task];
    i = m;
  }
}

/**
 * Simulated time paced by the wall clock: simulated time = startMs + wall time elapsed × speed. A task runs when the
 * wall clock reaches its time, in (time, scheduling) order, and sees `now()` equal to its own time, so the engine's
 * timings are exactly the cost model's whatever the timer jitter; between tasks (e.g. when an act arrives over the
 * network) `now()` is the paced wall time, never earlier than the last task's time.
 */
export function createPacedScheduler(options: PacedSchedulerOptions = {}): PacedScheduler {
  const speed = options.speed ?? 1;
  if (!(Number.isFinite(speed) && speed > 0)) throw new ConfigError(`speed must be a number > 0, got ${speed}`);
  const wallNow = options.wallNow ?? (() => performance.now());
  const startMs = options.startMs ?? Date.now();
  const lateMs = options.lateMs ?? 50;
  const wallStart = wallNow();
  const heap: Task[] = [];
  let seq = 0;
  let current: number | null = null;
  let last = startMs;
  let late = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const paced = (): number => startMs + (wallNow() - wallStart) * speed;
  const now = (): number => current ?? Math.max(last, paced());

  const arm = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (stopped) return;
    const next = heap[0];
    if (next === undefined) return;
    timer = setTimeout(run, Math.max(0, (next.at - paced()) / speed));
  };

  const run = (): void => {
    timer = undefined;
    const until = paced();
    for (;;) {
      const next = heap[0];
      if (next === undefined || next.at > until || stopped) break;
      pop(heap);
      if (until - next.at > lateMs) late++;
      current = next.at;
      last = Math.max(last, next.at);
      try {
        next.fn();
      } finally {
        current = null;
      }
    }
    arm();
  };

  return {
    speed,
    now,
    schedule(atMs, fn) {
      if (stopped) return;
      const at = Math.max(atMs, now());
      const head = heap[0];
      push(heap, { at, seq: seq++, fn });
      if (current === null && (timer === undefined || head === undefined || at < head.at)) arm();
    },
    get pending() {
      return heap.length;
    },
    get late() {
      return late;
    },
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
