import type { ThroughputFigure } from './bus-bench.js';
import type { CpuUse } from './cpu-sampler.js';
import type { LatencyRun } from './pipeline-bench.js';
import type { PolicyLevelResult } from './policy-bench.js';
import type { BenchResults, TargetCheck } from './results-types.js';
import { median, type Spread } from './stats.js';

function fmt(v: number, digits = 0): string {
  if (!Number.isFinite(v)) return '–';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `median (min–max)` of a spread; a single run shows its value alone. */
export function fmtSpread(s: Spread | null | undefined, digits = 0, scale = 1): string {
  if (s === null || s === undefined || !Number.isFinite(s.median)) return '–';
  const m = fmt(s.median * scale, digits);
  if (s.runs.length <= 1 || s.min === s.max) return m;
  return `${m} (${fmt(s.min * scale, digits)}–${fmt(s.max * scale, digits)})`;
}

function bytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n >= 1024 * 1024) return `${fmt(n / (1024 * 1024), 1)} MiB`;
  if (n >= 1024) return `${fmt(n / 1024, 1)} KiB`;
  return `${fmt(n)} B`;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Mean CPU per process over runs, as `name m%`. */
function cpuText(runs: readonly { cpu: Record<string, CpuUse | null> }[]): string {
  const sums = new Map<string, { total: number; n: number }>();
  for (const r of runs) {
    for (const [name, use] of Object.entries(r.cpu)) {
      if (use === null) continue;
      const s = sums.get(name) ?? { total: 0, n: 0 };
      s.total += use.meanPct;
      s.n++;
      sums.set(name, s);
    }
  }
  return [...sums].map(([name, s]) => `${name} ${fmt(s.total / s.n)}%`).join(', ') || '–';
}

function policySection(levels: readonly PolicyLevelResult[], overheadNs: number): string {
  const rows: string[][] = [];
  for (const l of levels) {
    for (const t of l.timings) {
      rows.push([
        `${fmt(l.residentBlocks)} (${fmt(l.meanResidentBlocks)})${l.cpuTierBlocks > 0 ? ` + CPU ${fmt(l.cpuTierBlocks)}` : ''}`,
        t.policy,
        fmtSpread(t.observe.stored.nsPerBlock, 0),
        fmtSpread(t.observe.removed.nsPerBlock, 0),
        fmtSpread(t.observe.stored.nsPerEvent, 1, 1e-3),
        fmtSpread(t.observe.removed.nsPerEvent, 1, 1e-3),
        fmtSpread(t.observe.arrived.nsPerEvent, 1, 1e-3),
        fmtSpread(t.observe.finished.nsPerEvent, 1, 1e-3),
        fmtSpread(t.step.nsMean, 1, 1e-3),
        fmtSpread(t.step.nsP99, 1, 1e-3),
        fmtSpread(t.step.nsMax, 0, 1e-3),
        t.policy === 'cachesage' ? bytes(l.stateBytesPerEngine.median) : '0 B',
        t.policy === 'cachesage' ? bytes(l.modelBytesPerWorkload.median) : '0 B',
      ]);
    }
  }
  const context = levels
    .map(
      (l) =>
        `${fmt(l.residentBlocks)}: ${fmt(l.timedEvents)} timed events of ${fmt(l.streamEvents)}, ${l.concurrency} sessions active, ` +
        `${fmt(l.timings[0]?.step.points ?? 0)} decision points (${fmt(l.timings[0]?.step.kvPoints ?? 0)} on KV events), ` +
        `${fmt(l.timings[0]?.step.entriesPerStep ?? 0, 1)} hint entries per point, ${fmt(l.stateBytesPerResidentBlock)} B of state per resident block`,
    )
    .join('; ');
  return [
    '### Policy hot path (one engine, CacheSage vs LRU)',
    '',
    table(
      [
        'resident blocks: budget (mean)',
        'policy',
        'stored ns/block',
        'removed ns/block',
        'stored µs/event',
        'removed µs/event',
        'arrived µs/event',
        'finished µs/event',
        'decide µs mean',
        'decide µs p99',
        'decide µs max',
        'state/engine',
        'model/workload',
      ],
      rows,
    ),
    '',
    `Observe = \`policy.observe\` per event; decide = decisionPoint + score + predict + act per decision point (each ` +
      `request arriving or finishing, and KV events the policy decides on). Timer overhead ${fmt(overheadNs)} ns ` +
      `subtracted. ${context}.`,
  ].join('\n');
}

