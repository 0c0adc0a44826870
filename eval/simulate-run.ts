import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type LoadedWorkload, loadWorkload } from '../workloads/load-workload.js';
import type { TemplateChoice } from '../workloads/trace-workload.js';
import { hitRateChart, ttftCdfChart } from './charts.js';
import { summarize } from './compare.js';
import { resultsTable } from './format-table.js';
import { createProgress, type ProgressStream } from './progress.js';
import { type RunSettings, renderReport, summaryTable, workloadFacts } from './report.js';
import { type CellContext, runSweep, type SweepResult, sweepCellCount } from './sweep.js';

/** How KVFlow's warm-up is bounded: a number of sessions, or a share of the run's requests. */
export type KvflowWarmup = { sessions: number } | { fraction: number };

/** A validated `cachesage simulate` invocation. */
export interface SimulateSettings {
  /** Trace path or `synthetic[:profile]`. */
  workload: string;
  /** Policies in report order (`lru` and `belady` included). */
  policies: string[];
  budgets: number[];
  concurrencies: number[];
  engines: number;
  cpuTierBlocks: number;
  actDelayMs: number;
  seed: number;
  /** Whether the seed was given (a synthetic spec's own seed is kept otherwise). */
  seedGiven: boolean;
  template?: TemplateChoice;
  agentsFile?: string;
  skipBadLines: boolean;
  nonLlmAgents: string[];
  json: boolean;
  outDir: string;
  kvflowWarmup: KvflowWarmup;
  continuumPinTtlMs: number | 'auto';
  /** Budget of the TTFT CDF charts. */
  cdfBudgetBlocks: number;
  /** As typed, for the report. */
  commandLine: string;
}

export interface SimulateIo {
  stdout: { write(chunk: string): unknown };
  stderr: ProgressStream;
}

export interface SimulateOutcome {
  workload: LoadedWorkload;
  result: SweepResult;
  outDir: string;
  files: string[];
}

export function describeWarmup(w: KvflowWarmup): string {
  return 'sessions' in w ? `${w.sessions} sessions` : `${+(100 * w.fraction).toFixed(4)} % of requests`;
}

/** Options each policy gets for a cell (KVFlow's warm-up, Continuum's pin ttl). */
export function policyOptionsFor(s: Pick<SimulateSettings, 'kvflowWarmup' | 'continuumPinTtlMs'>) {
  return (policy: string, cell: CellContext): unknown => {
    if (policy === 'kvflow') {
      const w = s.kvflowWarmup;
      return 'sessions' in w
        ? { warmupSessions: w.sessions }
        : { warmupRequests: Math.max(1, Math.ceil(w.fraction * cell.totalRequests)) };
    }
    if (policy === 'continuum') return { pinTtlMs: s.continuumPinTtlMs };
    return undefined;
  };
}

export function runSettingsOf(s: SimulateSettings, template: string): RunSettings {
  return {
    workload: s.workload,
    policies: s.policies,
    budgets: s.budgets,
    concurrencies: s.concurrencies,
    engines: s.engines,
    cpuTierBlocks: s.cpuTierBlocks,
    actDelayMs: s.actDelayMs,
    seed: s.seed,
    template,
    nonLlmAgents: s.nonLlmAgents,
    kvflowWarmup: describeWarmup(s.kvflowWarmup),
    continuumPinTtlMs: s.continuumPinTtlMs,
    cdfBudgetBlocks: s.cdfBudgetBlocks,
  };
}

/**
 * Runs `cachesage simulate`: loads the workload once, sweeps every cell through the runtime (`runSweep`), writes
 * `report.md`, `results.json` and the SVG charts to `outDir`, and prints the tables (or, with `json`, only
 * `{"rows": [...]}`) on stdout. Progress goes to stderr.
 */
