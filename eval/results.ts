import { boundVsLru, SUMMARY_MIN_GAP, summarize } from './compare.js';
import { fixed, markdownTable, pct, signed, signedPct } from './format-table.js';
import type { SimulateOutcome } from './simulate-run.js';
import type { SweepRow } from './sweep.js';
import { evaluateTargets } from './targets.js';

/** One workload's runs for the results page: GPU only (every policy) and with a CPU tier. */
export interface WorkloadRuns {
  /** Display name (file stem or synthetic spec). */
  name: string;
  /** A shared real log (counts in the "all shared workloads" summary), not a synthetic one. */
  shared: boolean;
  gpu: SimulateOutcome;
  gpuCommand: string;
  cpu: SimulateOutcome | null;
  cpuCommand: string | null;
}

export interface ResultsPageOptions {
  generatedAt: string;
  /** The command that regenerates the page. */
  command: string;
  cpuTierBlocks: number;
  policies: readonly string[];
}

const NAMES: Record<string, string> = {
  lru: 'LRU',
  cachesage: 'CacheSage',
  kvflow: 'KVFlow-like',
  continuum: 'Continuum-like',
  belady: 'Belady',
  'lru-no-cpu': 'LRU without CPU tier',
};

function label(policy: string): string {
  return NAMES[policy] ?? policy;
}

function standingTable(runs: readonly WorkloadRuns[]): string {
  const lines: string[][] = [];
  const add = (scope: string, rows: readonly SweepRow[]): void => {
    for (const s of summarize(rows)) {
      lines.push([
        scope,
        label(s.policy),
        signed(s.meanDeltaPp),
        signed(s.minDeltaPp),
        signed(s.maxDeltaPp),
        s.meanGapClosed === null ? '–' : pct(s.meanGapClosed, 0),
        String(s.gapCells),
      ]);
    }
  };
  for (const r of runs) add(r.name, r.gpu.result.rows);
  const shared = runs.filter((r) => r.shared).flatMap((r) => r.gpu.result.rows);
  if (shared.length > 0) add('all shared logs', shared);
  return markdownTable(
    [
      'workload',
      'policy',
      'mean Δ LRU pp',
      'worst Δ pp',
      'best Δ pp',
      'gap closed %',
      `cells with gap ≥ ${100 * SUMMARY_MIN_GAP} pp`,
    ],
    lines,
  );
}

function cellTable(rows: readonly SweepRow[], policies: readonly string[]): string {
  const cells = [...new Set(rows.map((r) => `${r.concurrency}|${r.budgetBlocks}`))];
  const find = (policy: string, key: string): SweepRow | undefined =>
    rows.find((r) => r.policy === policy && `${r.concurrency}|${r.budgetBlocks}` === key);
  const body = cells.map((key) => {
    const [c, b] = key.split('|');
    const cellsOf = policies.map((p) => {
      const r = find(p, key);
      if (r === undefined) return '–';
      if (p === 'lru' || p === 'belady') return pct(r.tokenHitRate);
      return `${pct(r.tokenHitRate)} (${signed(r.deltaVsLruPp)}, ${pct(r.gapClosed, 0)} %)`;
    });
    return [c as string, b as string, ...cellsOf];
  });
  return markdownTable(['C', 'budget', ...policies.map((p) => `${label(p)} hit %`)], body);
}

function cpuTable(runs: readonly WorkloadRuns[]): string {
  const lines: string[][] = [];
  for (const run of runs) {
    const rows = run.cpu?.result.rows ?? [];
    for (const cs of rows.filter((r) => r.policy === 'cachesage')) {
      const same = (p: string) =>
        rows.find((r) => r.policy === p && r.concurrency === cs.concurrency && r.budgetBlocks === cs.budgetBlocks);
      lines.push([
        run.name,
        String(cs.concurrency),
        String(cs.budgetBlocks),
        fixed(same('lru-no-cpu')?.meanTtftMs ?? null),
        fixed(same('lru')?.meanTtftMs ?? null),
        fixed(cs.meanTtftMs),
        signedPct(cs.meanTtftChangeVsLru),
        signedPct(cs.meanTtftChangeVsLruNoCpu),
        fixed(cs.allCachedMeanTtftMs),
        signedPct(boundVsLru(cs.allCachedMeanTtftMs, same('lru')?.meanTtftMs ?? null)),
        pct(cs.cpuHitRate),
        pct(cs.prefetchPrecision),
      ]);
    }
  }
  return markdownTable(
    [
      'workload',
      'C',
      'budget',
      'LRU, no CPU tier: mean TTFT ms',
      'LRU, CPU tier',
      'CacheSage, CPU tier',
      'vs LRU same tiers %',
      'vs LRU without CPU tier %',
      'every block cached: mean TTFT ms',
      'its change vs LRU same tiers %',
      'CacheSage CPU hit %',
      'prefetch precision %',
    ],
    lines,
  );
}

