import { buildRequestOrder, type RequestOrder } from '../adapters/engine-sim/request-order.js';
import type { SimResult } from '../adapters/engine-sim/result.js';
import { indexWorkload, type WorkloadIndex } from '../adapters/engine-sim/workload-index.js';
import { ConfigError } from '../core/errors.js';
import { cacheSageModelBytesPerWorkload } from '../policies/cachesage/cachesage-policy.js';
import type { CacheSageState } from '../policies/cachesage/state.js';
import { createPolicy } from '../policies/index.js';
import type { Policy } from '../policies/policy.js';
import type { PreparedWorkload } from '../workloads/types.js';
import { compareRows } from './compare.js';
import { runCell } from './run-cell.js';

/** The clairvoyant bound: the simulator's Belady evictor, not a Policy. */
export const BELADY = 'belady';
/** LRU on the engine without a CPU tier (the unmodified engine), run beside a CPU-tier sweep. */
export const LRU_NO_CPU = 'lru-no-cpu';

/** One cell's numbers (one policy, budget and concurrency on one workload). Deterministic for a given seed. */
export interface SweepRow {
  workload: string;
  /** Lower-case id: a registered policy, `belady`, or `lru-no-cpu`. */
  policy: string;
  budgetBlocks: number;
  concurrency: number;
  engines: number;
  cpuTierBlocks: number;
  requests: number;
  promptTokens: number;
  /** Prompt tokens found in GPU at arrival. */
  gpuHitTokens: number;
  /** Prompt tokens found in GPU at arrival / prompt tokens (0..1). */
  tokenHitRate: number;
  /** Prompt tokens reloaded from the CPU tier / prompt tokens (0..1). */
  cpuHitRate: number;
  meanTtftMs: number;
  p50TtftMs: number;
  p99TtftMs: number;
  /** Output tokens per second of makespan. */
  throughputTokPerS: number;
  /** Prefetched blocks a request hit / prefetched blocks; null when nothing was prefetched. */
  prefetchPrecision: number | null;
  prefetchedBlocks: number;
  /** Next-agent top-1 accuracy of the policy's predictions; null for policies that predict nothing. */
  nextAgentTop1: number | null;
  nextAgentPredictions: number;
  /** Serialized model state of the workload (bytes); null when the policy keeps no model. */
  modelStateBytes: number | null;
  evictions: number;
  actsApplied: number;
  actsRejected: number;
  /** Token hit rate minus LRU's in the same cell, percentage points. */
  deltaVsLruPp: number | null;
  /** Share of the LRU → Belady hit-rate gap closed (null when the gap is under 0.05 pp). */
  gapClosed: number | null;
  /** Relative change of mean TTFT against LRU with the same tiers (−0.2: 20 % lower). */
  meanTtftChangeVsLru: number | null;
  /** Relative change of mean TTFT against LRU without a CPU tier (only when the sweep has a CPU tier). */
  meanTtftChangeVsLruNoCpu: number | null;
  /**
   * Mean TTFT of the same request order with every block kept in GPU (nothing ever evicted): the floor no policy on
   * any tiers can go below, so how far a CPU-tier cell can be lowered at all. Only when the sweep has a CPU tier.
   */
  allCachedMeanTtftMs: number | null;
}

/** Wall-clock cost of one cell (not deterministic; kept apart from the rows). */
export interface CellTiming {
  policy: string;
  budgetBlocks: number;
  concurrency: number;
  wallMs: number;
  /** Events that went through the runtime (0 for Belady). */
  events: number;
  /** Wall time per runtime event (µs): simulator + runtime + policy. */
  usPerEvent: number | null;
}

/** Time to first token of every request of one cell, kept for the TTFT CDF. */
export interface TtftSample {
  policy: string;
  budgetBlocks: number;
  concurrency: number;
  ttftMs: Float64Array;
}

/** What the policy-options callback learns about the cell it configures. */
export interface CellContext {
  budgetBlocks: number;
  concurrency: number;
  /** Requests in the fixed order of the cell (for warm-up fractions). */
  totalRequests: number;
}

export interface SweepProgress {
  done: number;
  total: number;
  policy: string;
  budgetBlocks: number;
  concurrency: number;
  row: SweepRow;
  wallMs: number;
}

