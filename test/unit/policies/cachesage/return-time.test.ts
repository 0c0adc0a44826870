import { describe, expect, it } from 'vitest';
import {
  answerQuestions,
  createReturnTimeModel,
  FINISH_RUNNING,
  finishFeature,
  MAX_KEYS_PER_LEVEL,
  questionFeatures,
  type ReturnQuestion,
  RT_EXPERTS,
  returnTimeP,
} from '../../../../policies/cachesage/return-time.js';

const OPTS = { horizon: 2, smoothing: 2, mixRate: 0.05 };

function question(agent: number, rank = 1, finish = 2): ReturnQuestion {
  return { step: 1, agent, features: questionFeatures(rank, finish, 2, 3, 7, agent, 8, 1, 1), batch: 0, index: 0 };
}

function predict(m: ReturnType<typeof createReturnTimeModel>, q: ReturnQuestion): number[] {
  return Array.from(returnTimeP(m, q.features, OPTS, new Float64Array(OPTS.horizon + 2)));
}

describe('return-time features', () => {
  it('bins how a step ended: output size and tool call', () => {
    expect([finishFeature(3, false), finishFeature(3, true), finishFeature(40, false)]).toEqual([0, 1, 2]);
    expect([finishFeature(100, true), finishFeature(5000, false)]).toEqual([5, 6]);
    expect(FINISH_RUNNING).toBeGreaterThan(7);
  });

  it('caps the small features and packs the session counts', () => {
    expect(questionFeatures(9, 1, 12, 40, 3, 4, -1, 5, 1)).toEqual([5, 1, 6, 15, 3, 4, -1, 7]);
  });
});

describe('return-time model', () => {
  it('starts uniform and moves by hand-computed smoothing; nested levels with the same answers add nothing', () => {
    const m = createReturnTimeModel(OPTS.horizon);
    expect(predict(m, question(1))).toEqual([0.25, 0.25, 0.25, 0.25]);
    answerQuestions(m, [{ q: question(1), outcome: 1 }], OPTS);
    const p = predict(m, question(1));
    expect(p[1]).toBeCloseTo((1 + 2 * 0.25) / 3, 12);
    expect(p[0]).toBeCloseTo((2 * 0.25) / 3, 12);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('scores every expert on a batch before any count moves', () => {
    const m = createReturnTimeModel(OPTS.horizon);
    answerQuestions(
      m,
      [
        { q: question(1), outcome: 1 },
        { q: question(1), outcome: 1 },
      ],
      OPTS,
    );
    for (const loss of m.loss) expect(loss).toBeCloseTo(-2 * Math.log(0.25), 12);
    expect(m.answered).toBe(2);
  });

  it('lets names separate agents that name-free evidence cannot, and the mixture follows the better expert', () => {
    const m = createReturnTimeModel(OPTS.horizon);
    for (let i = 0; i < 60; i++) {
      answerQuestions(m, [{ q: question(1), outcome: 1 }], OPTS);
      answerQuestions(m, [{ q: question(2), outcome: 3 }], OPTS);
    }
    const [nameFree, withNames] = [m.loss[0] as number, Math.min(m.loss[1] as number, m.loss[2] as number)];
    expect(withNames).toBeLessThan(nameFree);
    expect(predict(m, question(1))[1]).toBeGreaterThan(0.85);
    expect(predict(m, question(2))[3]).toBeGreaterThan(0.85);
  });

  it('keeps at most MAX_KEYS_PER_LEVEL keys per level, dropping the least used eighth when full', () => {
    expect(MAX_KEYS_PER_LEVEL).toBe(224);
    const m = createReturnTimeModel(OPTS.horizon);
    for (let i = 0; i < 5; i++) answerQuestions(m, [{ q: question(0), outcome: 1 }], OPTS);
    for (let a = 1; a < 400; a++) answerQuestions(m, [{ q: question(a), outcome: 2 }], OPTS);
    const levels = RT_EXPERTS[1]?.length ?? 0;
    const deepest = m.tables[1]?.[levels - 1];
    expect(deepest?.size).toBeLessThanOrEqual(224);
    expect(deepest?.size).toBeGreaterThan(224 - 28);
    expect(deepest?.has([...(deepest?.keys() ?? [])][0] as number)).toBe(true);
    expect(predict(m, question(0))[1]).toBeGreaterThan(predict(m, question(399))[1] as number);
  });

  it('drops the least used keys first and, among equally used ones, the oldest', () => {
    const m = createReturnTimeModel(OPTS.horizon);
    for (let a = 0; a < MAX_KEYS_PER_LEVEL; a++) answerQuestions(m, [{ q: question(a), outcome: 2 }], OPTS);
    for (let i = 0; i < 2; i++) answerQuestions(m, [{ q: question(0), outcome: 2 }], OPTS);
    const levels = RT_EXPERTS[1]?.length ?? 0;
    const deepest = m.tables[1]?.[levels - 1] as Map<number, Float64Array>;
    const before = [...deepest.keys()];
    expect(before).toHaveLength(MAX_KEYS_PER_LEVEL);
    answerQuestions(m, [{ q: question(MAX_KEYS_PER_LEVEL), outcome: 2 }], OPTS);
    const after = [...deepest.keys()];
    // agent 0 (used 3 times) stays; of the 223 used once, the 28 oldest (agents 1..28) go; the new key comes last
    expect(after.slice(0, -1)).toEqual([before[0], ...before.slice(29)]);
    expect(after).toHaveLength(MAX_KEYS_PER_LEVEL - 28 + 1);
    expect(before).not.toContain(after[after.length - 1]);
  });

  it('halves a row whose count reaches the limit, keeping its proportions', () => {
    const m = createReturnTimeModel(OPTS.horizon);
    for (let i = 0; i < 900; i++) answerQuestions(m, [{ q: question(1), outcome: i % 3 === 0 ? 2 : 1 }], OPTS);
    const root = [...(m.tables[0]?.[0]?.values() ?? [])][0] as Float64Array;
    const total = root.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(700);
    expect((root[1] as number) / total).toBeCloseTo(2 / 3, 1);
  });
});