function modelTable(runs: readonly WorkloadRuns[]): string {
  const top1 = (rows: readonly SweepRow[], policy: string): string => {
    const byC = new Map<number, number[]>();
    for (const r of rows) {
      if (r.policy !== policy || r.nextAgentTop1 === null) continue;
      byC.set(r.concurrency, [...(byC.get(r.concurrency) ?? []), r.nextAgentTop1]);
    }
    const parts = [...byC].map(([c, v]) => `${pct(v.reduce((a, b) => a + b, 0) / v.length)} (C=${c})`);
    return parts.length > 0 ? parts.join(', ') : '–';
  };
  return markdownTable(
    [
      'workload',
      'agents',
      'CacheSage next-agent top-1 %',
      'KVFlow-like top-1 %',
      'offline Markov top-1 %',
      'CacheSage model bytes',
    ],
    runs.map((run) => {
      const rows = run.gpu.result.rows;
      const bytes = rows
        .filter((r) => r.policy === 'cachesage' && r.modelStateBytes !== null)
        .map((r) => r.modelStateBytes as number);
      const st = run.gpu.workload.stats;
      return [
        run.name,
        String(st.agents),
        top1(rows, 'cachesage'),
        top1(rows, 'kvflow'),
        pct(st.nextAgentTop1),
        bytes.length > 0 ? String(Math.max(...bytes)) : '–',
      ];
    }),
  );
}

function targetsTable(runs: readonly WorkloadRuns[]): string {
  const statuses = evaluateTargets(
    runs.map((r) => ({
      name: r.name,
      shared: r.shared,
      agents: r.gpu.workload.stats.agents,
      gpuRows: r.gpu.result.rows,
      cpuRows: r.cpu?.result.rows ?? [],
    })),
  );
  return markdownTable(
    ['target', 'measured', 'met'],
    statuses.map((t) => [t.target, t.measured, t.met]),
  );
}

function workloadsTable(runs: readonly WorkloadRuns[]): string {
  return markdownTable(
    ['workload', 'sessions', 'LLM calls', 'agents', 'prompt tokens', 'load s', 'sweep s'],
    runs.map((r) => {
      const st = r.gpu.workload.stats;
      const sweepMs = r.gpu.result.timings.reduce((a, t) => a + t.wallMs, 0);
      return [
        r.name,
        String(st.sessions),
        String(st.llmTurns),
        String(st.agents),
        String(st.promptTokens),
        fixed(st.loadMs / 1000),
        fixed(sweepMs / 1000),
      ];
    }),
  );
}

/** The markdown of the results page (what the README's Results section holds). */
export function resultsMarkdown(runs: readonly WorkloadRuns[], o: ResultsPageOptions): string {
  const online = o.policies.filter((p) => p !== 'lru' && p !== 'belady');
  const out: string[] = [
    `Generated by \`${o.command}\` on ${o.generatedAt.slice(0, 10)}. One simulated engine (H100, Llama-3.1-8B ` +
      'cost model), budgets of 120–2000 blocks of 16 tokens, concurrency 1 and 4, seed 1; token hit rates are for ' +
      'the GPU-only setting. "gap closed" is the share of the LRU → Belady hit-rate gap a policy closes, averaged ' +
      `over the cells where that gap is at least ${100 * SUMMARY_MIN_GAP} pp.`,
    '',
    '#### Targets',
    '',
    "The evaluation's targets for CacheSage against the runs below (`eval/targets.ts` computes every line from " +
      'the rows). A CPU-tier cell can reach the TTFT target only where the same request order on an engine that ' +
      'never evicts (every block cached) lies at least that far below LRU on the same tiers: the TTFT line counts ' +
      'the cells that reach it among those.',
    '',
    targetsTable(runs),
    '',
    '#### Workloads',
    '',
    workloadsTable(runs),
    '',
    '#### Against LRU and Belady',
    '',
    standingTable(runs),
    '',
    '#### Token hit rate per cell',
    '',
    'Each online policy as hit % (Δ against LRU in pp, share of the LRU → Belady gap closed).',
    '',
  ];
  for (const run of runs)
    out.push(`**${run.name}**`, '', cellTable(run.gpu.result.rows, ['lru', ...online, 'belady']), '');
  if (runs.some((r) => r.cpu !== null)) {
    out.push(
      `#### Mean TTFT with a CPU tier of ${o.cpuTierBlocks} blocks`,
      '',
      'CacheSage (eviction hints in both tiers and between-step prefetch) against LRU with the same GPU budget and ' +
        'CPU tier, and against LRU without a CPU tier (the unmodified engine). "Every block cached" runs the same ' +
        'request order on an engine that never evicts: no policy on any tiers can go below it, so its change against ' +
        'LRU is the most a cell can be lowered.',
      '',
      cpuTable(runs),
      '',
    );
  }
  out.push('#### Next-agent prediction and model state', '', modelTable(runs), '', '#### Commands', '', '```bash');
  out.push(`${o.command}   # every run below, then this page (out/results/RESULTS.md)`);
  for (const run of runs) {
    out.push(run.gpuCommand);
    if (run.cpuCommand !== null) out.push(run.cpuCommand);
  }
  out.push('```', '');
  return out.join('\n');
}

export const README_BEGIN = '<!-- results:begin -->';
export const README_END = '<!-- results:end -->';

/** `readme` with the text between the results markers replaced by `body`; null when a marker is missing. */
export function spliceResults(readme: string, body: string): string | null {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) return null;
  return `${readme.slice(0, begin + README_BEGIN.length)}\n\n${body.trim()}\n\n${readme.slice(end)}`;
}
