import type { SweepRow } from './sweep.js';

const NUMERIC = /^(?:[-+]?\d[\d.]*|–)$/;

/**
 * A markdown table with columns padded to equal width (readable on a terminal and rendered as markdown); columns
 * whose cells are all numbers are right-aligned.
 */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length), 3));
  const right = header.map((_, i) => rows.length > 0 && rows.every((r) => NUMERIC.test(r[i] ?? '')));
  const pad = (text: string, i: number): string =>
    right[i] ? text.padStart(widths[i] as number) : text.padEnd(widths[i] as number);
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => pad(c, i)).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** `v.toFixed(digits)` without a minus sign on a value that rounds to zero. */
function toFixed(v: number, digits: number): string {
  const text = v.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

export function pct(v: number | null, digits = 1): string {
  return v === null || !Number.isFinite(v) ? '–' : toFixed(100 * v, digits);
}

export function signed(v: number | null, digits = 1): string {
  if (v === null || !Number.isFinite(v)) return '–';
  const text = toFixed(v, digits);
  return v > 0 && Number(text) !== 0 ? `+${text}` : text;
}

export function signedPct(v: number | null, digits = 1): string {
  return v === null ? '–' : signed(100 * v, digits);
}

export function fixed(v: number | null, digits = 1): string {
  return v === null || !Number.isFinite(v) ? '–' : toFixed(v, digits);
}

/** Rows of one concurrency in table order: by budget, then in the sweep's policy order. */
export function rowsInTableOrder(rows: readonly SweepRow[], concurrency: number): SweepRow[] {
  const policies = [...new Set(rows.map((r) => r.policy))];
  return rows
    .filter((r) => r.concurrency === concurrency)
    .sort((a, b) => a.budgetBlocks - b.budgetBlocks || policies.indexOf(a.policy) - policies.indexOf(b.policy));
}

/**
 * The results table of one concurrency (policy × budget): token hit rate with its Δ against LRU and the share of
 * the LRU → Belady gap closed, CPU hit rate, TTFT (mean with its change against LRU, p50, p99), throughput,
 * prefetch precision and next-agent top-1.
 */
export function resultsTable(rows: readonly SweepRow[], concurrency: number): string {
  const mine = rowsInTableOrder(rows, concurrency);
  const withCpu = mine.some((r) => r.meanTtftChangeVsLruNoCpu !== null);
  const header = [
    'budget',
    'policy',
    'hit %',
    'Δ LRU pp',
    'gap closed %',
    'CPU hit %',
    'mean TTFT ms',
    'Δ TTFT %',
    ...(withCpu ? ['Δ TTFT vs no-CPU %'] : []),
    'p50 TTFT ms',
    'p99 TTFT ms',
    'tok/s',
    'prefetch prec %',
    'next-agent top-1 %',
  ];
  const body = mine.map((r) => [
    String(r.budgetBlocks),
    r.policy,
    pct(r.tokenHitRate),
    signed(r.deltaVsLruPp),
    pct(r.gapClosed, 0),
    pct(r.cpuHitRate),
    fixed(r.meanTtftMs),
    signedPct(r.meanTtftChangeVsLru),
    ...(withCpu ? [signedPct(r.meanTtftChangeVsLruNoCpu)] : []),
    fixed(r.p50TtftMs),
    fixed(r.p99TtftMs),
    fixed(r.throughputTokPerS, 0),
    pct(r.prefetchPrecision),
    pct(r.nextAgentTop1),
  ]);
  return markdownTable(header, body);
}