export interface SweepOptions {
  workload: PreparedWorkload;
  /** Built once per workload when absent. */
  index?: WorkloadIndex;
  /** Registered policy names and/or `belady`, in report order. */
  policies: readonly string[];
  budgets: readonly number[];
  concurrencies: readonly number[];
  engines: number;
  /** CPU-tier blocks per engine (0: none). With a tier and `lru` listed, `lru-no-cpu` runs too. */
  cpuTierBlocks: number;
  actDelayMs: number;
  seed: number;
  /** Options handed to the registry when creating a policy for a cell. */
  policyOptions?: (policy: string, cell: CellContext) => unknown;
  /** Keep TTFT samples of this budget (for the CDF); none when absent. */
  cdfBudgetBlocks?: number;
  onCellDone?: (progress: SweepProgress) => void;
}

export interface SweepResult {
  workload: string;
  rows: SweepRow[];
  ttft: TtftSample[];
  timings: CellTiming[];
}

/** Cells a sweep will run (for progress bars). */
export function sweepCellCount(
  o: Pick<SweepOptions, 'policies' | 'budgets' | 'concurrencies' | 'cpuTierBlocks'>,
): number {
  const extra = o.cpuTierBlocks > 0 && o.policies.includes('lru') ? 1 : 0;
  return (o.policies.length + extra) * o.budgets.length * o.concurrencies.length;
}

/**
 * Runs every (policy × budget × concurrency) cell of a workload through `runCell`: the index is built once, the
 * request order once per concurrency, and every cell of a concurrency shares that order (DESIGN §10). Rows come
 * out by concurrency, then policy, then budget, with the comparisons against LRU and Belady filled in.
 */
export function runSweep(o: SweepOptions): SweepResult {
  validateSweep(o);
  const index = o.index ?? indexWorkload(o.workload);
  const policies = [...o.policies];
  if (o.cpuTierBlocks > 0 && policies.includes('lru')) policies.splice(policies.indexOf('lru') + 1, 0, LRU_NO_CPU);
  const total = sweepCellCount(o);
  const rows: SweepRow[] = [];
  const ttft: TtftSample[] = [];
  const timings: CellTiming[] = [];
  let done = 0;
  for (const concurrency of o.concurrencies) {
    const order = buildRequestOrder(o.workload, { concurrency, engines: o.engines });
    const firstRow = rows.length;
    for (const name of policies) {
      for (const budgetBlocks of o.budgets) {
        const cell: CellContext = { budgetBlocks, concurrency, totalRequests: order.totalRequests };
        const policy = instantiate(name, cell, o);
        const cpuTierBlocks = name === LRU_NO_CPU ? 0 : o.cpuTierBlocks;
        const outcome = runCell({
          workload: o.workload,
          index,
          order,
          policy,
          budgetBlocks,
          concurrency,
          engines: o.engines,
          cpuTierBlocks,
          actDelayMs: o.actDelayMs,
          seed: o.seed,
        });
        const row = rowOf(o.workload, name, policy, outcome.sim, outcome.policyState, {
          budgetBlocks,
          concurrency,
          engines: o.engines,
          cpuTierBlocks,
        });
        rows.push(row);
        timings.push({
          policy: name,
          budgetBlocks,
          concurrency,
          wallMs: outcome.wallMs,
          events: outcome.events,
          usPerEvent: outcome.events > 0 ? (outcome.wallMs * 1000) / outcome.events : null,
        });
        if (budgetBlocks === o.cdfBudgetBlocks) {
          ttft.push({ policy: name, budgetBlocks, concurrency, ttftMs: outcome.sim.total.ttftMs });
        }
        done++;
        o.onCellDone?.({ done, total, policy: name, budgetBlocks, concurrency, row, wallMs: outcome.wallMs });
      }
    }
    if (o.cpuTierBlocks > 0) {
      const floor = allCachedMeanTtftMs(o, index, order, concurrency);
      for (let i = firstRow; i < rows.length; i++) (rows[i] as SweepRow).allCachedMeanTtftMs = floor;
    }
  }
  compareRows(rows);
  return { workload: o.workload.workloadId, rows, ttft, timings };
}

