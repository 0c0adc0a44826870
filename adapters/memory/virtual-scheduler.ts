import { ProgrammerError } from '../../core/errors.js';
import type { Scheduler } from '../../core/io.js';

/**
 * A discrete-event clock: `schedule` queues work at a simulated time; `runUntil`/`runAll` execute it in (time,
 * scheduling order) order, advancing `now()`. Deterministic; nothing runs until a run method is called.
 */
export interface VirtualScheduler extends Scheduler {
  /** Number of queued tasks. */
  readonly pending: number;
  /** Time of the earliest queued task, or Infinity. */
  nextAt(): number;
  /** Runs every task due at or before `untilMs` (including tasks they schedule within that bound), then sets now. */
  runUntil(untilMs: number): number;
  /** Runs every queued task (including those scheduled while running) until the queue is empty. */
  runAll(maxTasks?: number): number;
  /** Runs the earliest task only; false when none is queued. */
  step(): boolean;
}

export interface VirtualSchedulerOptions {
  startMs?: number;
}

interface Task {
  at: number;
  seq: number;
  fn: () => void;
}

function before(a: Task, b: Task): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export function createVirtualScheduler(options: VirtualSchedulerOptions = {}): VirtualScheduler {
  const heap: Task[] = [];
  let now = options.startMs ?? 0;
  let seq = 0;

  const push = (t: Task): void => {
    heap.push(t);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = (): Task | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  const runOne = (): void => {
    const t = pop()!;
    if (t.at > now) now = t.at;
    t.fn();
  };

  return {
    now: () => now,
    schedule(atMs: number, fn: () => void): void {
      if (!Number.isFinite(atMs)) throw new ProgrammerError(`schedule: time must be finite, got ${atMs}`);
      push({ at: Math.max(atMs, now), seq: seq++, fn });
    },
    get pending() {
      return heap.length;
    },
    nextAt: () => (heap.length > 0 ? heap[0]!.at : Number.POSITIVE_INFINITY),
    runUntil(untilMs: number): number {
      let n = 0;
      while (heap.length > 0 && heap[0]!.at <= untilMs) {
        runOne();
        n++;
      }
      if (untilMs > now) now = untilMs;
      return n;
    },
    runAll(maxTasks = Number.POSITIVE_INFINITY): number {
      let n = 0;
      while (heap.length > 0) {
        if (n >= maxTasks)
          throw new ProgrammerError(`runAll: more than ${maxTasks} tasks (a task reschedules forever?)`);
        runOne();
        n++;
      }
      return n;
    },
    step(): boolean {
      if (heap.length === 0) return false;
      runOne();
      return true;
    },
  };
}
