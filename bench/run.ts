import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { SimEvent } from '../adapters/engine-sim/engine-sim.js';
import { loadConfig } from '../core/config.js';
import { connectOnce } from '../infra/nats/connect.js';
import { actSamples } from './act-samples.js';
import {
  type BusContext,
  measureNats,
  measureProduce,
  measureRawConsume,
  type NatsRun,
  natsFigure,
  type ThroughputRun,
  throughputFigure,
} from './bus-bench.js';
import { simulateInto } from './event-stream.js';
import { benchInProcess } from './in-process-bench.js';
import { machineFacts, servicePids } from './machine.js';
import {
  type LatencyRun,
  measureLatency,
  measurePipelineThroughput,
  type PipelineThroughputRun,
  type PipelineVariant,
} from './pipeline-bench.js';
import { benchPolicy, type PolicyLevelOptions } from './policy-bench.js';
import { renderReport } from './report.js';
import type { BenchResults, LatencyFigure, StreamInfo, TargetCheck } from './results-types.js';
import { benchScaling } from './scaling-bench.js';
import { sharedModelBytes } from './shared-models.js';
import { spread } from './stats.js';
import { createStreamEncoder, spreadEngineIds, type WireStream } from './wire.js';

/** Events per session of the bench workload on one engine (budget 10k blocks): sizes the recorded streams. */
const EVENTS_PER_SESSION = 95;

export const PARTS = ['policy', 'bus', 'pipeline', 'scaling', 'proxy'] as const;
export type Part = (typeof PARTS)[number];

/** Options of `npm run bench` (see `--help`). */
export interface RunOptions {
  only: Part[];
  quick: boolean;
  repetitions: number;
  durationS: number;
  warmupS: number;
  rates: number[];
  outDir: string;
  profile: boolean;
}

const HELP = `npm run bench -- [options]
  --only <parts>       comma-separated parts: ${PARTS.join(',')} (default: all)
  --quick              short smoke run (smaller streams, 1 repetition, 5 s latency runs)
  --repetitions <n>    repetitions of every figure (default 3; 1 with --quick)
  --duration-s <s>     measured seconds per latency run (default 60; 5 with --quick)
  --warmup-s <s>       unmeasured seconds before each latency run (default 5; 2 with --quick)
  --rates <list>       offered loads of the latency runs, events/s (default 1000,5000,20000)
  --out <dir>          where <date>.json and <date>.md go (default bench/results)
  --profile            write --cpu-prof profiles of the consumer/processor processes to <out>/profiles
  --render <file.json> render a results file again (targets and <file>.md) without measuring`;

export function parseRunOptions(argv: readonly string[]): RunOptions | 'help' | { render: string } {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      repetitions: { type: 'string' },
      'duration-s': { type: 'string' },
      'warmup-s': { type: 'string' },
      rates: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'boolean', default: false },
      render: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  if (values.render !== undefined) return { render: resolve(values.render) };
  const quick = values.quick === true;
  const positive = (name: string, raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!(Number.isFinite(n) && n > 0)) throw new Error(`--${name} must be a positive number, got ${raw}`);
    return n;
  };
  const only = values.only === undefined ? [...PARTS] : values.only.split(',').map((s) => s.trim());
  for (const p of only) if (!PARTS.includes(p as Part)) throw new Error(`--only: unknown part ${p}; parts: ${PARTS}`);
  const rates = (values.rates ?? '1000,5000,20000').split(',').map((r) => positive('rates', r, 0));
  const repetitions = Math.round(positive('repetitions', values.repetitions, quick ? 1 : 3));
  return {
    only: only as Part[],
    quick,
    repetitions,
    durationS: positive('duration-s', values['duration-s'], quick ? 5 : 60),
    warmupS: positive('warmup-s', values['warmup-s'], quick ? 2 : 5),
    rates,
    outDir: resolve(values.out ?? 'bench/results'),
    profile: values.profile === true,
  };
}

