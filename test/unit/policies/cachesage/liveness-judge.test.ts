import { describe, expect, it } from 'vitest';
import {
  answerLiveness,
  createLivenessModel,
  LATE_FROM,
  livenessKey,
  livenessP,
  livenessPrior,
  reviseLiveness,
} from '../../../../policies/cachesage/liveness.js';
import {
  answerBatch,
  createRankBatch,
  createRankJudge,
  judgePrefersChain,
} from '../../../../policies/cachesage/rank-judge.js';

describe('liveness', () => {
  it('asks only sessions about due, keyed by lateness and by a new session arriving instead', () => {
    expect(livenessKey(2, 4, true)).toBe(-1);
    expect(LATE_FROM).toBe(0.75);
    expect(livenessKey(3, 4, false)).toBe(0);
    expect(livenessKey(4, 4, false)).toBe(2);
    expect(livenessKey(4, 4, true)).toBe(3);
    expect(livenessKey(13, 4, true)).toBe(11);
  });

  it('starts from an overdue prior and follows the answers (prior weight one answer)', () => {
    const m = createLivenessModel();
    expect(livenessPrior(4, 4)).toBe(1);
    expect(livenessPrior(8, 4)).toBeCloseTo(Math.exp(-1), 12);
    const key = livenessKey(4, 4, true);
    expect(livenessP(m, key, 1)).toBe(1);
    answerLiveness(m, [key, key, key], false);
    expect(livenessP(m, key, 1)).toBeCloseTo(1 / 4, 12);
    reviseLiveness(m, [key]);
    expect(livenessP(m, key, 1)).toBeCloseTo(2 / 4, 12);
    expect(livenessP(m, -1, 0)).toBe(1);
  });
});

describe('rank judge', () => {
  it('scores each estimate by the pairs of agents it ordered as they came back, once a batch is complete', () => {
    const j = createRankJudge();
    // chain ranks agent 0 first, the mixture agent 2; agent 2 came back first, agent 1 never
    const b = createRankBatch([0.5, 0.1, 0.3], [0.2, 0.1, 0.6]);
    expect(answerBatch(j, b, 2, 1)).toBe(false);
    expect(answerBatch(j, b, 0, 3)).toBe(false);
    expect(Array.from(j.pairs)).toEqual([0, 0]);
    expect(answerBatch(j, b, 1, 0)).toBe(true);
    // pairs (2 before 0), (2 before 1), (0 before 1): chain gets 2 of 3, the mixture 3 of 3
    expect(Array.from(j.points)).toEqual([2, 3]);
    expect(Array.from(j.pairs)).toEqual([3, 3]);
  });

  it('prefers the chain only when it ranked better over enough pairs; ties count half', () => {
    const j = createRankJudge();
    const good = (): void => {
      const b = createRankBatch([0.9, 0.1], [0.1, 0.1]);
      answerBatch(j, b, 0, 1);
      answerBatch(j, b, 1, 0);
    };
    good();
    expect(Array.from(j.points)).toEqual([1, 0.5]);
    expect(judgePrefersChain(j)).toBe(false);
    for (let i = 0; i < 60; i++) good();
    expect(judgePrefersChain(j)).toBe(true);
  });
});
