import { describe, expect, it } from 'vitest';
import {
  decodeMsPerToken,
  firstTokenMs,
  gapMsFromNormal,
  KV_BYTES_PER_BLOCK,
  KV_BYTES_PER_TOKEN,
  prefillFlops,
  prefillMs,
  reloadMs,
} from '../../../adapters/engine-sim/cost-model.js';
import type { RequestRecord } from '../../../adapters/engine-sim/engine-sim.js';
import { standardNormal } from '../../../adapters/engine-sim/seeded-random.js';
import { simulate } from '../../../adapters/engine-sim/simulate.js';
import { workloadOf } from './fixtures.js';

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('cost model (H100 SXM, Llama-3.1-8B bf16)', () => {
  it('KV size: 128 KiB per token, 2 MiB per block', () => {
    expect(KV_BYTES_PER_TOKEN).toBe(131_072);
    expect(KV_BYTES_PER_BLOCK).toBe(2 * 1024 * 1024);
  });

  it('prefill follows 13.96e9·S + 262144·(S² + 2·S·H) FLOPs at 50 % of 989 TFLOP/s', () => {
    // S=1000, H=0: 13.96e12 + 2.62144e11 = 1.4222144e13 FLOP; / 4.945e14 FLOP/s = 28.7607 ms.
    expect(prefillFlops(1000, 0)).toBeCloseTo(1.4222144e13, 0);
    expect(prefillMs(1000, 0)).toBeCloseTo(28.760655, 5);
    // S=500, H=6000: 6.98e12 + 262144·6.25e6 = 8.6184e12 FLOP = 17.4285 ms; + 12 ms overhead = 29.4285 ms.
    expect(prefillFlops(500, 6000)).toBeCloseTo(8.6184e12, 0);
    expect(prefillMs(500, 6000)).toBeCloseTo(17.428514, 5);
    expect(firstTokenMs(500, 6000)).toBeCloseTo(29.428514, 5);
  });

  it('decode: 6.5 ms/token at batch 1, 11 at 16, linear between', () => {
    expect(decodeMsPerToken(1)).toBe(6.5);
    expect(decodeMsPerToken(16)).toBe(11);
    expect(decodeMsPerToken(4)).toBeCloseTo(7.4, 12);
    expect(decodeMsPerToken(0)).toBe(6.5);
  });

  it('reload: 2 MiB per block at 50 GB/s', () => {
    expect(reloadMs(1)).toBeCloseTo(0.04194304, 10);
    expect(reloadMs(500)).toBeCloseTo(20.97152, 8);
  });

  it('gaps are lognormal around 300 ms, 2 s after a tool call', () => {
    expect(gapMsFromNormal(0, false)).toBe(300);
    expect(gapMsFromNormal(0, true)).toBe(2000);
    expect(gapMsFromNormal(1, false)).toBeCloseTo(300 * Math.exp(0.5), 9);
    expect(gapMsFromNormal(10, true)).toBeCloseTo(2000 * Math.exp(3), 9);
    const draws = Array.from({ length: 2001 }, (_, i) => gapMsFromNormal(standardNormal(7, i, 0), false)).sort(
      (a, b) => a - b,
    );
    expect(draws[1000]).toBeGreaterThan(270);
    expect(draws[1000]).toBeLessThan(330);
  });
});

describe('engine timing', () => {
  it('TTFT = overhead + prefill of the uncached tokens; decode; next step after the seeded gap', () => {
    // Request 1: 375 blocks (6000 tokens) + 5 tokens, a miss. Request 2 (same session, a tool call between):
    // the same 375 blocks + 31 more (6496) + 4 tokens = 6500 tokens, 6000 of them cached: S=500, H=6000.
    const shared = range(0, 375);
    const w = workloadOf([
      [
        { prompt: shared, promptTokens: 6005, outputTokens: 10, toolCall: 'run' },
        { prompt: [...shared, ...range(375, 31)], promptTokens: 6500, outputTokens: 20 },
      ],
    ]);
    const records: RequestRecord[] = [];
    const r = simulate({
      workload: w,
      budgetBlocks: 1000,
      concurrency: 1,
      evictor: 'lru',
      seed: 11,
      onRequestDone: (x) => records.push(x),
    });
    const [a, b] = records;
    expect(a?.arrivalMs).toBe(0);
    expect(a?.ttftMs).toBeCloseTo(12 + prefillMs(6005, 0), 9);
    expect(a!.finishMs - a!.firstTokenMs).toBeCloseTo(10 * 6.5, 9);
    expect(b!.arrivalMs - a!.finishMs).toBeCloseTo(gapMsFromNormal(standardNormal(11, 0, 0), true), 9);
    expect(b?.gpuHitTokens).toBe(6000);
    expect(b?.ttftMs).toBeCloseTo(29.428514, 5);
    expect(r.total.meanTtftMs).toBeCloseTo((a!.ttftMs + b!.ttftMs) / 2, 9);
    expect(r.total.makespanMs).toBeCloseTo(b!.finishMs, 9);
    expect(r.total.throughputTokPerS).toBeCloseTo(30 / (b!.finishMs / 1000), 9);
  });

  it('prefill is serialized on the GPU, decode batches up to the concurrency, CPU hits add reload time', () => {
    const w = workloadOf([
      [{ prompt: range(0, 62), promptTokens: 1000, outputTokens: 4 }],
      [{ prompt: range(100, 62), promptTokens: 1000, outputTokens: 4 }],
    ]);
    const records: RequestRecord[] = [];
    simulate({
      workload: w,
      budgetBlocks: 0,
      concurrency: 2,
      evictor: 'lru',
      seed: 1,
      onRequestDone: (x) => records.push(x),
    });
    records.sort((x, y) => x.index - y.index);
    const one = 12 + prefillMs(1000, 0);
    expect(records.map((x) => x.arrivalMs)).toEqual([0, 0]);
    expect(records[0]?.ttftMs).toBeCloseTo(one, 9);
    expect(records[1]?.ttftMs).toBeCloseTo(2 * one, 9);
    expect(records[1]!.finishMs - records[1]!.firstTokenMs).toBeCloseTo(4 * decodeMsPerToken(2), 9);

    const cpu = workloadOf([[{ prompt: range(0, 10) }], [{ prompt: range(100, 10) }], [{ prompt: range(0, 10) }]]);
    const rc: RequestRecord[] = [];
    simulate({
      workload: cpu,
      budgetBlocks: 10,
      cpuTierBlocks: 100,
      concurrency: 1,
      evictor: 'lru',
      seed: 1,
      onRequestDone: (x) => rc.push(x),
    });
    const third = rc.find((x) => x.index === 2)!;
    expect(third.cpuHitTokens).toBe(160);
    expect(third.ttftMs).toBeCloseTo(reloadMs(10) + 12 + prefillMs(5, 160), 9);
  });
});
