import { describe, expect, it } from 'vitest';
import { createStreamClock } from '../../../services/processor/stream-clock.js';

describe('stream clock', () => {
  it('is the latest event time of a partition advanced by the wall time since, per partition', () => {
    let wall = 1_000;
    const clock = createStreamClock(() => wall);
    expect(clock.now(0)).toBe(1_000);
    clock.observe(0, 50_000);
    clock.observe(0, 40_000);
    wall += 300;
    expect(clock.now(0)).toBe(50_300);
    expect(clock.now(1)).toBe(1_300);
    clock.observe(1, 10);
    wall += 10;
    expect(clock.now(1)).toBe(20);
    clock.reset();
    expect(clock.now(0)).toBe(wall);
  });
});
