import { describe, expect, it } from 'vitest';
import {
  agentIndex,
  createTransitionModel,
  END,
  firstOrderP,
  lengthHazard,
  MAX_FIRST_ROWS,
  MAX_PAIR_ROWS,
  MAX_RANK_ROWS,
  marginalP,
  observeLength,
  observeRank,
  observeTransition,
  ROW_HALVING_AT,
  rankP,
  secondOrderP,
} from '../../../../policies/cachesage/transition-model.js';

/** A model over agents a, b, c fed the transitions of `sessions` (each a list of agent names, END after the last). */
function fed(sessions: string[][]) {
  const m = createTransitionModel();
  for (const name of ['a', 'b', 'c']) agentIndex(m, name);
  for (const s of sessions) {
    let prev: number | null = null;
    for (let i = 0; i < s.length; i++) {
      const cur = agentIndex(m, s[i] as string);
      const next = i + 1 < s.length ? agentIndex(m, s[i + 1] as string) : END;
      observeTransition(m, prev, cur, next);
      prev = cur;
    }
    observeLength(m, s.length);
  }
  return m;
}

describe('transition model', () => {
  it('interns agents in first-seen order', () => {
    const m = createTransitionModel();
    expect([agentIndex(m, 'x'), agentIndex(m, 'y'), agentIndex(m, 'x')]).toEqual([0, 1, 0]);
    expect(m.agents).toEqual(['x', 'y']);
  });

  it('smooths first-order rows towards the Laplace marginal (hand-computed)', () => {
    const m = fed([
      ['a', 'b', 'a'],
      ['a', 'b', 'c'],
    ]);
    const a = 0;
    const b = 1;
    const c = 2;
    // next-step marginal counts: b 2, a 1, c 1, END 2 (total 6) over 3 agents + END
    expect(marginalP(m, b)).toBeCloseTo(3 / 10, 12);
    expect(marginalP(m, END)).toBeCloseTo(3 / 10, 12);
    // after a: b twice, END once; prior weight 2
    expect(firstOrderP(m, a, b)).toBeCloseTo((2 + 2 * 0.3) / (3 + 2), 12);
    expect(firstOrderP(m, a, END)).toBeCloseTo((1 + 2 * 0.3) / (3 + 2), 12);
    // after b: a once, c once
    expect(firstOrderP(m, b, c)).toBeCloseTo((1 + 2 * (2 / 10)) / (2 + 2), 12);
    // a caller's prior replaces the marginal
    expect(firstOrderP(m, b, c, 0.5)).toBeCloseTo((1 + 2 * 0.5) / (2 + 2), 12);
  });

  it('backs second order off to first order, and sharpens it with its own counts', () => {
    const m = fed([
      ['a', 'b', 'a'],
      ['c', 'b', 'c'],
      ['c', 'b', 'c'],
    ]);
    const [a, b, c] = [0, 1, 2];
    const p1 = firstOrderP(m, b, c);
    expect(secondOrderP(m, null, b, c)).toBe(p1);
    expect(secondOrderP(m, c, a, c)).toBe(firstOrderP(m, a, c));
    expect(secondOrderP(m, c, b, c)).toBeCloseTo((2 + 2 * p1) / (2 + 2), 12);
    expect(secondOrderP(m, a, b, c)).toBeLessThan(p1);
  });

  it('turns session lengths into an end hazard that rises where sessions stop', () => {
    const m = fed(Array.from({ length: 20 }, () => ['a', 'b', 'a', 'b']));
    expect(lengthHazard(m, 4)).toBeGreaterThan(0.85);
    expect(lengthHazard(m, 2)).toBeLessThan(0.1);
  });

  it('counts next speakers by recency rank, conditioned on agents seen and the last agent', () => {
    const m = createTransitionModel();
    for (let i = 0; i < 30; i++) observeRank(m, 0, 2, 1);
    observeRank(m, 1, 2, 0);
    expect(rankP(m, 1, 0, 2)).toBeGreaterThan(0.9);
    expect(rankP(m, 1, 1, 2)).toBeLessThan(rankP(m, 1, 0, 2));
    expect(rankP(m, null)).toBeLessThan(0.1);
  });

  it('tells sessions where the last speaker also made the step before (a streak), by hand-computed smoothing', () => {
    const m = createTransitionModel();
    for (let i = 0; i < 6; i++) observeRank(m, 0, 2, 0, true);
    for (let i = 0; i < 6; i++) observeRank(m, 0, 2, 1, false);
    const all = (6 + 1) / (12 + 9);
    const bySeen = (6 + 2 * all) / (12 + 2);
    expect(rankP(m, 0, undefined, 2)).toBeCloseTo(bySeen, 12);
    expect(rankP(m, 0, undefined, 2, 2, true)).toBeCloseTo((6 + 2 * bySeen) / (6 + 2), 12);
    expect(rankP(m, 0, undefined, 2, 2, false)).toBeCloseTo((0 + 2 * bySeen) / (6 + 2), 12);
  });

  it('halves a full row and keeps at most MAX_PAIR_ROWS second-order rows however many agents there are', () => {
    const m = createTransitionModel();
    const a = agentIndex(m, 'a');
    const b = agentIndex(m, 'b');
    for (let i = 0; i < ROW_HALVING_AT; i++) observeTransition(m, null, a, b);
    expect(m.firstTotals.get(a)).toBe(ROW_HALVING_AT / 2);
    expect(firstOrderP(m, a, b)).toBeGreaterThan(0.99);
    for (let i = 0; i < 200; i++) agentIndex(m, `x${i}`);
    for (let h = 0; h < 150; h++) observeTransition(m, h, a, b);
    expect(m.second.size).toBe(MAX_PAIR_ROWS);
    expect(m.second.has(149 * (1 << 20) + a)).toBe(true);
  });

  it('keeps at most MAX_FIRST_ROWS first-order and MAX_RANK_ROWS rank rows, dropping the least used', () => {
    const m = createTransitionModel();
    const busy = agentIndex(m, 'busy');
    const next = agentIndex(m, 'next');
    for (let i = 0; i < 20; i++) {
      observeTransition(m, null, busy, next);
      observeRank(m, busy, 2, 1);
    }
    for (let i = 0; i < 300; i++) {
      const x = agentIndex(m, `x${i}`);
      observeTransition(m, null, x, next);
      observeRank(m, x, 2, 1);
    }
    expect(m.first.size).toBe(MAX_FIRST_ROWS);
    expect(m.ranksAfter.size).toBe(MAX_RANK_ROWS);
    expect(firstOrderP(m, busy, next)).toBeGreaterThan(0.8);
    expect(m.first.has(agentIndex(m, 'x299'))).toBe(true);
    expect(m.first.has(agentIndex(m, 'x0'))).toBe(false);
    // a dropped agent falls back to the prior
    expect(firstOrderP(m, agentIndex(m, 'x0'), next, 0.25)).toBeCloseTo(0.25, 12);
  });
});
