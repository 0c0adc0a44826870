import type { HookCounters } from '../hooks/engine-hooks.js';

/** What prefetch acts did on one engine. */
export interface PrefetchStats {
  /** Prefetch acts applied. */
  issued: number;
  /** Blocks scheduled for reload from the CPU tier (within the act's deadline). */
  blocksRequested: number;
  /** Blocks a prefetch made resident in GPU. */
  blocksLoaded: number;
  /** Prefetched blocks that a request hit in GPU before they were evicted. */
  blocksUsed: number;
  /** blocksUsed / blocksLoaded; 0 when nothing was loaded. */
  precision: number;
}

/** Statistics of one engine, or of all engines together (`engineId` '*'). */
export interface EngineResult {
  engineId: string;
  requests: number;
  promptTokens: number;
  outputTokens: number;
  /** Prompt tokens found in GPU at arrival (after any prefetch completed in time). */
  gpuHitTokens: number;
  /** Prompt tokens reloaded from the CPU tier. */
  cpuHitTokens: number;
  /** gpuHitTokens / promptTokens. */
  tokenHitRate: number;
  /** cpuHitTokens / promptTokens. */
  cpuHitRate: number;
  /** Time to first token of every request (ms), in request order (engine by engine for the total). */
  ttftMs: Float64Array;
  meanTtftMs: number;
  /** Nearest-rank percentiles. */
  p50TtftMs: number;
  p99TtftMs: number;
  /** From the start of the simulation to the last finish (ms). */
  makespanMs: number;
  /** Output tokens per second of makespan. */
  throughputTokPerS: number;
  /** Prompt tokens per second of makespan. */
  promptTokPerS: number;
  /** Blocks evicted from GPU. */
  evictions: number;
  /** Blocks dropped from the CPU tier. */
  cpuEvictions: number;
  prefetch: PrefetchStats;
  acts: HookCounters;
  /** Eviction entries that extended a registration this engine did not hold (see `EvictionEntry.fromBlock`). */
  hintEntriesSkipped: number;
}

export interface SimResult {
  engines: EngineResult[];
  total: EngineResult;
}

/** Nearest-rank percentile (0 < q ≤ 1) of sorted values; 0 for none. */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const rank = Math.min(n, Math.max(1, Math.ceil(q * n)));
  return sorted[rank - 1] as number;
}

/** Mean, p50 and p99 of TTFTs. */
export function ttftSummary(ttftMs: Float64Array): { meanTtftMs: number; p50TtftMs: number; p99TtftMs: number } {
  if (ttftMs.length === 0) return { meanTtftMs: 0, p50TtftMs: 0, p99TtftMs: 0 };
  let sum = 0;
  for (const v of ttftMs) sum += v;
  const sorted = Float64Array.from(ttftMs).sort();
  return {
    meanTtftMs: sum / ttftMs.length,
    p50TtftMs: percentileSorted(sorted, 0.5),
    p99TtftMs: percentileSorted(sorted, 0.99),
  };
}

export function emptyHookCounters(): HookCounters {
  return {
    applied: { evict: 0, prefetch: 0, pin: 0 },
    rejected: { foreign: 0, 'stale-ttl': 0, 'stale-seq': 0, malformed: 0 },
  };
}

/** Sums engine results into the total (`engineId` '*', makespan = the longest engine's). */
export function totalOf(engines: readonly EngineResult[]): EngineResult {
  const acts = emptyHookCounters();
  let requests = 0;
  let promptTokens = 0;
  let outputTokens = 0;
  let gpuHitTokens = 0;
  let cpuHitTokens = 0;
  let makespanMs = 0;
  let evictions = 0;
  let cpuEvictions = 0;
  let hintEntriesSkipped = 0;
  const prefetch: PrefetchStats = { issued: 0, blocksRequested: 0, blocksLoaded: 0, blocksUsed: 0, precision: 0 };
  let n = 0;
  for (const e of engines) n += e.ttftMs.length;
  const ttftMs = new Float64Array(n);
  let at = 0;
  for (const e of engines) {
    requests += e.requests;
    promptTokens += e.promptTokens;
    outputTokens += e.outputTokens;
    gpuHitTokens += e.gpuHitTokens;
    cpuHitTokens += e.cpuHitTokens;
    makespanMs = Math.max(makespanMs, e.makespanMs);
    evictions += e.evictions;
    cpuEvictions += e.cpuEvictions;
    hintEntriesSkipped += e.hintEntriesSkipped;
    prefetch.issued += e.prefetch.issued;
    prefetch.blocksRequested += e.prefetch.blocksRequested;
    prefetch.blocksLoaded += e.prefetch.blocksLoaded;
    prefetch.blocksUsed += e.prefetch.blocksUsed;
    for (const k of Object.keys(acts.applied) as (keyof HookCounters['applied'])[])
      acts.applied[k] += e.acts.applied[k];
    for (const k of Object.keys(acts.rejected) as (keyof HookCounters['rejected'])[]) {
      acts.rejected[k] += e.acts.rejected[k];
    }
    ttftMs.set(e.ttftMs, at);
    at += e.ttftMs.length;
  }
  prefetch.precision = prefetch.blocksLoaded > 0 ? prefetch.blocksUsed / prefetch.blocksLoaded : 0;
  return {
    engineId: '*',
    requests,
    promptTokens,
    outputTokens,
    gpuHitTokens,
    cpuHitTokens,
    tokenHitRate: promptTokens > 0 ? gpuHitTokens / promptTokens : 0,
    cpuHitRate: promptTokens > 0 ? cpuHitTokens / promptTokens : 0,
    ttftMs,
    ...ttftSummary(ttftMs),
    makespanMs,
    throughputTokPerS: makespanMs > 0 ? outputTokens / (makespanMs / 1000) : 0,
    promptTokPerS: makespanMs > 0 ? promptTokens / (makespanMs / 1000) : 0,
    evictions,
    cpuEvictions,
    prefetch,
    acts,
    hintEntriesSkipped,
  };
}
