import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../../../adapters/engine-sim/engine-sim.js';
import { buildRequestOrder } from '../../../adapters/engine-sim/request-order.js';
import { simulate } from '../../../adapters/engine-sim/simulate.js';
import { indexWorkload } from '../../../adapters/engine-sim/workload-index.js';
import { ConfigError } from '../../../core/errors.js';
import { randomWorkload, workloadOf } from './fixtures.js';

const pairs = (o: { sessionIndex: Uint32Array; turnIndex: Uint32Array }) =>
  Array.from(o.sessionIndex, (s, i) => `s${s}t${o.turnIndex[i]}`);

describe('request order', () => {
  it('round-robins C active sessions, replaces an ended one in its slot, skips non-LLM turns', () => {
    const w = workloadOf([
      [{ prompt: [0] }, { prompt: [0] }, { prompt: [0] }],
      [{ prompt: [1] }],
      [{ prompt: [2] }, { prompt: [2], llm: false }, { prompt: [2] }],
      [{ prompt: [3], llm: false }],
    ]);
    const order = buildRequestOrder(w, { concurrency: 2 });
    const e = order.engines[0]!;
    expect(pairs(e)).toEqual(['s0t0', 's1t0', 's0t1', 's2t0', 's0t2', 's2t2']);
    expect(Array.from(e.prevInSlot)).toEqual([-1, -1, 0, 1, 2, 3]);
    expect(Array.from(e.activeSessions)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(Array.from(order.sessionEngine)).toEqual([0, 0, 0, -1]);
    expect(order.totalRequests).toBe(6);

    const one = buildRequestOrder(w, { concurrency: 1 }).engines[0]!;
    expect(pairs(one)).toEqual(['s0t0', 's0t1', 's0t2', 's1t0', 's2t0', 's2t2']);
    expect(Array.from(one.prevInSlot)).toEqual([-1, 0, 1, 2, 3, 4]);
  });

  it('splits sessions across engines round-robin in file order', () => {
    const w = workloadOf([
      [{ prompt: [0] }],
      [{ prompt: [1] }],
      [{ prompt: [2], llm: false }],
      [{ prompt: [3] }],
      [{ prompt: [4] }],
    ]);
    const order = buildRequestOrder(w, { concurrency: 1, engines: 2 });
    expect(pairs(order.engines[0]!)).toEqual(['s0t0', 's3t0']);
    expect(pairs(order.engines[1]!)).toEqual(['s1t0', 's4t0']);
    expect(Array.from(order.sessionEngine)).toEqual([0, 1, -1, 0, 1]);
  });

  it('covers every LLM turn exactly once, in session order, with at most C active', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const w = randomWorkload({ seed, sessions: 15, agents: 4, maxTurns: 8, maxSystemBlocks: 2, maxMessageBlocks: 2 });
      for (const c of [1, 2, 5]) {
        for (const engines of [1, 3]) {
          const order = buildRequestOrder(w, { concurrency: c, engines });
          const seen = new Map<number, number[]>();
          for (const e of order.engines) {
            for (let i = 0; i < e.length; i++) {
              const s = e.sessionIndex[i]!;
              expect(order.sessionEngine[s]).toBe(e.engineIndex);
              expect(e.activeSessions[i]).toBeLessThanOrEqual(c);
              seen.set(s, [...(seen.get(s) ?? []), e.turnIndex[i]!]);
            }
          }
          w.sessions.forEach((s, i) => {
            expect(seen.get(i)).toEqual(s.turns.map((t) => t.turn));
          });
        }
      }
    }
  });

  it('is identical across evictors and budgets, and deterministic', () => {
    const w = randomWorkload({
      seed: 5,
      sessions: 12,
      agents: 3,
      maxTurns: 6,
      maxSystemBlocks: 3,
      maxMessageBlocks: 3,
    });
    const served = (evictor: 'lru' | 'belady', budgetBlocks: number) => {
      const records: RequestRecord[] = [];
      const result = simulate({
        workload: w,
        budgetBlocks,
        concurrency: 3,
        evictor,
        seed: 9,
        onRequestDone: (r) => records.push(r),
      });
      records.sort((a, b) => a.index - b.index);
      return { order: records.map((r) => `s${r.sessionIndex}t${r.turnIndex}`), result, records };
    };
    const expected = pairs(buildRequestOrder(w, { concurrency: 3 }).engines[0]!);
    const a = served('lru', 5);
    expect(a.order).toEqual(expected);
    expect(served('belady', 5).order).toEqual(expected);
    expect(served('lru', 50).order).toEqual(expected);
    const again = served('lru', 5);
    expect(Array.from(again.result.total.ttftMs)).toEqual(Array.from(a.result.total.ttftMs));
    expect(again.records).toEqual(a.records);
  });

  it('validates its options', () => {
    const w = workloadOf([[{ prompt: [0] }]]);
    expect(() => buildRequestOrder(w, { concurrency: 0 })).toThrow(ConfigError);
    expect(() => buildRequestOrder(w, { concurrency: 1, engines: 1.5 })).toThrow(ConfigError);
  });
});

describe('workload index', () => {
  it('maps hashes to block ids (-1 when unknown) and knows the block tree', () => {
    const w = workloadOf([[{ prompt: [0, 1, 2], output: [3] }], [{ prompt: [0, 4] }]], 6);
    w.hashes[5] = -(2n ** 63n);
    const index = indexWorkload(w);
    for (let id = 0; id < 6; id++) expect(index.idOfHash(w.hashes[id]!)).toBe(id);
    expect(index.idOfHash(12345n)).toBe(-1);
    expect(Array.from(index.parent)).toEqual([-1, 0, 1, 2, 0, -1]);
    expect(Array.from(index.depth)).toEqual([0, 1, 2, 3, 1, 0]);
    expect(() => indexWorkload(workloadOf([[{ prompt: [0, 1] }], [{ prompt: [2, 1] }]]))).toThrow(/two|parents/);
  });
});
