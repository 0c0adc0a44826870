/**
 * How long an engine's prefill of one request takes (ms), learned from the engine's own events so that a prefetch for
 * the request queued behind it can be sized to finish before that request's cache step. Whenever a request's cache
 * step follows the previous one while it was already waiting, the time between the two steps is exactly the
 * previous request's prefill (reload of its CPU-tier blocks, fixed overhead and compute). Features of a request
 * (taken at its arrival): 1, blocks to compute c, c² (attention grows with the prompt) and blocks to reload from the
 * CPU tier r. The fit is least squares with exponential forgetting (recent samples weigh more) and a small ridge;
 * the state is the running sums of its normal equations.
 */
export interface PrefillModel {
  /** Weighted sums: XᵀX (4×4, row-major), then Xᵀy (4), then the weight of all samples. */
  sums: Float64Array;
  /** Samples observed. */
  samples: number;
}

const K = 4;
/** Weight kept by earlier samples at each new one. */
const FORGET = 0.995;
/** Ridge added to the diagonal but the intercept (in units of sample weight), so a fit exists from the first samples. */
const RIDGE = 1e-6;
/** Samples before the fit is used. */
export const MIN_PREFILL_SAMPLES = 8;
/** Block counts are scaled to keep the normal equations well conditioned. */
const SCALE = 1 / 256;

export function createPrefillModel(): PrefillModel {
  return { sums: new Float64Array(K * K + K + 1), samples: 0 };
}

function features(compute: number, reload: number): number[] {
  const c = compute * SCALE;
  return [1, c, c * c, reload * SCALE];
}

/** One observed prefill (ms) of a request with `compute` blocks to compute and `reload` to reload. */
export function observePrefill(m: PrefillModel, compute: number, reload: number, ms: number): void {
  const x = features(compute, reload);
  const s = m.sums;
  for (let i = 0; i < s.length; i++) s[i] = (s[i] as number) * FORGET;
  for (let i = 0; i < K; i++) {
    const xi = x[i] as number;
    for (let j = 0; j < K; j++) s[i * K + j] = (s[i * K + j] as number) + xi * (x[j] as number);
    s[K * K + i] = (s[K * K + i] as number) + xi * ms;
  }
  s[K * K + K] = (s[K * K + K] as number) + 1;
  m.samples++;
}

/** Predicted prefill (ms) of a request, or 0 while fewer than MIN_PREFILL_SAMPLES samples are in. */
export function predictPrefill(m: PrefillModel, compute: number, reload: number): number {
  if (m.samples < MIN_PREFILL_SAMPLES) return 0;
  const n = m.sums[K * K + K] as number;
  const a: number[][] = [];
  for (let i = 0; i < K; i++) {
    const row: number[] = [];
    for (let j = 0; j < K; j++) row.push((m.sums[i * K + j] as number) + (i === j && i > 0 ? RIDGE * n : 0));
    row.push(m.sums[K * K + i] as number);
    a.push(row);
  }
  const beta = solve(a);
  if (beta === null) return 0;
  const x = features(compute, reload);
  let y = 0;
  for (let i = 0; i < K; i++) y += (beta[i] as number) * (x[i] as number);
  return Math.max(0, y);
}

/** Gaussian elimination with partial pivoting on an augmented K×(K+1) matrix; null when singular. */
function solve(a: number[][]): number[] | null {
  const n = a.length;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs((a[r] as number[])[col] as number) > Math.abs((a[pivot] as number[])[col] as number)) pivot = r;
    }
    const pr = a[pivot] as number[];
    if (Math.abs(pr[col] as number) < 1e-12) return null;
    [a[col], a[pivot]] = [pr, a[col] as number[]];
    const rowC = a[col] as number[];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const row = a[r] as number[];
      const f = (row[col] as number) / (rowC[col] as number);
      if (f === 0) continue;
      for (let c = col; c <= n; c++) row[c] = (row[c] as number) - f * (rowC[c] as number);
    }
  }
  return a.map((row, i) => (row[n] as number) / (row[i] as number));
}
