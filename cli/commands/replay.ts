import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.js';
import { KV_EVENTS_TOPIC, REQUESTS_TOPIC } from '../../infra/topics.js';
import { type ReplayInput, type ReplayIo, runReplay } from '../../replay/run-replay.js';
import { parseRangeEnd, parseRangeStart } from '../../replay/time-range.js';
import { connectionConfigOf, withConnectionOptions } from '../connection-options.js';
import { parseSimulateFlags, SIMULATE_DEFAULTS } from './simulate.js';

interface ReplayFlags {
  in?: string;
  from?: string;
  to?: string;
  kvTopic: string;
  requestsTopic: string;
  policy: string;
  budget: string;
  concurrency: string;
  engines: string;
  cpuTierBlocks?: string;
  actDelayMs: string;
  seed?: string;
  workloadId?: string;
  state: boolean;
  json?: boolean;
  out?: string;
  kvflowWarmup: string;
  continuumPinTtlMs: string;
  [flag: string]: unknown;
}

const RECORDED = 'recorded';

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Adds `cachesage replay`; `io` (default: the process's stdout and stderr) is where it prints. */
export function registerReplay(
  program: Command,
  io: ReplayIo = { stdout: process.stdout, stderr: process.stderr },
): void {
  const command = program
    .command('replay')
    .description(
      're-derive state from recorded events through the engine topology, and re-simulate the recorded requests ' +
        'under other policies and budgets (the same tables as `cachesage simulate`)',
    )
    .option('--in <file>', 'recording written by `cachesage record`')
    .option('--from <time|beginning>', 'instead of --in: read the event topics from this time (ISO 8601 or epoch ms)')
    .option('--to <time|now>', 'with --from: up to this time', 'now')
    .option('--kv-topic <name>', 'with --from: topic of the KV events', KV_EVENTS_TOPIC)
    .option('--requests-topic <name>', 'with --from: topic of the request events', REQUESTS_TOPIC)
    .option(
      '--policy <list>',
      'policies, comma-separated (lru and belady always run as references)',
      SIMULATE_DEFAULTS.policy,
    )
    .option('--budget <blocks,...>', 'GPU cache budgets per engine, in blocks of 16 tokens', SIMULATE_DEFAULTS.budget)
    .option(
      '--concurrency <n,...|recorded>',
      'active sessions per engine; recorded: as inferred from the recording',
      RECORDED,
    )
    .option('--engines <n|recorded>', 'simulated engines; recorded: as many as the recording has', RECORDED)
    .option('--cpu-tier-blocks <blocks>', 'CPU-tier capacity per engine in blocks (default: 0, none)')
    .option('--act-delay-ms <ms>', 'simulated delay between an act and its effect', SIMULATE_DEFAULTS.actDelayMs)
    .option('--seed <n>', 'seed of the step gaps (default: 1)')
    .option('--workload-id <id>', 'workload to re-simulate when the recording holds several')
    .option('--no-state', 'skip re-deriving state through the engine topology')
    .option('--kvflow-warmup <n|x%>', 'KVFlow step-graph warm-up', SIMULATE_DEFAULTS.kvflowWarmup)
    .option(
      '--continuum-pin-ttl-ms <ms|auto>',
      "Continuum's pin ttl after a tool call",
      SIMULATE_DEFAULTS.continuumPinTtlMs,
    )
    .option('--json', 'print only {"rows": [...], "recorded": {...}, "state": {...}} on stdout')
    .option('--out <dir>', 'also write report.md, results.json and SVG charts to this folder');
  withConnectionOptions(command, { kafka: true }).action(async (flags: ReplayFlags, cmd: Command) => {
    if ((flags.in === undefined) === (flags.from === undefined)) {
      throw new ConfigError('replay: give either --in <file> or --from <time|beginning> (with --to)');
    }
    const concurrency = flags.concurrency.trim();
    const engines = flags.engines.trim();
    const parsed = parseSimulateFlags({
      workload: 'synthetic',
      policy: flags.policy,
      budget: flags.budget,
      concurrency: concurrency === RECORDED ? '1' : concurrency,
      engines: engines === RECORDED ? '1' : engines,
      ...(flags.cpuTierBlocks === undefined ? {} : { cpuTierBlocks: flags.cpuTierBlocks }),
      actDelayMs: flags.actDelayMs,
      ...(flags.seed === undefined ? {} : { seed: flags.seed }),
      kvflowWarmup: flags.kvflowWarmup,
      continuumPinTtlMs: flags.continuumPinTtlMs,
    });
    let input: ReplayInput;
    if (flags.in !== undefined) input = { kind: 'file', path: flags.in };
    else {
      const from = parseRangeStart(flags.from as string);
      const to = parseRangeEnd(flags.to ?? 'now', from);
      const config = connectionConfigOf(flags);
      input = {
        kind: 'kafka',
        brokers: config.kafkaBrokers,
        security: config.kafkaSecurity,
        from,
        to,
        kvTopic: flags.kvTopic,
        requestsTopic: flags.requestsTopic,
      };
    }
    const raw = (cmd.parent as { rawArgs?: string[] } | null)?.rawArgs ?? process.argv;
    const commandLine = ['cachesage', ...raw.slice(Math.max(0, raw.indexOf('replay')))].map(quote).join(' ');
    await runReplay(
      {
        input,
        policies: parsed.policies,
        budgets: parsed.budgets,
        concurrencies: concurrency === RECORDED ? RECORDED : parsed.concurrencies,
        engines: engines === RECORDED ? RECORDED : parsed.engines,
        cpuTierBlocks: parsed.cpuTierBlocks,
        actDelayMs: parsed.actDelayMs,
        seed: parsed.seed,
        ...(flags.workloadId === undefined ? {} : { workloadId: flags.workloadId }),
        deriveState: flags.state !== false,
        json: flags.json === true,
        ...(flags.out === undefined ? {} : { outDir: flags.out }),
        kvflowWarmup: parsed.kvflowWarmup,
        continuumPinTtlMs: parsed.continuumPinTtlMs,
        commandLine,
      },
      io,
    );
  });
}
