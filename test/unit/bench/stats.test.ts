import { describe, expect, it } from 'vitest';
import { latencySummary, median, percentile, percentileSorted, spread } from '../../../bench/stats.js';
import { steadyRate } from '../../../bench/window.js';

describe('median', () => {
  it('takes the middle value of an odd count and the mean of the two middle values of an even count', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);

  it('gives the smallest value with at least q·n values at or below it', () => {
    expect(percentile(hundred, 0.5)).toBe(50);
    expect(percentile(hundred, 0.99)).toBe(99);
    expect(percentile(hundred, 1)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile([10, 20, 30], 0.5)).toBe(20);
    expect(percentile([10, 20, 30, 40], 0.9)).toBe(40);
  });

  it('reads typed arrays and rejects quantiles outside [0, 1]', () => {
    expect(percentileSorted(Float64Array.of(1, 2, 3, 4), 0.75)).toBe(3);
    expect(percentileSorted([], 0.5)).toBeNaN();
    expect(() => percentile([1], 1.5)).toThrow(RangeError);
  });
});

describe('spread and latency summaries', () => {
  it('reports median, min and max of repetitions, leaving out runs that measured nothing', () => {
    expect(spread([3, Number.NaN, 1, 2])).toEqual({ median: 2, min: 1, max: 3, runs: [3, Number.NaN, 1, 2] });
    expect(spread([Number.NaN]).median).toBeNaN();
  });

  it('summarizes latency samples numerically (not as strings)', () => {
    const samples = [9, 100, 1, 20, 3];
    const s = latencySummary(samples);
    expect(s).toEqual({ count: 5, p50Ms: 9, p99Ms: 100, maxMs: 100, meanMs: 26.6 });
  });
});

describe('steadyRate', () => {
  it('measures one process from the sample before its first progress to the sample where it finished', () => {
    const samples = [
      { t: 0, records: 0, joins: 1 },
      { t: 100, records: 0, joins: 1 },
      { t: 200, records: 50, joins: 1 },
      { t: 300, records: 150, joins: 1 },
      { t: 400, records: 200, joins: 1 },
      { t: 500, records: 200, joins: 1 },
    ];
    const r = steadyRate([samples]);
    expect(r.startT).toBe(100);
    expect(r.endT).toBe(400);
    expect(r.records).toBe(200);
    expect(r.perSecond).toBeCloseTo(200 / 0.3, 6);
  });

  it('opens after the last rebalance and closes when the first process ran out of work', () => {
    const a = [
      { t: 0, records: 0, joins: 1 },
      { t: 100, records: 100, joins: 1 },
      { t: 200, records: 100, joins: 2 },
      { t: 300, records: 150, joins: 2 },
      { t: 400, records: 200, joins: 2 },
      { t: 500, records: 250, joins: 2 },
      { t: 600, records: 250, joins: 2 },
    ];
    const b = [
      { t: 150, records: 0, joins: 1 },
      { t: 250, records: 0, joins: 1 },
      { t: 350, records: 40, joins: 1 },
      { t: 450, records: 80, joins: 1 },
      { t: 550, records: 80, joins: 1 },
    ];
    const r = steadyRate([a, b]);
    expect(r.startT).toBe(250);
    expect(r.endT).toBe(450);
    expect(r.records).toBe(200 - 100 + (80 - 0));
  });

  it('is NaN when a process never progressed', () => {
    expect(steadyRate([[{ t: 0, records: 0, joins: 1 }]]).perSecond).toBeNaN();
    expect(steadyRate([]).perSecond).toBeNaN();
  });
});