function policyLevels(o: RunOptions): PolicyLevelOptions[] {
  const base = { concurrency: 16, cpuTierBlocks: 0, repetitions: o.repetitions, seed: 7 };
  if (o.quick) {
    return [
      { ...base, residentBlocks: 1000, sessions: 40 },
      { ...base, residentBlocks: 10_000, sessions: 100 },
    ];
  }
  return [
    { ...base, residentBlocks: 1000, sessions: 60 },
    { ...base, residentBlocks: 10_000, sessions: 150 },
    { ...base, residentBlocks: 30_000, sessions: 300 },
  ];
}

function subset(stream: WireStream, engines: readonly string[]): WireStream {
  const keep = new Set(engines);
  const events = stream.events.filter((e) => keep.has(e.key));
  let kvBytes = 0;
  let requestBytes = 0;
  let kvEvents = 0;
  let kvBlocks = 0;
  for (const e of events) {
    if (e.topic === 'kv') {
      kvEvents++;
      kvBytes += e.value.length;
      kvBlocks += e.blocks;
    } else requestBytes += e.value.length;
  }
  return {
    events,
    kvEvents,
    requestEvents: events.length - kvEvents,
    kvBlocks,
    meanKvBytes: kvEvents === 0 ? 0 : kvBytes / kvEvents,
    meanRequestBytes: events.length === kvEvents ? 0 : requestBytes / (events.length - kvEvents),
    engineIds: [...engines],
  };
}

function streamInfo(s: WireStream, budgetBlocks: number, concurrency: number): StreamInfo {
  return {
    engines: s.engineIds.length,
    budgetBlocks,
    concurrency,
    events: s.events.length,
    kvEvents: s.kvEvents,
    requestEvents: s.requestEvents,
    kvBlocksPerEvent: s.kvEvents === 0 ? 0 : s.kvBlocks / s.kvEvents,
    meanKvBytes: s.meanKvBytes,
    meanRequestBytes: s.meanRequestBytes,
  };
}

function latencyFigure(runs: readonly LatencyRun[]): LatencyFigure {
  return {
    offeredPerSec: runs[0]!.offeredPerSec,
    producedPerSec: spread(runs.map((r) => r.producedPerSec)),
    p50Ms: spread(runs.map((r) => r.latency.p50Ms)),
    p99Ms: spread(runs.map((r) => r.latency.p99Ms)),
    maxMs: spread(runs.map((r) => r.latency.maxMs)),
    caughtUp: runs.every((r) => r.caughtUp),
    runs: [...runs],
  };
}

function meanCpu(runs: readonly { cpu: Record<string, { meanPct: number } | null> }[]): Record<string, number> {
  const sums = new Map<string, number[]>();
  for (const r of runs) {
    for (const [name, use] of Object.entries(r.cpu)) {
      if (use === null) continue;
      const key = name.replace(/-\d+$/, '');
      sums.set(key, [...(sums.get(key) ?? []), use.meanPct]);
    }
  }
  return Object.fromEntries([...sums].map(([k, v]) => [k, Math.round(v.reduce((a, b) => a + b, 0) / v.length)]));
}

/** Which process bounds the pipeline, from the CPU each used (% of one core) while draining the backlog. */
export function saturationVerdict(cpu: Record<string, number>, cores: number): string {
  const processor = cpu.processor ?? 0;
  const kafka = cpu.kafka ?? 0;
  const nats = cpu.nats ?? 0;
  const machine = cpu.machine;
  const others = machine === undefined ? undefined : Math.max(0, machine - processor - kafka - nats);
  const capacity = cores * 100;
  const parts = [
    `while draining, the processor used ${processor} % of a core, the broker ${kafka} %, NATS ${nats} %` +
      (others === undefined
        ? '.'
        : `, everything else on the machine ${others} % (${machine} % of ${capacity} % busy).`),
  ];
  if (processor >= 85) {
    parts.push('The processor is CPU-bound on its one JavaScript thread: it is the bottleneck.');
  } else if (machine !== undefined && machine >= capacity * 0.9) {
    parts.push(
      `The ${cores} cores are saturated` +
        (others !== undefined && others >= 50 ? ', partly by other work on the machine: figures are low.' : '.'),
    );
  } else if (kafka >= 85) {
    parts.push('The broker is the busiest process.');
  } else {
    parts.push('No process is CPU-bound: the pipeline waits on round trips (fetch, produce acks, commits).');
  }
  return parts.join(' ');
}

