import type { WorkloadStats } from '../workloads/load-workload.js';
import { type PolicySummary, SUMMARY_MIN_GAP, summarize } from './compare.js';
import { fixed, markdownTable, pct, resultsTable, signed, signedPct } from './format-table.js';
import type { SweepResult, SweepRow } from './sweep.js';

/** The settings of a simulate run as reports show them (no output paths: results.json stays reproducible). */
export interface RunSettings {
  workload: string;
  policies: string[];
  budgets: number[];
  concurrencies: number[];
  engines: number;
  cpuTierBlocks: number;
  actDelayMs: number;
  seed: number;
  template: string;
  nonLlmAgents: string[];
  kvflowWarmup: string;
  continuumPinTtlMs: number | 'auto';
  cdfBudgetBlocks: number;
}

/** Deterministic part of a workload's stats (what results.json records). */
export type WorkloadFacts = Omit<WorkloadStats, 'loadMs' | 'tokenCache' | 'tokenizedStrings'>;

export function workloadFacts(stats: WorkloadStats): WorkloadFacts {
  const { loadMs: _l, tokenCache: _c, tokenizedStrings: _t, ...facts } = stats;
  return facts;
}

export interface ReportInput {
  commandLine: string;
  generatedAt: string;
  settings: RunSettings;
  workload: WorkloadStats;
  result: SweepResult;
  /** Chart file names (relative to the report) by concurrency. */
  hitRateCharts: Map<number, string>;
  ttftCharts: Map<number, string>;
  totalMs: number;
}

export function workloadTable(w: WorkloadStats): string {
  return markdownTable(
    [
      'workload',
      'sessions',
      'turns',
      'LLM calls',
      'agents',
      'turns/session',
      'prompt tokens',
      'output tokens',
      'prompt blocks',
      'distinct blocks',
      'Markov top-1 %',
      'majority top-1 %',
    ],
    [
      [
        w.workloadId,
        String(w.sessions),
        String(w.turns),
        String(w.llmTurns),
        String(w.agents),
        fixed(w.turnsPerSession),
        String(w.promptTokens),
        String(w.outputTokens),
        String(w.promptBlocks),
        String(w.distinctBlocks),
        pct(w.nextAgentTop1),
        pct(w.majorityTop1),
      ],
    ],
  );
}

/** Per-policy standing against LRU and Belady (one line per policy and concurrency, then over all cells). */
export function summaryTable(rows: readonly SweepRow[]): string {
  const lines: string[][] = [];
  const concurrencies = [...new Set(rows.map((r) => r.concurrency))];
  const add = (scope: string, s: PolicySummary): void => {
    lines.push([
      scope,
      s.policy,
      String(s.cells),
      signed(s.meanDeltaPp),
      signed(s.minDeltaPp),
      signed(s.maxDeltaPp),
      s.meanGapClosed === null ? '–' : `${pct(s.meanGapClosed, 0)} (${s.gapCells})`,
      signedPct(s.meanTtftChangeVsLru),
    ]);
  };
  for (const c of concurrencies) for (const s of summarize(rows.filter((r) => r.concurrency === c))) add(`C=${c}`, s);
  if (concurrencies.length > 1) for (const s of summarize(rows)) add('all', s);
  return markdownTable(
    [
      'cells',
      'policy',
      'n',
      'mean Δ LRU pp',
      'worst Δ pp',
      'best Δ pp',
      `gap closed % (cells with gap ≥ ${100 * SUMMARY_MIN_GAP} pp)`,
      'mean Δ TTFT %',
    ],
    lines,
  );
}

/** Mean-TTFT change of every policy against LRU with the same tiers and against LRU without a CPU tier. */
export function ttftVsLruTable(rows: readonly SweepRow[]): string {
  const mine = rows.filter((r) => r.policy !== 'lru' && r.meanTtftChangeVsLru !== null);
  return markdownTable(
    [
      'C',
      'budget',
      'policy',
      'mean TTFT ms',
      'vs LRU same tiers %',
      'vs LRU without CPU tier %',
      'every block cached: mean TTFT ms',
    ],
    mine.map((r) => [
      String(r.concurrency),
      String(r.budgetBlocks),
      r.policy,
      fixed(r.meanTtftMs),
      signedPct(r.meanTtftChangeVsLru),
      signedPct(r.meanTtftChangeVsLruNoCpu),
      fixed(r.allCachedMeanTtftMs),
    ]),
  );
}

