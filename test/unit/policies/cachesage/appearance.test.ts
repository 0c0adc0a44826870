import { describe, expect, it } from 'vitest';
import {
  appearanceRate,
  createAppearanceModel,
  MAX_APPEARING_AGENTS,
  observeAppearance,
} from '../../../../policies/cachesage/appearance.js';

describe('appearance model', () => {
  it('counts entries into sessions per request, with no decay at an infinite half-life', () => {
    const m = createAppearanceModel();
    expect(appearanceRate(m, 0)).toBe(0);
    for (let i = 0; i < 10; i++) observeAppearance(m, i % 2, i < 4, Number.POSITIVE_INFINITY);
    expect(appearanceRate(m, 0)).toBeCloseTo(2 / 10, 12);
    expect(appearanceRate(m, 1)).toBeCloseTo(2 / 10, 12);
    expect(appearanceRate(m, 7)).toBe(0);
  });

  it('weighs a request h requests old half as much as the latest, and stays exact across renormalization', () => {
    const h = 10;
    const m = createAppearanceModel();
    observeAppearance(m, 0, true, h);
    for (let i = 0; i < h; i++) observeAppearance(m, 1, false, h);
    const q = 2 ** (-1 / h);
    let requests = 0;
    for (let i = 0; i <= h; i++) requests += q ** i;
    expect(appearanceRate(m, 0)).toBeCloseTo(0.5 / requests, 12);
    const long = createAppearanceModel();
    for (let i = 0; i < 2000; i++) observeAppearance(long, 0, i % 4 === 0, 50);
    expect(long.scale).toBeLessThan(1e12);
    expect(appearanceRate(long, 0)).toBeGreaterThan(0.2);
    expect(appearanceRate(long, 0)).toBeLessThan(0.3);
  });

  it('counts at most MAX_APPEARING_AGENTS agents: a new one replaces the rarest', () => {
    const m = createAppearanceModel();
    for (let i = 0; i < 5; i++) observeAppearance(m, 0, true, Number.POSITIVE_INFINITY);
    for (let a = 1; a <= 2 * MAX_APPEARING_AGENTS; a++) observeAppearance(m, a, true, Number.POSITIVE_INFINITY);
    expect(m.counts.size).toBe(MAX_APPEARING_AGENTS);
    expect(appearanceRate(m, 0)).toBeCloseTo(5 / (5 + 2 * MAX_APPEARING_AGENTS), 12);
    expect(appearanceRate(m, 2 * MAX_APPEARING_AGENTS)).toBeGreaterThan(0);
    expect(appearanceRate(m, 1)).toBe(0);
  });
});
