import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.js';
import { type KvflowWarmup, runSimulate, type SimulateIo, type SimulateSettings } from '../../eval/simulate-run.js';
import { BELADY } from '../../eval/sweep.js';
import { BUILTIN_POLICIES } from '../../policies/index.js';
import { isSyntheticSpec, parseSyntheticSpec } from '../../workloads/synthetic-spec.js';
import type { TemplateChoice } from '../../workloads/trace-workload.js';

/** Flags of `cachesage simulate` as commander hands them over (strings until validated). */
export interface SimulateFlags {
  workload: string;
  policy: string;
  budget: string;
  concurrency: string;
  engines: string;
  cpuTierBlocks?: string;
  actDelayMs: string;
  seed?: string;
  template?: string;
  agents?: string;
  skipBadLines?: boolean;
  nonLlmAgents?: string;
  json?: boolean;
  out?: string;
  kvflowWarmup: string;
  continuumPinTtlMs: string;
  cdfBudget?: string;
}

export const SIMULATE_DEFAULTS = {
  workload: 'synthetic',
  policy: 'lru,cachesage,kvflow,continuum,belady',
  budget: '120,250,500,1000,2000',
  concurrency: '1,4',
  engines: '1',
  actDelayMs: '0',
  seed: 1,
  kvflowWarmup: '10%',
  continuumPinTtlMs: 'auto',
} as const;

const POLICY_NAMES: readonly string[] = [...BUILTIN_POLICIES, BELADY];
const TEMPLATES: readonly TemplateChoice[] = ['group-chat', 'phase', 'auto'];

function intList(flag: string, text: string, min: number): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) {
    throw new ConfigError(`${flag}: expected a comma-separated list of integers, got ${JSON.stringify(text)}`);
  }
  const values = parts.map((p) => {
    const v = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(v) || v < min) {
      throw new ConfigError(`${flag}: ${JSON.stringify(p)} is not an integer ≥ ${min}`);
    }
    return v;
  });
  if (new Set(values).size !== values.length) throw new ConfigError(`${flag}: a value is listed twice in ${text}`);
  return values;
}

function intFlag(flag: string, text: string, min: number): number {
  const v = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(v) || v < min) {
    throw new ConfigError(`${flag}: expected an integer ≥ ${min}, got ${JSON.stringify(text)}`);
  }
  return v;
}

function policyList(text: string): string[] {
  const names = text.split(',').map((p) => p.trim());
  for (const name of names) {
    if (!POLICY_NAMES.includes(name)) {
      throw new ConfigError(`--policy: unknown policy ${JSON.stringify(name)} (known: ${POLICY_NAMES.join(', ')})`);
    }
  }
  if (new Set(names).size !== names.length) throw new ConfigError(`--policy: a policy is listed twice in ${text}`);
  const ordered = names.filter((n) => n !== 'lru' && n !== BELADY);
  return ['lru', ...ordered, BELADY];
}

function parseWarmup(text: string): KvflowWarmup {
  const t = text.trim();
  const pctMatch = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (pctMatch) {
    const v = Number(pctMatch[1]);
    if (v > 0 && v <= 100) return { fraction: v / 100 };
  } else if (/^\d+$/.test(t) && Number(t) >= 1) {
    return { sessions: Number(t) };
  }
  throw new ConfigError(
    `--kvflow-warmup: expected a number of sessions (e.g. 10) or a share of requests in (0, 100] % (e.g. 10%), got ${JSON.stringify(text)}`,
  );
}

function parsePinTtl(text: string): number | 'auto' {
  if (text.trim() === 'auto') return 'auto';
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0) {
    throw new ConfigError(`--continuum-pin-ttl-ms: expected 'auto' or a number of ms > 0, got ${JSON.stringify(text)}`);
  }
  return v;
}

function timestamp(now: Date): string {
  return now.toISOString().slice(0, 19).replace(/[:T]/g, '-');
}