function throughputRow(name: string, f: ThroughputFigure, extra = ''): string[] {
  return [
    name,
    fmtSpread(f.eventsPerSec),
    fmtSpread(f.blocksPerSec),
    fmtSpread(f.mbPerSec, 1),
    fmt(f.events),
    cpuText(f.runs),
    extra,
  ];
}

function targetsSection(targets: readonly TargetCheck[]): string {
  return [
    '### Targets',
    '',
    table(
      ['target', 'measured', 'met'],
      targets.map((t) => [
        t.target,
        t.note === undefined ? t.measured : `${t.measured} (${t.note})`,
        t.met === null ? 'not measured' : t.met ? 'yes' : 'no',
      ]),
    ),
  ].join('\n');
}

/** Median act bytes per measured event of a load's runs; '–' for results written before it was measured. */
function actBytesText(runs: readonly LatencyRun[]): string {
  const known = runs.map((x) => x.actBytesPerEvent).filter((v): v is number => typeof v === 'number');
  return known.length > 0 ? fmt(median(known)) : '–';
}

/** The markdown report of a run: one table per part, then the targets. */
export function renderReport(r: BenchResults): string {
  const m = r.machine;
  const out: string[] = [
    `## CacheSage benchmark, ${r.startedAt}`,
    '',
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}, Kafka ${m.kafkaVersion}, ` +
      `NATS ${m.natsVersion}; load average ${m.loadAverage1m} at start. Figures are medians of the repetitions ` +
      '(min–max in brackets).',
    '',
    m.git === undefined
      ? 'Code: not recorded.'
      : `Code: ${m.git.commit}` +
        (m.git.changed.length === 0 ? '.' : ` with uncommitted changes to ${m.git.changed.join(', ')}.`),
  ];
  if (r.policy !== undefined) {
    out.push('', policySection(r.policy.levels, r.policy.timerOverheadNs));
    if (r.policy.sharedWorkloads.length > 0) {
      out.push(
        '',
        'Model state per shared workload (one pass, one engine): ' +
          r.policy.sharedWorkloads
            .map((w) => `${w.workload} ${bytes(w.modelBytes)} (${w.agents} agents, ${fmt(w.requests)} calls)`)
            .join(', ') +
          '.',
      );
    }
  }
  if (r.stream !== undefined) {
    const s = r.stream;
    out.push(
      '',
      `Bus, pipeline and scaling send a recorded stream of ${s.engines} simulated engines (budget ${fmt(s.budgetBlocks)} ` +
        `blocks, ${s.concurrency} sessions each): ${fmt(s.events)} events, ${fmt((s.kvEvents / s.events) * 100)} % KV ` +
        `events of ${fmt(s.kvBlocksPerEvent)} blocks (${fmt(s.meanKvBytes)} B) and request events of ` +
        `${fmt(s.meanRequestBytes)} B on average (Avro).`,
    );
  }
  if (r.bus !== undefined || r.pipeline !== undefined) {
    const rows: string[][] = [];
    if (r.bus !== undefined) {
      if (r.bus.produce !== undefined)
        rows.push(throughputRow('kafkajs produce (idempotent, 500/batch)', r.bus.produce));
      rows.push(throughputRow('kafkajs consume (eachBatch)', r.bus.consume));
    }
    if (r.pipeline !== undefined) {
      const p = r.pipeline.throughput;
      const acts =
        p.runs.reduce((s, run) => s + ((run as { acts?: number }).acts ?? 0), 0) / Math.max(1, p.runs.length);
      rows.push(
        throughputRow(
          'pipeline: Kafka → processor (CacheSage) → NATS',
          p,
          `${fmt(r.pipeline.ratioToRawConsume * 100)} % of raw consume; ${fmt(acts)} acts/run`,
        ),
      );
      const raw = r.bus?.consume.eventsPerSec.median ?? Number.NaN;
      for (const v of r.pipeline.variants) {
        rows.push(
          throughputRow(
            v.name,
            v.throughput,
            `${fmt((v.throughput.eventsPerSec.median / raw) * 100)} % of raw consume`,
          ),
        );
      }
    }
    out.push(
      '',
      '### Throughput',
      '',
      table(['measurement', 'events/s', 'KV blocks/s', 'MB/s', 'events', 'CPU (mean, % of a core)', ''], rows),
    );
    if (r.bus?.nats !== undefined) {
      const n = r.bus.nats;
      out.push(
        '',
        `NATS core publish → subscribe (acts of ${fmt(n.meanBytes)} B on average, ${fmt(n.messages)} per run): ` +
          `${fmtSpread(n.messagesPerSec)} msgs/s, ${fmtSpread(n.mbPerSec, 1)} MB/s; CPU ${cpuText(n.runs)}.`,
      );
    }
  }
  if (r.pipeline?.inProcess !== undefined) {
    const ip = r.pipeline.inProcess;
    out.push(
      '',
      `One processor thread with no transport (engine topology fed ${fmt(ip.events)} encoded events in batches of ` +
        `${ip.batchSize}): ${fmtSpread(ip.eventsPerSec.cachesage)} events/s with CacheSage, ` +
        `${fmtSpread(ip.eventsPerSec.lru)} with LRU. Avro decode alone: ${fmtSpread(ip.decodeNsPerKvEvent, 1, 1e-3)} µs ` +
        `per KV event, ${fmtSpread(ip.decodeNsPerRequestEvent, 1, 1e-3)} µs per request event.`,
    );
    if (ip.hashReadNs !== undefined) {
      const h = ip.hashReadNs;
      out.push(
        '',
        `One block hash of a KV event, read from its wire form: Avro varints into a \`bigint\` (what the layer does) ` +
          `${fmtSpread(h.avroBigint, 1)} ns, the same varints into two 32-bit halves (no \`bigint\`) ` +
          `${fmtSpread(h.avroHalves, 1)} ns, a packed run of 8-byte values into halves ${fmtSpread(h.packedHalves, 1)} ns.`,
      );
    }
  }
  if (r.pipeline !== undefined && r.pipeline.latency.length > 0) {
    out.push(
      '',
      '### Event → act latency (one processor; engine event handed to Kafka → act decoded at a NATS subscriber)',
      '',
      table(
        [
          'offered events/s',
          'produced events/s',
          'p50 ms',
          'p99 ms',
          'max ms',
          'acts measured',
          'act bytes per event',
          'backlog at stop (s of load)',
          'CPU',
        ],
        r.pipeline.latency.map((l) => {
          const backlog = Math.max(...l.runs.map((x) => x.backlogAtStop));
          return [
            fmt(l.offeredPerSec),
            fmtSpread(l.producedPerSec),
            fmtSpread(l.p50Ms, 1),
            fmtSpread(l.p99Ms, 1),
            fmtSpread(l.maxMs, 0),
            fmt(l.runs[0]?.actsMeasured ?? 0),
            actBytesText(l.runs),
            `${fmt(backlog)} (${fmt(backlog / l.offeredPerSec, 1)} s)${l.caughtUp ? '' : ', not drained in 30 s'}`,
            cpuText(l.runs),
          ];
        }),
      ),
      '',
      `${r.pipeline.latency[0]?.runs[0]?.durationS ?? 0} s measured per run after ${r.pipeline.latency[0]?.runs[0]?.warmupS ?? 0} s of warm-up.`,
    );
  }
  if (r.scaling !== undefined) {
    out.push(
      '',
      '### Scaling (processors in one consumer group, co-partitioned topics)',
      '',
      table(
        ['processors', 'engines', 'events', 'events/s (all)', 'events/s per processor', 'KV blocks/s', 'CPU'],
        r.scaling.cases.map((c) => [
          String(c.processors),
          String(c.engines),
          fmt(c.events),
          fmtSpread(c.throughput.eventsPerSec),
          fmtSpread(c.perProcessorEventsPerSec),
          fmtSpread(c.throughput.blocksPerSec),
          cpuText(c.throughput.runs),
        ]),
      ),
      '',
      `2 processors on 2× the engines vs 1 on the base: ${fmt(r.scaling.scaleFactor, 2)}× (2× is linear).`,
    );
  }
  if (r.proxy !== undefined) {
    const p = r.proxy as { addedP50Ms?: number; addedP99Ms?: number; promptTokens?: number; error?: string };
    out.push(
      '',
      '### Tagging proxy (bench/proxy.ts)',
      '',
      p.error !== undefined
        ? `failed: ${p.error}`
        : `${fmt(p.promptTokens ?? 0)}-token prompts: the proxy adds ${fmt(p.addedP50Ms ?? Number.NaN, 2)} ms at p50 and ` +
            `${fmt(p.addedP99Ms ?? Number.NaN, 2)} ms at p99.`,
    );
  }
  if (r.saturation !== undefined) out.push('', `**What saturates:** ${r.saturation.verdict}`);
  out.push('', targetsSection(r.targets));
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}