/** Model state (bytes, largest over the cells) and next-agent top-1 (mean over budgets) of each predicting policy. */
export function modelTable(rows: readonly SweepRow[], agents: number): string {
  const lines: string[][] = [];
  const policies = [...new Set(rows.map((r) => r.policy))];
  for (const policy of policies) {
    const mine = rows.filter((r) => r.policy === policy);
    const bytes = mine.map((r) => r.modelStateBytes).filter((b): b is number => b !== null);
    const byC = new Map<number, number[]>();
    for (const r of mine) {
      if (r.nextAgentTop1 === null) continue;
      const list = byC.get(r.concurrency) ?? [];
      list.push(r.nextAgentTop1);
      byC.set(r.concurrency, list);
    }
    if (bytes.length === 0 && byC.size === 0) continue;
    const top1 = [...byC].map(([c, v]) => `C=${c}: ${pct(v.reduce((a, b) => a + b, 0) / v.length)}`).join(', ');
    const predictions = Math.max(0, ...mine.map((r) => r.nextAgentPredictions));
    lines.push([
      policy,
      String(agents),
      bytes.length > 0 ? String(Math.max(...bytes)) : '–',
      top1 === '' ? '–' : top1,
      String(predictions),
    ]);
  }
  return markdownTable(['policy', 'agents', 'model state bytes', 'next-agent top-1 %', 'predictions'], lines);
}

function timingTable(result: SweepResult): string {
  const byPolicy = new Map<string, { wallMs: number; events: number; cells: number }>();
  for (const t of result.timings) {
    const v = byPolicy.get(t.policy) ?? { wallMs: 0, events: 0, cells: 0 };
    v.wallMs += t.wallMs;
    v.events += t.events;
    v.cells++;
    byPolicy.set(t.policy, v);
  }
  return markdownTable(
    ['policy', 'cells', 'wall s', 'runtime events', 'µs per event'],
    [...byPolicy].map(([p, v]) => [
      p,
      String(v.cells),
      fixed(v.wallMs / 1000, 2),
      String(v.events),
      v.events > 0 ? fixed((v.wallMs * 1000) / v.events, 2) : '–',
    ]),
  );
}

/** The markdown report of one simulate run. */
export function renderReport(input: ReportInput): string {
  const { settings: s, workload: w, result } = input;
  const rows = result.rows;
  const out: string[] = [
    `# CacheSage simulation: ${w.workloadId}`,
    '',
    `Command: \`${input.commandLine}\``,
    '',
    `Generated ${input.generatedAt} in ${fixed(input.totalMs / 1000, 1)} s (workload loaded in ${fixed(w.loadMs / 1000, 1)} s, token cache: ${w.tokenCache}).`,
    '',
    '## Workload',
    '',
    `Source: \`${w.source}\`, template ${w.template}${w.agentsFile ? `, agents file \`${w.agentsFile}\`` : ''}${w.skippedLines > 0 ? `, ${w.skippedLines} bad lines skipped` : ''}.`,
    '',
    workloadTable(w),
    '',
    '## Settings',
    '',
    `Policies ${s.policies.join(', ')}; budgets ${s.budgets.join(', ')} blocks (16 tokens each) per engine; ` +
      `concurrency ${s.concurrencies.join(', ')} sessions per engine; ${s.engines} engine(s); ` +
      `CPU tier ${s.cpuTierBlocks > 0 ? `${s.cpuTierBlocks} blocks per engine` : 'none (GPU only)'}; ` +
      `act delay ${s.actDelayMs} ms; seed ${s.seed}; KVFlow warm-up ${s.kvflowWarmup}; ` +
      `Continuum pin ttl ${s.continuumPinTtlMs === 'auto' ? 'auto (median observed tool gap, 5 s before any)' : `${s.continuumPinTtlMs} ms`}` +
      `${s.nonLlmAgents.length > 0 ? `; non-LLM agents ${s.nonLlmAgents.join(', ')}` : ''}.`,
    '',
    'Token hit rate: prompt tokens found in GPU at arrival / prompt tokens. Δ LRU: percentage points against LRU in ' +
      'the same cell; gap closed: share of the LRU → Belady gap; Δ TTFT: relative change of mean TTFT against LRU.',
    '',
  ];
  for (const c of s.concurrencies) {
    out.push(`## Concurrency ${c}`, '', resultsTable(rows, c), '');
    const hit = input.hitRateCharts.get(c);
    const cdf = input.ttftCharts.get(c);
    if (hit) out.push(`![token hit rate vs budget, concurrency ${c}](${hit})`, '');
    if (cdf) out.push(`![TTFT CDF, concurrency ${c}, budget ${s.cdfBudgetBlocks}](${cdf})`, '');
  }
  out.push('## Against LRU and Belady', '', summaryTable(rows), '');
  if (s.cpuTierBlocks > 0) {
    out.push(
      '## Mean TTFT with a CPU tier',
      '',
      `Every policy with a ${s.cpuTierBlocks}-block CPU tier against LRU with the same tiers and against LRU ` +
        'without a CPU tier (the unmodified engine); "every block cached" is the same order on an engine that never ' +
        'evicts, the floor no policy can go below.',
      '',
      ttftVsLruTable(rows),
      '',
    );
  }
  out.push(
    '## Model state and next-agent prediction',
    '',
    `Reference: an argmax first-order Markov model scores ${pct(w.nextAgentTop1)} % next-agent top-1 on this workload ` +
      `(leave-one-session-out, offline), the majority guess ${pct(w.majorityTop1)} %.`,
    '',
    modelTable(rows, w.agents),
    '',
    '## Run time',
    '',
    timingTable(result),
    '',
  );
  return out.join('\n');
}
