import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type RangeEnd, type RangeStart, readRange } from '../adapters/recording/read-range.js';
import { readRecording } from '../adapters/recording/recording-file.js';
import type { RecordedRecord, RecordingHeader } from '../adapters/recording/recording-format.js';
import type { KafkaSecurity } from '../core/config.js';
import { hitRateChart, ttftCdfChart } from '../eval/charts.js';
import { summarize } from '../eval/compare.js';
import { fixed, markdownTable, pct, resultsTable } from '../eval/format-table.js';
import { createProgress, type ProgressStream } from '../eval/progress.js';
import { renderReport, summaryTable, workloadFacts } from '../eval/report.js';
import { type KvflowWarmup, policyOptionsFor, runSettingsOf, type SimulateSettings } from '../eval/simulate-run.js';
import { runSweep, type SweepResult, sweepCellCount } from '../eval/sweep.js';
import type { WorkloadStats } from '../workloads/load-workload.js';
import { workloadSummary } from '../workloads/summary.js';
import { type DerivedState, deriveState } from './derive-state.js';
import { orderRecorded } from './recorded-events.js';
import { type RebuiltWorkload, requestsToWorkload } from './requests-to-workload.js';

/** Where the replayed events come from: a recording file, or a range of the event topics read now. */
export type ReplayInput =
  | { kind: 'file'; path: string }
  | {
      kind: 'kafka';
      brokers: readonly string[];
      security?: KafkaSecurity;
      from: RangeStart;
      to: RangeEnd;
      kvTopic: string;
      requestsTopic: string;
    };

/** A validated `cachesage replay` invocation. */
export interface ReplaySettings {
  input: ReplayInput;
  /** Policies in report order (`lru` and `belady` included). */
  policies: string[];
  budgets: number[];
  /** Sessions per engine; `recorded`: the concurrency inferred from the recording. */
  concurrencies: number[] | 'recorded';
  /** Simulated engines; `recorded`: as many as the recording has. */
  engines: number | 'recorded';
  cpuTierBlocks: number;
  actDelayMs: number;
  seed: number;
  /** Workload to re-simulate when the recording holds several. */
  workloadId?: string;
  /** Re-derive state through the engine topology (default true). */
  deriveState: boolean;
  json: boolean;
  /** Folder of report.md, results.json and charts; none: no files. */
  outDir?: string;
  kvflowWarmup: KvflowWarmup;
  continuumPinTtlMs: number | 'auto';
  commandLine: string;
}

export interface ReplayIo {
  stdout: { write(chunk: string): unknown };
  stderr: ProgressStream;
}

/** What a replay found and computed. */
export interface ReplayOutcome {
  header: Pick<RecordingHeader, 'from' | 'to' | 'topics'>;
  records: number;
  state: DerivedState | null;
  rebuilt: RebuiltWorkload;
  concurrencies: number[];
  engines: number;
  result: SweepResult;
  files: string[];
}

async function loadInput(
  input: ReplayInput,
  io: ReplayIo,
): Promise<{ header: RecordingHeader; records: RecordedRecord[] }> {
  if (input.kind === 'file') {
    io.stderr.write(`reading ${input.path}\n`);
    return readRecording(input.path);
  }
  const records: RecordedRecord[] = [];
  let lastTenth = -1;
  const { ranges } = await readRange(
    {
      brokers: input.brokers,
      topics: [input.kvTopic, input.requestsTopic],
      from: input.from,
      to: input.to,
      ...(input.security === undefined ? {} : { security: input.security }),
      clientId: 'cachesage-replay',
      onProgress: (read, total) => {
        const tenth = total > 0 ? Math.floor((10 * read) / total) : 10;
        if (tenth !== lastTenth) io.stderr.write(`reading the range: ${read} of ${total} records\n`);
        lastTenth = tenth;
      },
    },
    (r) => {
      records.push(r);
    },
  );
  return {
    header: {
      format: 'cachesage-recording',
      version: 1,
      createdAt: new Date().toISOString(),
      from: input.from === 'beginning' ? 'beginning' : new Date(input.from).toISOString(),
      to: input.to === 'now' ? 'now' : new Date(input.to).toISOString(),
      topics: { kv: input.kvTopic, requests: input.requestsTopic },
      ranges,
    },
    records,
  };
}

/**
 * Runs `cachesage replay` (DESIGN §7): (a) re-derives state by running the recorded events through the engine
 * topology (in-memory bus, bytes mode, Avro codecs) and prints each engine's resident blocks, sessions and contexts
 * and each workload's transition counts; (b) rebuilds the recorded requests as a workload and re-simulates them in
 * the same evaluation cells as `cachesage simulate` (policies × budgets × concurrency beside LRU and Belady),
 * printing the same tables (or, with `json`, `{"rows": [...], "recorded": ..., "state": ...}`).
 */
