#!/usr/bin/env node
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readEnv } from '../core/config.js';
import { CacheSageError, ConfigError } from '../core/errors.js';
import { README_BEGIN, README_END, resultsMarkdown, spliceResults, type WorkloadRuns } from './results.js';
import { runSimulate, type SimulateSettings } from './simulate-run.js';

const POLICIES = ['lru', 'cachesage', 'kvflow', 'continuum', 'belady'];
const CPU_POLICIES = ['lru', 'cachesage', 'belady'];
const USAGE =
  'usage: npm run results -- [--out DIR (default out/results)] [--cpu-tier-blocks N (default 8000, 0: skip)] ' +
  '[--workloads synthetic,chatdev,...] [--readme (refresh the Results section of README.md)]';

interface Target {
  name: string;
  spec: string;
  shared: boolean;
}

function targets(workloadsDir: string, only: string[] | null): Target[] {
  const list: Target[] = [
    { name: 'synthetic', spec: 'synthetic', shared: false },
    { name: 'synthetic:random', spec: 'synthetic:random', shared: false },
  ];
  if (existsSync(workloadsDir)) {
    for (const file of readdirSync(workloadsDir).sort()) {
      const m = /^(.*)\.jsonl(?:\.gz)?$/.exec(file);
      if (m) list.push({ name: m[1] as string, spec: join(workloadsDir, file), shared: true });
    }
  } else {
    process.stderr.write(`no shared workloads in ${workloadsDir} (set CACHESAGE_WORKLOADS): synthetic only\n`);
  }
  if (only === null) return list;
  const unknown = only.filter((n) => !list.some((t) => t.name === n));
  if (unknown.length > 0) {
    throw new ConfigError(`--workloads: unknown ${unknown.join(', ')} (known: ${list.map((t) => t.name).join(', ')})`);
  }
  return list.filter((t) => only.includes(t.name));
}

function settingsFor(t: Target, outDir: string, cpuTierBlocks: number, commandLine: string): SimulateSettings {
  return {
    workload: t.spec,
    policies: cpuTierBlocks > 0 ? CPU_POLICIES : POLICIES,
    budgets: [120, 250, 500, 1000, 2000],
    concurrencies: [1, 4],
    engines: 1,
    cpuTierBlocks,
    actDelayMs: 0,
    seed: 1,
    seedGiven: false,
    skipBadLines: false,
    nonLlmAgents: [],
    json: false,
    outDir,
    kvflowWarmup: { fraction: 0.1 },
    continuumPinTtlMs: 'auto',
    cdfBudgetBlocks: 250,
    commandLine,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'out/results' },
      'cpu-tier-blocks': { type: 'string', default: '8000' },
      workloads: { type: 'string' },
      readme: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const cpuTierBlocks = Number(values['cpu-tier-blocks']);
  if (!Number.isInteger(cpuTierBlocks) || cpuTierBlocks < 0) {
    throw new ConfigError(`--cpu-tier-blocks: expected an integer ≥ 0, got ${values['cpu-tier-blocks']}`);
  }
  const out = values.out as string;
  const only = values.workloads === undefined ? null : values.workloads.split(',').map((s) => s.trim());
  const dir = resolve(readEnv().workloadsDir);
  const quiet = { write: () => true };
  const runs: WorkloadRuns[] = [];
  const started = performance.now();
  for (const t of targets(dir, only)) {
    const spec = t.shared ? relative(process.cwd(), t.spec) : t.spec;
    const gpuOut = join(out, t.name.replace(/[^\w.-]+/g, '-'), 'gpu');
    const gpuCommand = `npx cachesage simulate --workload ${spec} --out ${gpuOut}`;
    process.stderr.write(`== ${t.name}: ${gpuCommand}\n`);
    const gpu = await runSimulate(settingsFor(t, gpuOut, 0, gpuCommand), { stdout: quiet, stderr: process.stderr });
    let cpu = null;
    let cpuCommand = null;
    if (cpuTierBlocks > 0) {
      const cpuOut = join(out, t.name.replace(/[^\w.-]+/g, '-'), 'cpu');
      cpuCommand =
        `npx cachesage simulate --workload ${spec} --policy ${CPU_POLICIES.join(',')} ` +
        `--cpu-tier-blocks ${cpuTierBlocks} --out ${cpuOut}`;
      process.stderr.write(`== ${t.name}: ${cpuCommand}\n`);
      cpu = await runSimulate(settingsFor(t, cpuOut, cpuTierBlocks, cpuCommand), {
        stdout: quiet,
        stderr: process.stderr,
      });
    }
    runs.push({ name: t.name, shared: t.shared, gpu, gpuCommand, cpu, cpuCommand });
  }
  const markdown = resultsMarkdown(runs, {
    generatedAt: new Date().toISOString(),
    command: `npm run results${cpuTierBlocks !== 8000 ? ` -- --cpu-tier-blocks ${cpuTierBlocks}` : ''}`,
    cpuTierBlocks,
    policies: POLICIES,
  });
  mkdirSync(out, { recursive: true });
  const page = join(out, 'RESULTS.md');
  writeFileSync(page, markdown);
  process.stderr.write(`wrote ${page} in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  if (values.readme) {
    const readmePath = resolve('README.md');
    const spliced = spliceResults(readFileSync(readmePath, 'utf8'), markdown);
    if (spliced === null) throw new ConfigError(`README.md has no ${README_BEGIN} … ${README_END} markers`);
    writeFileSync(readmePath, spliced);
    process.stderr.write(`refreshed the Results section of ${readmePath}\n`);
  }
}

try {
  await main();
} catch (err) {
  if (!(err instanceof CacheSageError)) throw err;
  process.stderr.write(`results: ${err.message}\n${USAGE}\n`);
  process.exitCode = 2;
}
