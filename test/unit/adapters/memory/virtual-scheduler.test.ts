import { describe, expect, it } from 'vitest';
import { createVirtualScheduler } from '../../../../adapters/memory/virtual-scheduler.js';

describe('virtual scheduler', () => {
  it('runs tasks in time order, equal times in scheduling order, and advances now', () => {
    const s = createVirtualScheduler();
    const seen: string[] = [];
    s.schedule(20, () => seen.push(`b@${s.now()}`));
    s.schedule(10, () => seen.push(`a@${s.now()}`));
    s.schedule(20, () => seen.push(`c@${s.now()}`));
    expect(seen).toEqual([]);
    expect(s.runAll()).toBe(3);
    expect(seen).toEqual(['a@10', 'b@20', 'c@20']);
    expect(s.now()).toBe(20);
  });

  it('never runs a task in the past, and runUntil stops at the bound', () => {
    const s = createVirtualScheduler({ startMs: 100 });
    const seen: number[] = [];
    s.schedule(50, () => seen.push(s.now()));
    s.schedule(300, () => seen.push(s.now()));
    s.schedule(150, () => s.schedule(160, () => seen.push(s.now())));
    expect(s.runUntil(200)).toBe(3);
    expect(seen).toEqual([100, 160]);
    expect(s.now()).toBe(200);
    expect(s.pending).toBe(1);
    expect(s.nextAt()).toBe(300);
  });

  it('refuses a runaway loop', () => {
    const s = createVirtualScheduler();
    const again = (): void => s.schedule(s.now() + 1, again);
    s.schedule(0, again);
    expect(() => s.runAll(1000)).toThrow(/more than 1000 tasks/);
  });
});