export async function runReplay(s: ReplaySettings, io: ReplayIo): Promise<ReplayOutcome> {
  const started = performance.now();
  const { header, records } = await loadInput(s.input, io);
  const ordered = orderRecorded(records, header.topics);
  io.stderr.write(
    `${records.length} records (${header.from} → ${header.to}); ${ordered.requests.length} request events\n`,
  );
  const source = s.input.kind === 'file' ? `recording:${s.input.path}` : `kafka:${header.from}..${header.to}`;
  const rebuilt = requestsToWorkload(ordered.requests, {
    source,
    ...(s.workloadId === undefined ? {} : { workloadId: s.workloadId }),
  });
  const engines = s.engines === 'recorded' ? Math.max(1, rebuilt.engineIds.length) : s.engines;
  const concurrencies = s.concurrencies === 'recorded' ? [rebuilt.inferredConcurrency] : s.concurrencies;
  const policyOptions = policyOptionsFor(s);

  const state = s.deriveState
    ? deriveState({
        records: ordered.records,
        kvTopic: header.topics.kv,
        requestsTopic: header.topics.requests,
        policies: s.policies.filter((p) => p !== 'belady'),
        policyOptions: (p) => policyOptions(p, { budgetBlocks: 0, concurrency: 1, totalRequests: rebuilt.calls }),
      })
    : null;

  const progress = createProgress(io.stderr);
  const sweepOptions = {
    workload: rebuilt.workload,
    policies: s.policies,
    budgets: s.budgets,
    concurrencies,
    engines,
    cpuTierBlocks: s.cpuTierBlocks,
    actDelayMs: s.actDelayMs,
    seed: s.seed,
    cdfBudgetBlocks: s.budgets.includes(250) ? 250 : (s.budgets[0] as number),
    policyOptions,
  };
  let result: SweepResult;
  try {
    progress.startCells(sweepCellCount(sweepOptions));
    result = runSweep({ ...sweepOptions, onCellDone: (p) => progress.cell(p) });
  } finally {
    progress.stop();
  }
  const simulateSettings = asSimulateSettings(s, concurrencies, engines, sweepOptions.cdfBudgetBlocks, source);
  const files =
    s.outDir === undefined ? [] : writeOutputs(simulateSettings, rebuilt, result, performance.now() - started);
  if (s.json) {
    io.stdout.write(
      `${JSON.stringify({
        rows: result.rows,
        recorded: recordedFacts(rebuilt, engines, concurrencies, records.length, header),
        state,
      })}\n`,
    );
  } else {
    io.stdout.write(consoleReport(s, header, records.length, state, rebuilt, result, engines, concurrencies, files));
  }
  return {
    header: { from: header.from, to: header.to, topics: header.topics },
    records: records.length,
    state,
    rebuilt,
    concurrencies,
    engines,
    result,
    files,
  };
}

function recordedFacts(
  rebuilt: RebuiltWorkload,
  engines: number,
  concurrencies: number[],
  records: number,
  header: RecordingHeader,
) {
  return {
    workload: rebuilt.workload.workloadId,
    from: header.from,
    to: header.to,
    records,
    sessions: rebuilt.workload.sessions.length,
    calls: rebuilt.calls,
    unfinished: rebuilt.unfinished,
    finishedOnly: rebuilt.finishedOnly,
    engineIds: rebuilt.engineIds,
    engines,
    concurrencies,
    inferredConcurrency: rebuilt.inferredConcurrency,
    promptTokens: rebuilt.reported.promptTokens,
    cachedTokens: rebuilt.reported.cachedTokens,
    tokenHitRate: rebuilt.reported.tokenHitRate,
  };
}

function asSimulateSettings(
  s: ReplaySettings,
  concurrencies: number[],
  engines: number,
  cdfBudgetBlocks: number,
  source: string,
): SimulateSettings {
  return {
    workload: source,
    policies: s.policies,
    budgets: s.budgets,
    concurrencies,
    engines,
    cpuTierBlocks: s.cpuTierBlocks,
    actDelayMs: s.actDelayMs,
    seed: s.seed,
    seedGiven: true,
    skipBadLines: false,
    nonLlmAgents: [],
    json: s.json,
    outDir: s.outDir ?? '',
    kvflowWarmup: s.kvflowWarmup,
    continuumPinTtlMs: s.continuumPinTtlMs,
    cdfBudgetBlocks,
    commandLine: s.commandLine,
  };
}

function statsOf(rebuilt: RebuiltWorkload, loadMs: number): WorkloadStats {
  return {
    ...workloadSummary(rebuilt.workload),
    template: 'group-chat',
    agentsFile: null,
    skippedLines: 0,
    tokenCache: 'off',
    tokenizedStrings: 0,
    loadMs,
  };
}

