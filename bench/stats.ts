/** A figure measured over several repetitions: the median with the range it came from. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** One value per repetition, in run order. */
  runs: number[];
}

/** Latency percentiles of one run, in ms. */
export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** The median (mean of the two middle values for an even count); NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = sortedCopy(values);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of sorted values by the nearest-rank method: the smallest value with at least
 * q · n values at or below it (q = 0 gives the minimum). NaN for no values.
 */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * n));
  return sorted[rank - 1] as number;
}

/** `percentileSorted` of unsorted values. */
export function percentile(values: readonly number[], q: number): number {
  return percentileSorted(sortedCopy(values), q);
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Median, min and max of one figure's repetitions (NaN runs, e.g. a run that measured nothing, are left out). */
export function spread(runs: readonly number[]): Spread {
  const valid = runs.filter((v) => !Number.isNaN(v));
  if (valid.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [...runs] };
  return { median: median(valid), min: Math.min(...valid), max: Math.max(...valid), runs: [...runs] };
}

/** p50, p99, max and mean of latency samples in ms (sorts a copy; a Float64Array is sorted numerically). */
export function latencySummary(samplesMs: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samplesMs).sort();
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] as number;
  return {
    count: n,
    p50Ms: percentileSorted(sorted, 0.5),
    p99Ms: percentileSorted(sorted, 0.99),
    maxMs: n === 0 ? Number.NaN : (sorted[n - 1] as number),
    meanMs: n === 0 ? Number.NaN : sum / n,
  };
}

/** Each field of several summaries as a spread across them (one summary per repetition). */
export function spreadOf<T extends object>(
  items: readonly T[],
  field: { [K in keyof T]: T[K] extends number ? K : never }[keyof T],
): Spread {
  return spread(items.map((i) => i[field] as unknown as number));
}
