import { type ChartSeries, lineChartSvg, logTicks } from './svg-chart.js';
import type { SweepRow, TtftSample } from './sweep.js';

const STYLE: Record<string, { color: string; dash?: string }> = {
  lru: { color: '#7f7f7f' },
  'lru-no-cpu': { color: '#bdbdbd', dash: '2 3' },
  cachesage: { color: '#1f77b4' },
  kvflow: { color: '#ff7f0e' },
  continuum: { color: '#2ca02c' },
  belady: { color: '#000000', dash: '6 3' },
};
const OTHER_COLORS = ['#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

function styleOf(policy: string, i: number): { color: string; dash?: string } {
  return STYLE[policy] ?? { color: OTHER_COLORS[i % OTHER_COLORS.length] as string };
}

/** Token hit rate against budget (log axis), one line per policy, for one concurrency. */
export function hitRateChart(rows: readonly SweepRow[], concurrency: number, workload: string): string {
  const mine = rows.filter((r) => r.concurrency === concurrency);
  const policies = [...new Set(mine.map((r) => r.policy))];
  const budgets = [...new Set(mine.map((r) => r.budgetBlocks))].sort((a, b) => a - b);
  const series: ChartSeries[] = policies.map((policy, i) => ({
    name: policy,
    ...styleOf(policy, i),
    markers: true,
    points: mine
      .filter((r) => r.policy === policy)
      .sort((a, b) => a.budgetBlocks - b.budgetBlocks)
      .map((r) => [r.budgetBlocks, r.tokenHitRate] as const),
  }));
  const yMax = Math.min(1, Math.ceil((Math.max(0.05, ...mine.map((r) => r.tokenHitRate)) + 0.02) * 10) / 10);
  const yTicks: number[] = [];
  for (let y = 0; y <= yMax + 1e-9; y += yMax > 0.5 ? 0.1 : 0.05) yTicks.push(Number(y.toFixed(2)));
  const xMin = (budgets[0] ?? 1) / 1.15;
  const xMax = (budgets[budgets.length - 1] ?? 1) * 1.15;
  return lineChartSvg({
    title: `${workload}: token hit rate vs budget, concurrency ${concurrency}`,
    xLabel: 'GPU cache budget (blocks of 16 tokens, log scale)',
    yLabel: 'token hit rate',
    series,
    xLog: true,
    xMin,
    xMax,
    yMin: 0,
    yMax,
    xTicks: budgets,
    yTicks,
    yFormat: (v) => `${Math.round(v * 100)} %`,
  });
}

/** Quantile points of sorted values for a step CDF (at most `maxPoints`). */
function cdfPoints(values: Float64Array, maxPoints: number): [number, number][] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return [];
  const step = Math.max(1, Math.floor(n / maxPoints));
  const pts: [number, number][] = [];
  for (let i = 0; i < n; i += step) pts.push([Math.max(sorted[i] as number, 1e-3), (i + 1) / n]);
  pts.push([Math.max(sorted[n - 1] as number, 1e-3), 1]);
  return pts;
}

/** CDF of time to first token (log axis), one line per policy, for one concurrency at one budget. */
export function ttftCdfChart(
  samples: readonly TtftSample[],
  concurrency: number,
  budgetBlocks: number,
  workload: string,
): string {
  const mine = samples.filter((s) => s.concurrency === concurrency && s.budgetBlocks === budgetBlocks);
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const s of mine) {
    for (const v of s.ttftMs) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!(hi > 0)) {
    lo = 1;
    hi = 10;
  }
  const xMin = Math.max(1e-3, lo / 1.2);
  const xMax = Math.max(xMin * 10, hi * 1.2);
  const series: ChartSeries[] = mine.map((s, i) => ({
    name: s.policy,
    ...styleOf(s.policy, i),
    step: true,
    points: cdfPoints(s.ttftMs, 400),
  }));
  return lineChartSvg({
    title: `${workload}: TTFT CDF, concurrency ${concurrency}, budget ${budgetBlocks} blocks`,
    xLabel: 'time to first token (ms, log scale)',
    yLabel: 'share of requests',
    series,
    xLog: true,
    xMin,
    xMax,
    yMin: 0,
    yMax: 1,
    xTicks: logTicks(xMin, xMax),
    yTicks: [0, 0.25, 0.5, 0.75, 1],
    yFormat: (v) => `${Math.round(v * 100)} %`,
  });
}
