import { describe, expect, it } from 'vitest';
import { resolveCacheSageOptions } from '../../../../policies/cachesage/options.js';
import type { EngineState } from '../../../../policies/cachesage/state.js';
import {
  anchorValue,
  combineEnd,
  contextValues,
  discountOf,
  dueIn,
  firstPassage,
  type NextStep,
  OTHER,
  rankScore,
  returnDistributions,
  stayTable,
} from '../../../../policies/cachesage/survival.js';
import { CacheSageDriver } from './driver.js';

describe('survival values', () => {
  it('combines END evidence as odds around the base rate', () => {
    expect(combineEnd(0.1, 0.3, 0.1)).toBeCloseTo(0.3, 12);
    expect(combineEnd(0.3, 0.1, 0.1)).toBeCloseTo(0.3, 12);
    const odds = (p: number): number => p / (1 - p);
    const p = combineEnd(0.4, 0.5, 0.2);
    expect(odds(p)).toBeCloseTo((odds(0.4) * odds(0.5)) / odds(0.2), 9);
  });

  it('values an anchor as E[γ^T] for a geometric wait at its use rate', () => {
    const rate = 0.2;
    const gamma = 0.9;
    let direct = 0;
    for (let t = 1; t < 2000; t++) direct += (1 - rate) ** (t - 1) * rate * gamma ** t;
    expect(anchorValue(rate, gamma)).toBeCloseTo(direct, 9);
    expect(anchorValue(0, gamma)).toBe(0);
  });

  it('discounts by the cache lifetime in requests (resident blocks / blocks stored per request)', () => {
    const e = { resident: new Set([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]), storedPerRequest: 2 } as unknown as EngineState;
    expect(discountOf(e)).toBeCloseTo(Math.exp(-1 / 4), 12);
    expect(discountOf(e, 2)).toBeCloseTo(Math.exp(-1 / 8), 12);
  });

  it('first passage follows the chain to a target, one step at a time', () => {
    const endName = Float64Array.of(0.1, 0.1, 0.1);
    const hazards = Float64Array.of(0.1, 0.1, 0.1);
    const step: NextStep = {
      states: [10, 11, OTHER],
      first: Float64Array.of(0, 1, 0),
      firstEnd: 0,
      matrix: Float64Array.of(0, 1, 0, 0.5, 0, 0.5, 0, 0, 1),
      endName,
      hazards,
      baseEnd: 0.1,
      stay: stayTable(endName, hazards, 0.1),
    };
    const toX = firstPassage(step, 0, 3, new Float64Array(3));
    // step 1 is 11; from 11 half go to 10 (END odds unchanged: 0.1 + 0.1 − 0.1 → 0.1)
    expect(toX[0]).toBe(0);
    expect(toX[1]).toBeCloseTo(0.9 * 0.5, 9);
    expect(toX[2]).toBeCloseTo(0, 9);
    const toY = firstPassage(step, 1, 3, new Float64Array(3));
    expect(toY[0]).toBe(1);
    expect(Array.from(toY.slice(1))).toEqual([0, 0]);
  });

  it('values contexts higher when their session is due sooner, and scales them by liveness', () => {
    const d = new CacheSageDriver();
    for (let i = 0; i < 10; i++) for (const a of ['A', 'B', 'A', 'B']) d.step(`t${i}`, a);
    d.step('x', 'A');
    d.step('y', 'A');
    const e = d.state.engines.get('e1') as EngineState;
    const w = d.state.workloads.get('w1');
    const sx = d.state.sessions.get('x');
    if (w === undefined || sx === undefined) throw new Error('no session');
    const o = resolveCacheSageOptions();
    const a = w.model.index.get('A') as number;
    sx.alive = 1;
    const now = contextValues(w, e, sx, o).get(a) as number;
    expect(dueIn(e, sx)).toBeGreaterThanOrEqual(1);
    sx.interval += 5;
    const later = contextValues(w, e, sx, o).get(a) as number;
    expect(later).toBeLessThan(now);
    sx.alive = 0.5;
    expect(contextValues(w, e, sx, o).get(a) as number).toBeCloseTo(later * 0.5, 12);
    const dists = returnDistributions(w, sx, o);
    expect(dists.get(a)?.length).toBeGreaterThanOrEqual(o.horizonSteps);
    expect(rankScore(Float64Array.of(1, 0))).toBe(0.5);
  });
});
