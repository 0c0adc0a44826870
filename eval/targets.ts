import { boundVsLru, SUMMARY_MIN_GAP, summarize } from './compare.js';
import { pct, signed } from './format-table.js';
import type { SweepRow } from './sweep.js';

/** The evaluation's targets for CacheSage (GPU-only hit rates unless said otherwise). */
export const TARGETS = {
  /** CacheSage never below LRU by more than this, in any cell of any workload (pp). */
  worstDeltaPp: -1,
  /** Share of the LRU → Belady gap closed over the cells of every shared workload together. */
  gapClosedAllShared: 0.75,
  /** The same share on each shared workload. */
  gapClosedEach: 0.35,
  /** Δ against LRU in the best budget (pp) ... */
  bestDeltaPp: 10,
  /** ... reached on at least this many shared workloads. */
  bestDeltaWorkloads: 2,
  /** Relative mean-TTFT change against LRU on the same tiers (CPU tier, prefetch on). */
  ttftChangeVsLru: -0.2,
  /** Serialized model state per workload of up to `modelAgents` agents (bytes). */
  modelBytes: 25 * 1024,
  modelAgents: 32,
} as const;

/** One workload's rows as the targets read them. */
export interface TargetInput {
  name: string;
  /** A shared real log (not synthetic). */
  shared: boolean;
  /** Agents of the workload (the model-state target applies up to `TARGETS.modelAgents`). */
  agents: number;
  gpuRows: readonly SweepRow[];
  /** Rows of the CPU-tier sweep, empty when there was none. */
  cpuRows: readonly SweepRow[];
}

export interface TargetStatus {
  target: string;
  measured: string;
  /** 'yes', 'no', or a qualified answer where the target is met in some cells only. */
  met: string;
}

const POLICY = 'cachesage';

function pp(x: number): string {
  return `${signed(x)} pp`;
}

function percent(x: number): string {
  return `${pct(x)} %`;
}

function cellName(r: SweepRow): string {
  return `C${r.concurrency} B${r.budgetBlocks}`;
}

/** The item with the largest key, null for none. */
function maxBy<T>(items: readonly T[], key: (t: T) => number): T | null {
  let best: T | null = null;
  for (const t of items) if (best === null || key(t) > key(best)) best = t;
  return best;
}

function sameCell(rows: readonly SweepRow[], policy: string, r: SweepRow): SweepRow | undefined {
  return rows.find((x) => x.policy === policy && x.concurrency === r.concurrency && x.budgetBlocks === r.budgetBlocks);
}

function worstDelta(inputs: readonly TargetInput[]): TargetStatus {
  let worst: { name: string; row: SweepRow } | null = null;
  for (const i of inputs) {
    for (const r of i.gpuRows) {
      if (r.policy !== POLICY || r.deltaVsLruPp === null) continue;
      if (worst === null || r.deltaVsLruPp < (worst.row.deltaVsLruPp as number)) worst = { name: i.name, row: r };
    }
  }
  const target = `CacheSage ≥ LRU ${TARGETS.worstDeltaPp} pp in every cell of every workload`;
  if (worst === null) return { target, measured: 'no cells', met: 'no' };
  const d = worst.row.deltaVsLruPp as number;
  return {
    target,
    measured: `worst ${pp(d)} (${worst.name} ${cellName(worst.row)}), ${inputs.length} workloads`,
    met: d >= TARGETS.worstDeltaPp ? 'yes' : 'no',
  };
}

function gapClosed(inputs: readonly TargetInput[]): TargetStatus[] {
  const shared = inputs.filter((i) => i.shared);
  const closedOf = (rows: readonly SweepRow[]) => summarize(rows).find((s) => s.policy === POLICY);
  const all = closedOf(shared.flatMap((i) => i.gpuRows));
  const each = shared.map((i) => ({ name: i.name, s: closedOf(i.gpuRows) }));
  const allValue = all?.meanGapClosed ?? null;
  const eachValues = each.filter((e) => e.s?.meanGapClosed != null);
  const lowest = maxBy(eachValues, (e) => -(e.s?.meanGapClosed as number));
  const best = each.map((e) => ({ name: e.name, best: e.s?.maxDeltaPp ?? Number.NEGATIVE_INFINITY }));
  const reaching = best.filter((b) => b.best >= TARGETS.bestDeltaPp);
  const gapCells = `cells with Belady − LRU ≥ ${100 * SUMMARY_MIN_GAP} pp`;
  return [
    {
      target: `≥ ${100 * TARGETS.gapClosedAllShared} % of the LRU → Belady gap, all shared logs together (${gapCells})`,
      measured: allValue === null ? 'no such cells' : `${percent(allValue)} over ${all?.gapCells} cells`,
      met: allValue !== null && allValue >= TARGETS.gapClosedAllShared ? 'yes' : 'no',
    },
    {
      target: `≥ ${100 * TARGETS.gapClosedEach} % of the gap on each shared log`,
      measured:
        lowest === null
          ? 'no such cells'
          : `lowest ${percent(lowest.s?.meanGapClosed as number)} (${lowest.name}); ` +
            eachValues.map((e) => `${e.name} ${percent(e.s?.meanGapClosed as number)}`).join(', '),
      met:
        lowest !== null &&
        eachValues.length === shared.length &&
        (lowest.s?.meanGapClosed as number) >= TARGETS.gapClosedEach
          ? 'yes'
          : 'no',
    },
    {
      target: `≥ ${pp(TARGETS.bestDeltaPp)} over LRU in the best budget of ≥ ${TARGETS.bestDeltaWorkloads} shared logs`,
      measured: best.map((b) => `${b.name} ${Number.isFinite(b.best) ? pp(b.best) : '–'}`).join(', '),
      met: reaching.length >= TARGETS.bestDeltaWorkloads ? 'yes' : 'no',
    },
  ];
}