/** Mean TTFT of the order on engines that never evict (a GPU budget of every block of the workload). */
function allCachedMeanTtftMs(o: SweepOptions, index: WorkloadIndex, order: RequestOrder, concurrency: number): number {
  const outcome = runCell({
    workload: o.workload,
    index,
    order,
    policy: createPolicy('lru'),
    budgetBlocks: Math.max(1, index.blockCount),
    concurrency,
    engines: o.engines,
    cpuTierBlocks: 0,
    actDelayMs: o.actDelayMs,
    seed: o.seed,
  });
  return outcome.sim.total.meanTtftMs;
}

function validateSweep(o: SweepOptions): void {
  const nonEmpty = (name: string, list: readonly unknown[]): void => {
    if (list.length === 0) throw new ConfigError(`sweep: no ${name}`);
    if (new Set(list).size !== list.length) throw new ConfigError(`sweep: ${name} listed twice`);
  };
  nonEmpty('policies', o.policies);
  nonEmpty('budgets', o.budgets);
  nonEmpty('concurrencies', o.concurrencies);
  if (o.policies.includes(LRU_NO_CPU)) throw new ConfigError(`sweep: ${LRU_NO_CPU} is added by the sweep itself`);
  for (const b of o.budgets) {
    if (!Number.isInteger(b) || b < 1) throw new ConfigError(`sweep: budgets must be integers ≥ 1, got ${b}`);
  }
  if (!Number.isInteger(o.cpuTierBlocks) || o.cpuTierBlocks < 0) {
    throw new ConfigError(`sweep: cpuTierBlocks must be an integer ≥ 0, got ${o.cpuTierBlocks}`);
  }
}

function instantiate(name: string, cell: CellContext, o: SweepOptions): Policy | 'belady' {
  if (name === BELADY) return 'belady';
  const registered = name === LRU_NO_CPU ? 'lru' : name;
  return createPolicy(registered, o.policyOptions?.(registered, cell));
}

interface Stats {
  predictions: number;
  top1Correct: number;
}

function statsOf(state: unknown): Stats | null {
  const stats = (state as { stats?: Partial<Stats> } | null)?.stats;
  if (stats === undefined || typeof stats.predictions !== 'number' || typeof stats.top1Correct !== 'number') {
    return null;
  }
  return { predictions: stats.predictions, top1Correct: stats.top1Correct };
}

function modelBytesOf(workloadId: string, policy: Policy | 'belady', state: unknown): number | null {
  if (policy === 'belady' || state === null) return null;
  if (policy.name === 'cachesage') return cacheSageModelBytesPerWorkload(state as CacheSageState)[workloadId] ?? 0;
  return policy.stateBytes ? policy.stateBytes(state) : null;
}

function rowOf(
  workload: PreparedWorkload,
  name: string,
  policy: Policy | 'belady',
  sim: SimResult,
  state: unknown,
  cell: { budgetBlocks: number; concurrency: number; engines: number; cpuTierBlocks: number },
): SweepRow {
  const t = sim.total;
  const stats = statsOf(state);
  let applied = 0;
  let rejected = 0;
  for (const v of Object.values(t.acts.applied)) applied += v;
  for (const v of Object.values(t.acts.rejected)) rejected += v;
  return {
    workload: workload.workloadId,
    policy: name,
    ...cell,
    requests: t.requests,
    promptTokens: t.promptTokens,
    gpuHitTokens: t.gpuHitTokens,
    tokenHitRate: t.tokenHitRate,
    cpuHitRate: t.cpuHitRate,
    meanTtftMs: t.meanTtftMs,
    p50TtftMs: t.p50TtftMs,
    p99TtftMs: t.p99TtftMs,
    throughputTokPerS: t.throughputTokPerS,
    prefetchPrecision: t.prefetch.blocksLoaded > 0 ? t.prefetch.precision : null,
    prefetchedBlocks: t.prefetch.blocksLoaded,
    nextAgentTop1: stats !== null && stats.predictions > 0 ? stats.top1Correct / stats.predictions : null,
    nextAgentPredictions: stats?.predictions ?? 0,
    modelStateBytes: modelBytesOf(workload.workloadId, policy, state),
    evictions: t.evictions,
    actsApplied: applied,
    actsRejected: rejected,
    deltaVsLruPp: null,
    gapClosed: null,
    meanTtftChangeVsLru: null,
    meanTtftChangeVsLruNoCpu: null,
    allCachedMeanTtftMs: null,
  };
}
