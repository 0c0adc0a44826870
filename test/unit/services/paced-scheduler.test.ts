import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPacedScheduler } from '../../../services/engine-sim/paced-scheduler.js';

describe('paced scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs tasks when the wall clock reaches their time × speed, in time then scheduling order, at their own time', () => {
    const s = createPacedScheduler({ speed: 4, startMs: 1_000, wallNow: () => Date.now() });
    const ran: [string, number][] = [];
    s.schedule(1_400, () => ran.push(['b', s.now()]));
    s.schedule(1_200, () => {
      ran.push(['a', s.now()]);
      s.schedule(1_200, () => ran.push(['a2', s.now()]));
    });
    s.schedule(1_400, () => ran.push(['c', s.now()]));
    vi.advanceTimersByTime(49);
    expect(ran).toEqual([]);
    vi.advanceTimersByTime(2);
    expect(ran).toEqual([
      ['a', 1_200],
      ['a2', 1_200],
    ]);
    vi.advanceTimersByTime(50);
    expect(ran.map((r) => r[0])).toEqual(['a', 'a2', 'b', 'c']);
    expect(ran.slice(2).map((r) => r[1])).toEqual([1_400, 1_400]);
    expect(s.pending).toBe(0);
  });

  it('gives the paced wall time between tasks, never before the last task, and never schedules in the past', () => {
    const s = createPacedScheduler({ speed: 2, startMs: 0, wallNow: () => Date.now() });
    vi.advanceTimersByTime(100);
    expect(s.now()).toBe(200);
    let at = -1;
    s.schedule(50, () => {
      at = s.now();
    });
    vi.advanceTimersByTime(1);
    expect(at).toBe(200);
    s.stop();
    s.schedule(10_000, () => {
      at = -2;
    });
    vi.advanceTimersByTime(10_000);
    expect(at).toBe(200);
  });

  it('refuses a speed that is not positive', () => {
    expect(() => createPacedScheduler({ speed: 0 })).toThrow(/speed/);
  });
});