/** Validates every flag; a bad value is a ConfigError naming the flag, what it expects and what it got. */
export function parseSimulateFlags(
  flags: SimulateFlags,
  commandLine = 'cachesage simulate',
  now = new Date(),
): SimulateSettings {
  const workload = flags.workload.trim();
  if (workload === '') throw new ConfigError('--workload: expected a trace path or synthetic[:profile]');
  if (isSyntheticSpec(workload)) parseSyntheticSpec(workload);
  else if (!existsSync(workload)) {
    throw new ConfigError(`--workload: no such file ${JSON.stringify(workload)} (or use synthetic[:profile])`);
  }
  const budgets = intList('--budget', flags.budget, 1).sort((a, b) => a - b);
  const concurrencies = intList('--concurrency', flags.concurrency, 1).sort((a, b) => a - b);
  const engines = intFlag('--engines', flags.engines, 1);
  const cpuTierBlocks = flags.cpuTierBlocks === undefined ? 0 : intFlag('--cpu-tier-blocks', flags.cpuTierBlocks, 0);
  const actDelayMs = Number(flags.actDelayMs);
  if (flags.actDelayMs.trim() === '' || !Number.isFinite(actDelayMs) || actDelayMs < 0) {
    throw new ConfigError(`--act-delay-ms: expected a number of ms ≥ 0, got ${JSON.stringify(flags.actDelayMs)}`);
  }
  const seed =
    flags.seed === undefined ? SIMULATE_DEFAULTS.seed : intFlag('--seed', flags.seed, Number.MIN_SAFE_INTEGER);
  if (flags.template !== undefined && !(TEMPLATES as readonly string[]).includes(flags.template)) {
    throw new ConfigError(`--template: expected one of ${TEMPLATES.join(', ')}, got ${JSON.stringify(flags.template)}`);
  }
  if (flags.agents !== undefined && !existsSync(flags.agents)) {
    throw new ConfigError(`--agents: no such file ${JSON.stringify(flags.agents)}`);
  }
  const nonLlmAgents =
    flags.nonLlmAgents === undefined
      ? []
      : flags.nonLlmAgents
          .split(',')
          .map((a) => a.trim())
          .filter((a) => a !== '');
  if (flags.nonLlmAgents !== undefined && nonLlmAgents.length === 0) {
    throw new ConfigError('--non-llm-agents: expected a comma-separated list of agent names');
  }
  let cdfBudgetBlocks = budgets.includes(250) ? 250 : (budgets[0] as number);
  if (flags.cdfBudget !== undefined) {
    cdfBudgetBlocks = intFlag('--cdf-budget', flags.cdfBudget, 1);
    if (!budgets.includes(cdfBudgetBlocks)) {
      throw new ConfigError(`--cdf-budget: ${cdfBudgetBlocks} is not one of the budgets (${budgets.join(', ')})`);
    }
  }
  return {
    workload,
    policies: policyList(flags.policy),
    budgets,
    concurrencies,
    engines,
    cpuTierBlocks,
    actDelayMs,
    seed,
    seedGiven: flags.seed !== undefined,
    ...(flags.template !== undefined ? { template: flags.template as TemplateChoice } : {}),
    ...(flags.agents !== undefined ? { agentsFile: flags.agents } : {}),
    skipBadLines: flags.skipBadLines === true,
    nonLlmAgents,
    json: flags.json === true,
    outDir: flags.out ?? `out/simulate-${timestamp(now)}`,
    kvflowWarmup: parseWarmup(flags.kvflowWarmup),
    continuumPinTtlMs: parsePinTtl(flags.continuumPinTtlMs),
    cdfBudgetBlocks,
    commandLine,
  };
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Adds `cachesage simulate`; `io` (default: the process's stdout and stderr) is where it prints. */
export function registerSimulate(
  program: Command,
  io: SimulateIo = { stdout: process.stdout, stderr: process.stderr },
): void {
  program
    .command('simulate')
    .description(
      'evaluate eviction/prefetch policies on the engine simulator through the in-memory runtime: every policy × ' +
        'budget × concurrency cell beside LRU and the clairvoyant Belady bound; tables on stdout, report.md + ' +
        'results.json + SVG charts in --out',
    )
    .option(
      '--workload <path|synthetic[:profile]>',
      'trace (.jsonl/.jsonl.gz, trace format v1) or synthetic[:structured|random|large]',
      SIMULATE_DEFAULTS.workload,
    )
    .option(
      '--policy <list>',
      `policies, comma-separated, of ${POLICY_NAMES.join(', ')} (lru and belady always run as references)`,
      SIMULATE_DEFAULTS.policy,
    )
    .option('--budget <blocks,...>', 'GPU cache budgets per engine, in blocks of 16 tokens', SIMULATE_DEFAULTS.budget)
    .option('--concurrency <n,...>', 'active sessions per engine', SIMULATE_DEFAULTS.concurrency)
    .option('--engines <n>', 'simulated engines sharing the sessions', SIMULATE_DEFAULTS.engines)
    .option(
      '--cpu-tier-blocks <blocks>',
      'CPU-tier capacity per engine in blocks (default: 0, none); adds LRU without a CPU tier (lru-no-cpu) and the ' +
        'mean TTFT with every block cached (allCachedMeanTtftMs, the floor no policy can go below)',
    )
    .option(
      '--act-delay-ms <ms>',
      'simulated delay between an act and its effect at the engine',
      SIMULATE_DEFAULTS.actDelayMs,
    )
    .option('--seed <n>', 'seed of the step gaps and of a synthetic workload (default: 1)')
    .option('--template <name>', `prompt template for traces: ${TEMPLATES.join(' | ')} (default: group-chat)`)
    .option('--agents <file>', 'agents file (system prompts), overrides <stem>.agents.json beside the trace')
    .option('--skip-bad-lines', 'skip and count invalid trace lines instead of stopping at the first')
    .option('--non-llm-agents <a,b>', 'agents whose turns are messages, not LLM calls')
    .option(
      '--kvflow-warmup <n|x%>',
      'KVFlow step-graph warm-up: first n sessions, or first x % of requests',
      SIMULATE_DEFAULTS.kvflowWarmup,
    )
    .option(
      '--continuum-pin-ttl-ms <ms|auto>',
      "Continuum's pin ttl after a tool call; auto: median observed tool gap (5 s before any)",
      SIMULATE_DEFAULTS.continuumPinTtlMs,
    )
    .option('--cdf-budget <blocks>', 'budget of the TTFT CDF charts (default: 250 if swept, else the smallest)')
    .option('--json', 'print only {"rows": [...]} on stdout (progress stays on stderr)')
    .option('--out <dir>', 'output folder (default: out/simulate-<timestamp>)')
    .action(async (flags: SimulateFlags, command: Command) => {
      const raw = (command.parent as { rawArgs?: string[] } | null)?.rawArgs ?? process.argv;
      const commandLine = ['cachesage', ...raw.slice(Math.max(0, raw.indexOf('simulate')))].map(quote).join(' ');
      const settings = parseSimulateFlags(flags, commandLine);
      await runSimulate(settings, io);
    });
}