export async function runSimulate(s: SimulateSettings, io: SimulateIo): Promise<SimulateOutcome> {
  const started = performance.now();
  const progress = createProgress(io.stderr);
  let workload: LoadedWorkload;
  try {
    workload = await loadWorkload(s.workload, {
      ...(s.template ? { template: s.template } : {}),
      ...(s.agentsFile !== undefined ? { agentsFile: s.agentsFile } : {}),
      skipBadLines: s.skipBadLines,
      ...(s.nonLlmAgents.length > 0 ? { nonLlmAgents: s.nonLlmAgents } : {}),
      ...(s.seedGiven ? { seed: s.seed } : {}),
      onProgress: (done, total) => progress.tokenizing(done, total),
    });
  } finally {
    progress.stop();
  }
  const st = workload.stats;
  progress.loaded(
    `loaded ${st.workloadId}: ${st.sessions} sessions, ${st.llmTurns} LLM calls, ${st.promptTokens} prompt tokens ` +
      `in ${(st.loadMs / 1000).toFixed(1)} s (token cache: ${st.tokenCache})`,
  );
  const sweepOptions = {
    workload,
    policies: s.policies,
    budgets: s.budgets,
    concurrencies: s.concurrencies,
    engines: s.engines,
    cpuTierBlocks: s.cpuTierBlocks,
    actDelayMs: s.actDelayMs,
    seed: s.seed,
    cdfBudgetBlocks: s.cdfBudgetBlocks,
    policyOptions: policyOptionsFor(s),
  };
  progress.startCells(sweepCellCount(sweepOptions));
  let result: SweepResult;
  try {
    result = runSweep({ ...sweepOptions, onCellDone: (p) => progress.cell(p) });
  } finally {
    progress.stop();
  }
  const files = writeOutputs(s, workload, result, performance.now() - started);
  if (s.json) io.stdout.write(`${JSON.stringify({ rows: result.rows })}\n`);
  else io.stdout.write(consoleSummary(s, workload, result, files[0] as string));
  return { workload, result, outDir: resolve(s.outDir), files };
}

function writeOutputs(s: SimulateSettings, workload: LoadedWorkload, result: SweepResult, totalMs: number): string[] {
  const dir = resolve(s.outDir);
  mkdirSync(dir, { recursive: true });
  const settings = runSettingsOf(s, workload.stats.template);
  const files: string[] = [];
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    files.push(path);
    return name;
  };
  const hitRateCharts = new Map<number, string>();
  const ttftCharts = new Map<number, string>();
  const charts: [string, string][] = [];
  for (const c of s.concurrencies) {
    const hit = `hit-rate-c${c}.svg`;
    const cdf = `ttft-cdf-c${c}-b${s.cdfBudgetBlocks}.svg`;
    charts.push([hit, hitRateChart(result.rows, c, workload.workloadId)]);
    charts.push([cdf, ttftCdfChart(result.ttft, c, s.cdfBudgetBlocks, workload.workloadId)]);
    hitRateCharts.set(c, hit);
    ttftCharts.set(c, cdf);
  }
  const report = renderReport({
    commandLine: s.commandLine,
    generatedAt: new Date().toISOString(),
    settings,
    workload: workload.stats,
    result,
    hitRateCharts,
    ttftCharts,
    totalMs,
  });
  write('report.md', report);
  write(
    'results.json',
    `${JSON.stringify(
      { workload: workloadFacts(workload.stats), settings, rows: result.rows, summary: summarize(result.rows) },
      null,
      2,
    )}\n`,
  );
  for (const [name, svg] of charts) write(name, svg);
  return files;
}

function consoleSummary(
  s: SimulateSettings,
  workload: LoadedWorkload,
  result: SweepResult,
  reportPath: string,
): string {
  const out: string[] = [];
  const tier = s.cpuTierBlocks > 0 ? `CPU tier ${s.cpuTierBlocks} blocks` : 'GPU only';
  for (const c of s.concurrencies) {
    out.push(`${workload.workloadId} · concurrency ${c} · ${s.engines} engine(s) · ${tier}`, '');
    out.push(resultsTable(result.rows, c), '');
  }
  out.push('Against LRU and Belady', '', summaryTable(result.rows), '');
  out.push(`report: ${reportPath}`, '');
  return out.join('\n');
}
