import type { SweepRow } from '../../../eval/sweep.js';

/** A sweep row of 10 requests and 1000 prompt tokens with every comparison still empty; `given` overrides fields. */
export function sweepRow(given: Partial<SweepRow> & Pick<SweepRow, 'policy' | 'tokenHitRate'>): SweepRow {
  const meanTtftMs = given.meanTtftMs ?? 100;
  return {
    workload: 'w',
    budgetBlocks: 120,
    concurrency: 1,
    engines: 1,
    cpuTierBlocks: 0,
    requests: 10,
    promptTokens: 1000,
    gpuHitTokens: given.tokenHitRate * 1000,
    cpuHitRate: 0,
    meanTtftMs,
    p50TtftMs: meanTtftMs,
    p99TtftMs: meanTtftMs,
    throughputTokPerS: 1,
    prefetchPrecision: null,
    prefetchedBlocks: 0,
    nextAgentTop1: null,
    nextAgentPredictions: 0,
    modelStateBytes: null,
    evictions: 0,
    actsApplied: 0,
    actsRejected: 0,
    deltaVsLruPp: null,
    gapClosed: null,
    meanTtftChangeVsLru: null,
    meanTtftChangeVsLruNoCpu: null,
    allCachedMeanTtftMs: null,
    ...given,
  };
}