function writeOutputs(s: SimulateSettings, rebuilt: RebuiltWorkload, result: SweepResult, totalMs: number): string[] {
  const dir = resolve(s.outDir);
  mkdirSync(dir, { recursive: true });
  const stats = statsOf(rebuilt, 0);
  const files: string[] = [];
  const write = (name: string, text: string): void => {
    const path = join(dir, name);
    writeFileSync(path, text);
    files.push(path);
  };
  const hitRateCharts = new Map<number, string>();
  const ttftCharts = new Map<number, string>();
  const charts: [string, string][] = [];
  for (const c of s.concurrencies) {
    const hit = `hit-rate-c${c}.svg`;
    const cdf = `ttft-cdf-c${c}-b${s.cdfBudgetBlocks}.svg`;
    charts.push([hit, hitRateChart(result.rows, c, rebuilt.workload.workloadId)]);
    charts.push([cdf, ttftCdfChart(result.ttft, c, s.cdfBudgetBlocks, rebuilt.workload.workloadId)]);
    hitRateCharts.set(c, hit);
    ttftCharts.set(c, cdf);
  }
  const settings = runSettingsOf(s, 'recorded');
  write(
    'report.md',
    renderReport({
      commandLine: s.commandLine,
      generatedAt: new Date().toISOString(),
      settings,
      workload: stats,
      result,
      hitRateCharts,
      ttftCharts,
      totalMs,
    }),
  );
  write(
    'results.json',
    `${JSON.stringify({ workload: workloadFacts(stats), settings, rows: result.rows, summary: summarize(result.rows) }, null, 2)}\n`,
  );
  for (const [name, svg] of charts) write(name, svg);
  return files;
}

/** The re-derived state as text tables. */
export function stateReport(state: DerivedState): string {
  const out: string[] = [
    `Re-derived state (engine topology on the in-memory bus, Avro codecs; policies ${state.policies.join(', ')}): ` +
      `${state.events.kv} KV events, ${state.events.requests} request events in ${fixed(state.wallMs / 1000, 1)} s`,
    '',
    markdownTable(
      ['engine', 'requests', 'resident GPU blocks', 'CPU-tier blocks', 'sessions', 'contexts'],
      state.engines.map((e) => [
        e.engineId,
        String(e.requests),
        String(e.residentBlocks),
        String(e.cpuBlocks),
        String(e.sessions),
        String(e.contexts),
      ]),
    ),
    '',
  ];
  for (const w of state.workloads) {
    out.push(
      `${w.workloadId}: ${w.agents} agents, ${w.transitions} transitions; most frequent: ` +
        (w.top.map((t) => `${t.from} → ${t.to} ×${fixed(t.count, 0)}`).join(', ') || 'none'),
    );
  }
  const acts = Object.entries(state.acts)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const failures = Object.entries(state.failures)
    .map(([stage, n]) => `${stage} ${n}`)
    .join(', ');
  out.push(`acts issued: ${acts}; dead letters: ${state.deadLettered}${failures ? ` (${failures})` : ''}`, '');
  return out.join('\n');
}

function consoleReport(
  s: ReplaySettings,
  header: RecordingHeader,
  records: number,
  state: DerivedState | null,
  rebuilt: RebuiltWorkload,
  result: SweepResult,
  engines: number,
  concurrencies: number[],
  files: string[],
): string {
  const out: string[] = [`Replay of ${records} records, ${header.from} → ${header.to}`, ''];
  if (state !== null) out.push(stateReport(state));
  const w = rebuilt.workload;
  out.push(
    `Re-simulation of ${w.workloadId}: ${w.sessions.length} sessions, ${rebuilt.calls} calls` +
      `${rebuilt.unfinished > 0 ? ` (${rebuilt.unfinished} unfinished in the range)` : ''}` +
      `${rebuilt.finishedOnly > 0 ? ` (${rebuilt.finishedOnly} arrived before it)` : ''}; recorded on ` +
      `${rebuilt.engineIds.length} engine(s) with a token hit rate of ${pct(rebuilt.reported.tokenHitRate)} % ` +
      `(concurrency ${rebuilt.inferredConcurrency} inferred)`,
    '',
  );
  const tier = s.cpuTierBlocks > 0 ? `CPU tier ${s.cpuTierBlocks} blocks` : 'GPU only';
  for (const c of concurrencies) {
    out.push(`${w.workloadId} · concurrency ${c} · ${engines} engine(s) · ${tier}`, '');
    out.push(resultsTable(result.rows, c), '');
  }
  out.push('Against LRU and Belady', '', summaryTable(result.rows), '');
  if (files.length > 0) out.push(`report: ${files[0]}`, '');
  return out.join('\n');
}
