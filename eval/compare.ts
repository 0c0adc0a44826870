import type { SweepRow } from './sweep.js';

/** Gaps (Belady − LRU, token hit rate) smaller than this leave `gapClosed` null: nothing to close. */
export const MIN_GAP = 0.0005;

/** Cells whose gap is at least this count in the "gap closed" summary (the 2 pp). */
export const SUMMARY_MIN_GAP = 0.02;

function cellKey(r: Pick<SweepRow, 'budgetBlocks' | 'concurrency'>): string {
  return `${r.concurrency}|${r.budgetBlocks}`;
}

/**
 * Fills each row's comparisons in place: Δ hit rate against LRU (pp), share of the LRU → Belady gap closed, and the
 * relative mean-TTFT change against LRU with the same tiers and against LRU without a CPU tier.
 */
export function compareRows(rows: SweepRow[]): void {
  const byPolicy = new Map<string, Map<string, SweepRow>>();
  for (const r of rows) {
    let m = byPolicy.get(r.policy);
    if (m === undefined) {
      m = new Map();
      byPolicy.set(r.policy, m);
    }
    m.set(cellKey(r), r);
  }
  for (const r of rows) {
    const key = cellKey(r);
    const lru = byPolicy.get('lru')?.get(key);
    const belady = byPolicy.get('belady')?.get(key);
    const noCpu = byPolicy.get('lru-no-cpu')?.get(key);
    if (lru !== undefined) {
      r.deltaVsLruPp = 100 * (r.tokenHitRate - lru.tokenHitRate);
      r.meanTtftChangeVsLru = lru.meanTtftMs > 0 ? r.meanTtftMs / lru.meanTtftMs - 1 : null;
      if (belady !== undefined) {
        const gap = belady.tokenHitRate - lru.tokenHitRate;
        r.gapClosed = gap >= MIN_GAP ? (r.tokenHitRate - lru.tokenHitRate) / gap : null;
      }
    }
    if (noCpu !== undefined)
      r.meanTtftChangeVsLruNoCpu = noCpu.meanTtftMs > 0 ? r.meanTtftMs / noCpu.meanTtftMs - 1 : null;
  }
}

/** How far below LRU's mean TTFT the all-cached floor lies (the most any policy can lower it), or null. */
export function boundVsLru(floorMs: number | null, lruMs: number | null): number | null {
  return floorMs === null || lruMs === null || lruMs <= 0 ? null : floorMs / lruMs - 1;
}

/** One policy's standing against LRU and Belady over a set of cells. */
export interface PolicySummary {
  policy: string;
  cells: number;
  meanDeltaPp: number;
  /** Worst and best Δ vs LRU over the cells (pp). */
  minDeltaPp: number;
  maxDeltaPp: number;
  /** Mean share of the gap closed over the cells where Belady − LRU ≥ 2 pp; null when there are none. */
  meanGapClosed: number | null;
  gapCells: number;
  meanTtftChangeVsLru: number | null;
}

/** Summaries per policy (every policy but LRU and Belady) over `rows`. */
export function summarize(rows: readonly SweepRow[]): PolicySummary[] {
  const lru = new Map<string, SweepRow>();
  const belady = new Map<string, SweepRow>();
  for (const r of rows) {
    if (r.policy === 'lru') lru.set(`${r.workload}|${cellKey(r)}`, r);
    if (r.policy === 'belady') belady.set(`${r.workload}|${cellKey(r)}`, r);
  }
  const out: PolicySummary[] = [];
  const names = [...new Set(rows.map((r) => r.policy))].filter((p) => p !== 'lru' && p !== 'belady');
  for (const policy of names) {
    const mine = rows.filter((r) => r.policy === policy && r.deltaVsLruPp !== null);
    if (mine.length === 0) continue;
    const deltas = mine.map((r) => r.deltaVsLruPp as number);
    const closed: number[] = [];
    const ttft: number[] = [];
    for (const r of mine) {
      const key = `${r.workload}|${cellKey(r)}`;
      const l = lru.get(key);
      const b = belady.get(key);
      if (
        l !== undefined &&
        b !== undefined &&
        b.tokenHitRate - l.tokenHitRate >= SUMMARY_MIN_GAP &&
        r.gapClosed !== null
      ) {
        closed.push(r.gapClosed);
      }
      if (r.meanTtftChangeVsLru !== null) ttft.push(r.meanTtftChangeVsLru);
    }
    out.push({
      policy,
      cells: mine.length,
      meanDeltaPp: mean(deltas) as number,
      minDeltaPp: Math.min(...deltas),
      maxDeltaPp: Math.max(...deltas),
      meanGapClosed: mean(closed),
      gapCells: closed.length,
      meanTtftChangeVsLru: mean(ttft),
    });
  }
  return out;
}

function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}