/** The processor kept pace: at every repetition's end at most half a second of offered load was unprocessed. */
function keptPace(l: LatencyFigure): boolean {
  return l.caughtUp && l.runs.every((r) => r.backlogAtStop <= r.offeredPerSec * 0.5);
}

function targets(r: BenchResults): TargetCheck[] {
  const out: TargetCheck[] = [];
  const levels = r.policy?.levels ?? [];
  const cs = (l: (typeof levels)[number]) => l.timings.find((t) => t.policy === 'cachesage');
  if (levels.length > 0) {
    let worst = 0;
    let where = '';
    for (const l of levels) {
      const t = cs(l);
      for (const k of ['stored', 'removed'] as const) {
        const v = t?.observe[k].nsPerBlock?.median ?? 0;
        if (v > worst) {
          worst = v;
          where = `${k} at ${l.residentBlocks} blocks`;
        }
      }
    }
    out.push({
      target: 'observe ≤ 1 µs per block event',
      measured: `${Math.round(worst)} ns per block (worst: ${where})`,
      met: worst <= 1000,
    });
    const top = levels[levels.length - 1]!;
    const step = cs(top)?.step;
    const meanMs = (step?.nsMean.median ?? Number.NaN) / 1e6;
    out.push({
      target: `score+act per engine step ≤ 1 ms at 30k resident blocks`,
      measured: `${meanMs.toFixed(3)} ms mean, ${((step?.nsP99.median ?? Number.NaN) / 1e6).toFixed(2)} ms p99 at ${top.residentBlocks} blocks`,
      met: top.residentBlocks >= 30_000 ? meanMs <= 1 : null,
      ...(top.residentBlocks >= 30_000 ? {} : { note: 'the 30k level did not run (--quick)' }),
    });
    const synthetic = Math.max(...levels.map((l) => l.modelBytesPerWorkload.median));
    const shared = r.policy?.sharedWorkloads ?? [];
    const largest = shared.reduce((a, b) => (b.modelBytes > a.modelBytes ? b : a), {
      workload: 'synthetic bench workload',
      agents: 12,
      requests: 0,
      modelBytes: synthetic,
    });
    out.push({
      target: 'model state ≤ 25 KB per workload',
      measured: `${(largest.modelBytes / 1000).toFixed(1)} KB at most (${largest.workload}, ${largest.agents} agents)`,
      met: largest.modelBytes <= 25_000,
    });
  }
  if (r.pipeline !== undefined) {
    const ratio = r.pipeline.ratioToRawConsume;
    out.push({
      target: 'pipeline throughput ≥ 70 % of raw kafkajs consume',
      measured: `${Math.round(ratio * 100)} % (${Math.round(r.pipeline.throughput.eventsPerSec.median)} vs ${Math.round(r.bus?.consume.eventsPerSec.median ?? Number.NaN)} events/s)`,
      met: Number.isFinite(ratio) ? ratio >= 0.7 : null,
    });
    const at5k = r.pipeline.latency.find((l) => l.offeredPerSec === 5000);
    out.push({
      target: 'event → act p99 ≤ 50 ms at 5k events/s, one processor',
      measured:
        at5k === undefined
          ? 'not run'
          : `${at5k.p99Ms.median.toFixed(1)} ms${keptPace(at5k) ? '' : ' (the processor fell behind the offered load)'}`,
      met: at5k === undefined ? null : keptPace(at5k) && at5k.p99Ms.median <= 50,
    });
  }
  return out;
}

function stamp(d: Date): string {
  return d.toISOString().slice(0, 16).replace(':', '-');
}