/**
 * Mean TTFT with a CPU tier against LRU on the same tiers. A cell can only reach the target where the same request
 * order on an engine that never evicts (the every-block-cached floor) lies at least that far below LRU, so the
 * answer counts the cells that reach it among those where the floor allows it.
 */
function ttft(inputs: readonly TargetInput[]): TargetStatus {
  const target = `CPU tier: CacheSage's mean TTFT ≥ ${-100 * TARGETS.ttftChangeVsLru} % below LRU on the same tiers`;
  let cells = 0;
  let reachable = 0;
  let reached = 0;
  let reachedWhereReachable = 0;
  let best: { name: string; row: SweepRow } | null = null;
  const reachedBy = new Map<string, number>();
  for (const i of inputs) {
    for (const r of i.cpuRows) {
      if (r.policy !== POLICY || r.meanTtftChangeVsLru === null) continue;
      cells++;
      const lru = sameCell(i.cpuRows, 'lru', r);
      const floor = boundVsLru(r.allCachedMeanTtftMs, lru?.meanTtftMs ?? null);
      const canReach = floor !== null && floor <= TARGETS.ttftChangeVsLru;
      const meets = r.meanTtftChangeVsLru <= TARGETS.ttftChangeVsLru;
      if (canReach) reachable++;
      if (meets) {
        reached++;
        reachedBy.set(i.name, (reachedBy.get(i.name) ?? 0) + 1);
        if (canReach) reachedWhereReachable++;
      }
      if (best === null || r.meanTtftChangeVsLru < (best.row.meanTtftChangeVsLru as number))
        best = { name: i.name, row: r };
    }
  }
  if (best === null) return { target, measured: 'no CPU-tier runs', met: 'no' };
  const where = [...reachedBy].map(([name, n]) => `${name} ${n}`).join(', ');
  return {
    target,
    measured:
      `best ${percent(best.row.meanTtftChangeVsLru as number)} (${best.name} ${cellName(best.row)}); ` +
      `reached in ${reached} of ${cells} cells${where ? ` (${where})` : ''}; the every-block-cached floor allows it ` +
      `in ${reachable}`,
    met:
      reached === 0
        ? 'no'
        : reachedWhereReachable === reachable
          ? 'yes'
          : `in ${reachedWhereReachable} of ${reachable} reachable cells`,
  };
}

function modelState(inputs: readonly TargetInput[]): TargetStatus {
  const sizes = inputs.map((i) => ({
    name: i.name,
    agents: i.agents,
    bytes: Math.max(0, ...i.gpuRows.filter((r) => r.policy === POLICY).map((r) => r.modelStateBytes ?? 0)),
  }));
  const bounded = sizes.filter((s) => s.agents <= TARGETS.modelAgents);
  const largest = maxBy(sizes, (s) => s.bytes);
  const largestBounded = maxBy(bounded, (s) => s.bytes);
  const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
  return {
    target: `CacheSage model state ≤ ${TARGETS.modelBytes / 1024} KiB per workload of up to ${TARGETS.modelAgents} agents`,
    measured:
      largestBounded === null
        ? 'no workload of that size'
        : `largest ${kib(largestBounded.bytes)} (${largestBounded.name}, ${largestBounded.agents} agents); ` +
          `largest of all ${kib(largest?.bytes ?? 0)} (${largest?.name}, ${largest?.agents} agents)`,
    met: largestBounded !== null && largestBounded.bytes <= TARGETS.modelBytes ? 'yes' : 'no',
  };
}

/** Cells where an online policy's hit rate is above Belady's (a violation is a bug in the simulator or the bound). */
function beladyBound(inputs: readonly TargetInput[]): TargetStatus {
  let cells = 0;
  const above: string[] = [];
  for (const i of inputs) {
    for (const b of i.gpuRows) {
      if (b.policy !== 'belady') continue;
      cells++;
      for (const r of i.gpuRows) {
        const online = r.policy !== 'belady' && r.policy !== 'lru-no-cpu';
        if (online && r.concurrency === b.concurrency && r.budgetBlocks === b.budgetBlocks) {
          if (r.tokenHitRate > b.tokenHitRate + 1e-12) above.push(`${i.name} ${cellName(r)} ${r.policy}`);
        }
      }
    }
  }
  return {
    target: 'Belady ≥ every online policy in every cell',
    measured: above.length === 0 ? `${cells} cells, none above Belady` : `above Belady: ${above.join(', ')}`,
    met: cells > 0 && above.length === 0 ? 'yes' : 'no',
  };
}

/** Every target against the measured rows, in the order of the evaluation's criteria. */
export function evaluateTargets(inputs: readonly TargetInput[]): TargetStatus[] {
  return [worstDelta(inputs), ...gapClosed(inputs), ttft(inputs), beladyBound(inputs), modelState(inputs)];
}