/** Runs the selected parts and writes `<out>/<date>.json` and `<out>/<date>.md`; returns the report. */
export async function runBench(
  o: RunOptions,
  log: (line: string) => void,
): Promise<{ results: BenchResults; files: string[] }> {
  const started = new Date();
  const config = loadConfig();
  const brokers = config.kafkaBrokers;
  const wants = (p: Part) => o.only.includes(p);
  const needsBus = wants('bus') || wants('pipeline') || wants('scaling');
  let natsVersion = 'unknown';
  if (needsBus || wants('policy')) {
    const nc = await connectOnce(config.natsUrl, 5000, 'cachesage-bench').catch(() => undefined);
    natsVersion = nc?.info?.version ?? 'unreachable';
    await nc?.close();
  }
  const results: BenchResults = {
    startedAt: started.toISOString(),
    finishedAt: '',
    options: { ...o },
    machine: machineFacts(natsVersion),
    targets: [],
    notes: [],
  };
  mkdirSync(o.outDir, { recursive: true });
  const profileDir = o.profile ? join(o.outDir, 'profiles') : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });

  if (wants('policy')) {
    log('policy hot path ...');
    const policy = await benchPolicy({ levels: policyLevels(o), onProgress: log });
    results.policy = { ...policy, sharedWorkloads: await sharedModelBytes(config.workloadsDir, log) };
    if (results.policy.sharedWorkloads.length === 0) {
      results.notes.push(
        `No shared workloads in ${config.workloadsDir}: model state measured on the synthetic one only.`,
      );
    }
  }

  if (needsBus) {
    const partitions = 4;
    const budgetBlocks = 10_000;
    const concurrency = 16;
    const engineIds = spreadEngineIds(8, partitions);
    const record = (engines: readonly string[], sessionsPerEngine: number, seed: number) => {
      log(`recording ${engines.length} engines × ${sessionsPerEngine} sessions ...`);
      const encoder = createStreamEncoder();
      const first: SimEvent[] = [];
      simulateInto(
        {
          budgetBlocks,
          cpuTierBlocks: 0,
          concurrency,
          engines: engines.length,
          sessions: engines.length * sessionsPerEngine,
          seed,
          engineIds: engines,
        },
        (e) => {
          encoder.add(e);
          if (first.length < 20_000 && e.engineId === engines[0]) first.push(e);
        },
      );
      return { stream: encoder.finish(), first };
    };
    const base4 = engineIds.slice(0, 4);
    const longest = Math.max(0, ...o.rates.filter((r) => r <= 5000).map((r) => r * (o.durationS + o.warmupS) * 1.05));
    const wanted = Math.max(o.quick ? 30_000 : 150_000, wants('pipeline') ? Math.min(400_000, longest) : 0);
    const sessionsPerEngine = Math.max(o.quick ? 30 : 100, Math.ceil(wanted / 4 / EVENTS_PER_SESSION));
    const recorded = record(base4, sessionsPerEngine, 11);
    const base = recorded.stream;
    const acts = actSamples(recorded.first);
    recorded.first.length = 0;
    results.stream = streamInfo(base, budgetBlocks, concurrency);
    const pids = servicePids();
    if (pids.kafka === undefined) results.notes.push('Kafka broker pid not found: its CPU is not sampled.');
    if (pids.nats === undefined) results.notes.push('NATS server pid not found: its CPU is not sampled.');
    const ctx: BusContext = {
      brokers,
      natsUrl: config.natsUrl,
      pids,
      stream: base,
      partitions,
      progress: log,
      ...(profileDir === undefined ? {} : { profileDir }),
    };
    const count = Math.min(base.events.length, o.quick ? 6000 : 40_000);
    // the raw consumer is some 30× faster than a processor: a longer backlog keeps its rate window near a second
    const rawCount = Math.min(base.events.length, o.quick ? 30_000 : 150_000);
    const natsCount = o.quick ? 20_000 : 100_000;
    const produce: ThroughputRun[] = [];
    const consume: ThroughputRun[] = [];
    const nats: NatsRun[] = [];
    const variants: (PipelineVariant & { name: string; runs: PipelineThroughputRun[] })[] = [
      { name: 'processor, CacheSage', mode: 'processor', policy: 'cachesage', processes: 1, runs: [] },
      { name: 'processor, LRU (no policy work)', mode: 'processor', policy: 'lru', processes: 1, runs: [] },
      {
        name: 'engine topology alone (startKafkaTopology), CacheSage',
        mode: 'topology',
        policy: 'cachesage',
        processes: 1,
        runs: [],
      },
    ];
    if (wants('bus') || wants('pipeline')) {
      for (let r = 0; r < o.repetitions; r++) {
        if (wants('bus')) {
          log(`bus: kafkajs produce, repetition ${r + 1}`);
          produce.push(await measureProduce(ctx, count));
        }
        log(`bus: kafkajs consume, repetition ${r + 1}`);
        consume.push(await measureRawConsume(ctx, rawCount));
        if (wants('bus')) {
          log(`bus: NATS publish/subscribe, repetition ${r + 1}`);
          nats.push(await measureNats(ctx, acts, natsCount));
        }
        if (wants('pipeline')) {
          for (const v of variants) {
            log(`pipeline: ${v.name}, repetition ${r + 1}`);
            v.runs.push(await measurePipelineThroughput(ctx, count, v));
          }
        }
      }
      results.bus = {
        ...(produce.length > 0 ? { produce: throughputFigure(produce) } : {}),
        consume: throughputFigure(consume),
        ...(nats.length > 0 ? { nats: natsFigure(nats) } : {}),
      };
    }
    if (wants('pipeline')) {
      log('pipeline: in-process ceiling ...');
      const inProcess = benchInProcess(base, count, o.repetitions);
      const latency: LatencyFigure[] = [];
      for (const rate of o.rates) {
        const runs: LatencyRun[] = [];
        for (let r = 0; r < o.repetitions; r++) {
          log(`pipeline: latency at ${rate} events/s for ${o.durationS} s, repetition ${r + 1}`);
          runs.push(await measureLatency(ctx, rate, o.durationS, o.warmupS));
        }
        latency.push(latencyFigure(runs));
      }
      const [main, ...others] = variants;
      const throughput = throughputFigure(main!.runs) as PipelineResult['throughput'];
      results.pipeline = {
        throughput,
        variants: others.map((v) => ({
          name: v.name,
          throughput: throughputFigure(v.runs) as PipelineResult['throughput'],
        })),
        inProcess,
        ratioToRawConsume: throughput.eventsPerSec.median / results.bus!.consume.eventsPerSec.median,
        latency,
      };
      const cpu = meanCpu(main!.runs);
      results.saturation = { cpu, verdict: saturationVerdict(cpu, results.machine.cores) };
    }
    if (wants('scaling')) {
      const eightEngines = record(engineIds, o.quick ? 30 : 100, 11).stream;
      const small: BusContext = { ...ctx, stream: subset(eightEngines, base4) };
      const large: BusContext = { ...ctx, stream: eightEngines };
      results.scaling = await benchScaling(small, large, Math.round(count / 4), o.repetitions);
    }
  }

  if (wants('proxy')) {
    const proxyModule = fileURLToPath(new URL('./proxy.js', import.meta.url));
    if (existsSync(proxyModule)) {
      log('proxy latency (bench/proxy.ts) ...');
      try {
        const { benchProxy } = (await import(proxyModule)) as {
          benchProxy: (options: { requests?: number }) => Promise<unknown>;
        };
        results.proxy = await benchProxy(o.quick ? { requests: 100 } : {});
      } catch (err) {
        results.proxy = { error: (err as Error).message };
      }
    }
  }

  results.finishedAt = new Date().toISOString();
  results.targets = targets(results);
  const name = stamp(started);
  const jsonFile = join(o.outDir, `${name}.json`);
  const mdFile = join(o.outDir, `${name}.md`);
  writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(mdFile, renderReport(results));
  return { results, files: [jsonFile, mdFile] };
}

type PipelineResult = NonNullable<BenchResults['pipeline']>;

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const parsed = parseRunOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(`${HELP}\n`);
  } else if ('render' in parsed) {
    const results = JSON.parse(readFileSync(parsed.render, 'utf8')) as BenchResults;
    results.targets = targets(results);
    const md = parsed.render.replace(/\.json$/, '.md');
    writeFileSync(parsed.render, `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(md, renderReport(results));
    process.stdout.write(renderReport(results));
  } else {
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const { results, files } = await runBench(parsed, log);
    process.stdout.write(renderReport(results));
    log(`wrote ${files.join(' and ')}`);
    process.exit(0);
  }
}
