import type { SimEvent } from '../adapters/engine-sim/engine-sim.js';
import { cacheSageModelBytesPerWorkload, createCacheSagePolicy } from '../policies/cachesage/cachesage-policy.js';
import type { CacheSageState } from '../policies/cachesage/state.js';
import { createLruPolicy } from '../policies/lru.js';
import type { Policy } from '../policies/policy.js';
import { createCodec } from '../schemas/codec.js';
import { type EventStream, observed, recordEventStream } from './event-stream.js';
import { settledHeapBytes } from './heap.js';
import { mean, percentileSorted, type Spread, spread } from './stats.js';

/** Event kinds whose observe cost is reported apart. */
export const OBSERVE_KINDS = ['stored', 'removed', 'arrived', 'finished'] as const;
export type ObserveKind = (typeof OBSERVE_KINDS)[number];

export interface PolicyLevelOptions {
  /** Target resident blocks per engine: the simulated engine's reuse budget (running requests add their own). */
  residentBlocks: number;
  /** Sessions of the workload (enough for thousands of steps after the cache is full). */
  sessions: number;
  /** Active sessions on the engine. */
  concurrency: number;
  /** CPU-tier blocks (0: GPU only). */
  cpuTierBlocks: number;
  repetitions: number;
  seed: number;
}

/** Observe cost of one event kind (timer overhead subtracted). */
export interface ObserveFigure {
  /** Events of this kind in the timed window (one repetition). */
  events: number;
  /** Blocks they carry (KV events; for request events the prompt blocks). */
  blocks: number;
  nsPerEvent: Spread;
  /** Per block carried: the figure the ≤ 1 µs per block event target is about (KV events only). */
  nsPerBlock: Spread | null;
}

/**
 * Cost of decisionPoint → score → predict → act at each decision point: every request arriving or finishing (an
 * engine step), plus the KV events a policy decides on. LRU decides nothing: its figure is `decisionPoint` alone,
 * at each request event.
 */
export interface StepFigure {
  /** Decision points in the timed window (one repetition). */
  points: number;
  /** Of which caused by KV events. */
  kvPoints: number;
  nsMean: Spread;
  nsP99: Spread;
  nsMax: Spread;
  /** Eviction-hint entries and prefetches drafted per step (one repetition). */
  entriesPerStep: number;
  prefetchesPerStep: number;
}

export interface PolicyTimings {
  policy: string;
  observe: Record<ObserveKind, ObserveFigure>;
  step: StepFigure;
}

export interface PolicyLevelResult {
  residentBlocks: number;
  budgetBlocks: number;
  cpuTierBlocks: number;
  concurrency: number;
  sessions: number;
  /** Events of the recorded stream, and of its timed part (after the resident set first reached the budget). */
  streamEvents: number;
  timedEvents: number;
  /** Resident GPU blocks the policy tracked, mean over the timed window, and live contexts at the end. */
  meanResidentBlocks: number;
  contextsAtEnd: number;
  sessionsAtEnd: number;
  timings: PolicyTimings[];
  /** Heap retained by CacheSage's state for the engine (decoded events folded in, as a processor holds them). */
  stateBytesPerEngine: Spread;
  stateBytesPerResidentBlock: number;
  /** Model state per workload (the policy's own serialized-size figure: transition counts). */
  modelBytesPerWorkload: Spread;
}

export interface PolicyBenchOptions {
  levels: readonly PolicyLevelOptions[];
  onProgress?: (line: string) => void;
}

/** Median cost of an empty `process.hrtime.bigint()` pair, subtracted from every timed call. */
export function timerOverheadNs(samples = 200_000): number {
  const d = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const a = process.hrtime.bigint();
    const b = process.hrtime.bigint();
    d[i] = Number(b - a);
  }
  d.sort();
  return percentileSorted(d, 0.5);
}

function kindOf(e: SimEvent): ObserveKind | null {
  if ('kind' in e) {
    if (e.kind === 'BLOCK_STORED') return 'stored';
    if (e.kind === 'BLOCK_REMOVED') return 'removed';
    return null;
  }
  if (e.phase === 'ARRIVED') return 'arrived';
  if (e.phase === 'FINISHED') return 'finished';
  return null;
}

function blocksOf(e: SimEvent): number {
  return e.blockHashes.length;
}

/** Index of the first event after which the engine's GPU resident set reached `budget` blocks. */
function warmEnd(events: readonly SimEvent[], budget: number): number {
  const resident = new Set<bigint>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if ('kind' in e && e.medium === 'GPU') {
      if (e.kind === 'BLOCK_STORED') for (const h of e.blockHashes) resident.add(h);
      else if (e.kind === 'BLOCK_REMOVED') for (const h of e.blockHashes) resident.delete(h);
      else resident.clear();
      if (resident.size >= budget) return i + 1;
    }
  }
  return events.length;
}

interface RepetitionSample {
  observeNs: Record<ObserveKind, number>;
  observeEvents: Record<ObserveKind, number>;
  observeBlocks: Record<ObserveKind, number>;
  steps: Float64Array;
  entries: number;
  prefetches: number;
  kvPoints: number;
  residentSum: number;
  residentSamples: number;
  state: unknown;
}

function zeroKinds(): Record<ObserveKind, number> {
  return { stored: 0, removed: 0, arrived: 0, finished: 0 };
}

/** One pass over the stream with a fresh state; events from `from` on are timed one call at a time. */
function timePass(policy: Policy, events: readonly SimEvent[], from: number, overheadNs: number): RepetitionSample {
  const state = policy.createState();
  const s: RepetitionSample = {
    observeNs: zeroKinds(),
    observeEvents: zeroKinds(),
    observeBlocks: zeroKinds(),
    steps: new Float64Array(events.length - from),
    entries: 0,
    prefetches: 0,
    kvPoints: 0,
    residentSum: 0,
    residentSamples: 0,
    state,
  };
  let nSteps = 0;
  const residentOf =
    policy.name === 'cachesage'
      ? () => {
          let n = 0;
          for (const e of (state as CacheSageState).engines.values()) n += e.resident.size;
          return n;
        }
      : () => 0;
  for (let i = 0; i < events.length; i++) {
    const event = observed(events[i]!);
    const timed = i >= from;
    const t0 = process.hrtime.bigint();
    policy.observe(state, event);
    const t1 = process.hrtime.bigint();
    const point = policy.decisionPoint(state, event);
    if (point !== null) {
      const scores = policy.score(state, point);
      const prediction = policy.predict(state, point);
      const drafts = policy.act(state, { point, scores, prediction, cause: event });
      const t2 = process.hrtime.bigint();
      if (timed) {
        s.steps[nSteps++] = Number(t2 - t1) - overheadNs;
        if (event.type === 'kv') s.kvPoints++;
        for (const d of drafts) {
          if (d.kind === 'evict') s.entries += d.entries.length;
          else if (d.kind === 'prefetch') s.prefetches++;
        }
      }
    } else if (timed && event.type === 'request') {
      s.steps[nSteps++] = Number(process.hrtime.bigint() - t1) - overheadNs;
    }
    if (!timed) continue;
    const kind = kindOf(events[i]!);
    if (kind !== null) {
      s.observeNs[kind] += Number(t1 - t0) - overheadNs;
      s.observeEvents[kind]++;
      s.observeBlocks[kind] += blocksOf(events[i]!);
    }
    if (event.type === 'request') {
      s.residentSum += residentOf();
      s.residentSamples++;
    }
  }
  s.steps = s.steps.slice(0, nSteps).sort();
  return s;
}

function timingsOf(policy: string, samples: readonly RepetitionSample[]): PolicyTimings {
  const first = samples[0]!;
  const observe = {} as Record<ObserveKind, ObserveFigure>;
  for (const kind of OBSERVE_KINDS) {
    const kv = kind === 'stored' || kind === 'removed';
    observe[kind] = {
      events: first.observeEvents[kind],
      blocks: first.observeBlocks[kind],
      nsPerEvent: spread(samples.map((s) => s.observeNs[kind] / s.observeEvents[kind])),
      nsPerBlock: kv ? spread(samples.map((s) => s.observeNs[kind] / s.observeBlocks[kind])) : null,
    };
  }
  const points = first.steps.length;
  return {
    policy,
    observe,
    step: {
      points,
      nsMean: spread(samples.map((s) => mean(Array.from(s.steps)))),
      nsP99: spread(samples.map((s) => percentileSorted(s.steps, 0.99))),
      nsMax: spread(samples.map((s) => percentileSorted(s.steps, 1))),
      kvPoints: first.kvPoints,
      entriesPerStep: points === 0 ? 0 : first.entries / points,
      prefetchesPerStep: points === 0 ? 0 : first.prefetches / points,
    },
  };
}

/**
 * Memory (heap and ArrayBuffer stores) retained by a CacheSage state fed with decoded copies of the events (Avro
 * round trip, as the processor decodes them): what the state keeps of them (resident sets, context block lists,
 * anchors) counts, the stream does not. Returns the retained bytes and the model bytes per workload.
 */
function stateMemory(events: readonly SimEvent[]): { bytes: number; modelBytes: number[] } {
  const kv = createCodec('KvEvent');
  const rq = createCodec('RequestEvent');
  const policy = createCacheSagePolicy();
  const roundTrip = (e: SimEvent): SimEvent => ('kind' in e ? kv.decode(kv.encode(e)) : rq.decode(rq.encode(e)));
  roundTrip(events[0]!);
  const before = settledHeapBytes();
  let state: CacheSageState | null = policy.createState();
  for (const e of events) {
    const event = observed(roundTrip(e));
    policy.observe(state, event);
    const point = policy.decisionPoint(state, event);
    if (point === null) continue;
    const scores = policy.score(state, point);
    const prediction = policy.predict(state, point);
    policy.act(state, { point, scores, prediction, cause: event });
  }
  const after = settledHeapBytes();
  const modelBytes = Object.values(cacheSageModelBytesPerWorkload(state));
  state = null;
  return { bytes: after - before, modelBytes };
}

async function benchLevel(
  level: PolicyLevelOptions,
  overheadNs: number,
  progress: (line: string) => void,
): Promise<PolicyLevelResult> {
  const stream: EventStream = recordEventStream({
    budgetBlocks: level.residentBlocks,
    cpuTierBlocks: level.cpuTierBlocks,
    concurrency: level.concurrency,
    engines: 1,
    sessions: level.sessions,
    seed: level.seed,
  });
  const events = stream.events;
  const from = warmEnd(events, level.residentBlocks);
  progress(
    `policy: ${level.residentBlocks} blocks: ${events.length} events recorded, ${events.length - from} timed per pass`,
  );
  const policies: Policy[] = [createCacheSagePolicy() as Policy, createLruPolicy() as Policy];
  const samples = new Map<string, RepetitionSample[]>(policies.map((p) => [p.name, []]));
  for (let r = 0; r < level.repetitions; r++) {
    for (const policy of policies) {
      const fresh = policy.name === 'cachesage' ? (createCacheSagePolicy() as Policy) : policy;
      samples.get(policy.name)!.push(timePass(fresh, events, from, overheadNs));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const cs = samples.get('cachesage')!;
  const last = cs[cs.length - 1]!.state as CacheSageState;
  let contexts = 0;
  for (const e of last.engines.values()) contexts += [...e.contexts.values()].filter((c) => !c.dead).length;
  const meanResident = cs[0]!.residentSum / Math.max(1, cs[0]!.residentSamples);
  for (const list of samples.values()) for (const s of list) s.state = null;
  const memory: { bytes: number; modelBytes: number[] }[] = [];
  for (let r = 0; r < level.repetitions; r++) memory.push(stateMemory(events));
  const stateBytes = spread(memory.map((m) => m.bytes));
  return {
    residentBlocks: level.residentBlocks,
    budgetBlocks: level.residentBlocks,
    cpuTierBlocks: level.cpuTierBlocks,
    concurrency: level.concurrency,
    sessions: level.sessions,
    streamEvents: events.length,
    timedEvents: events.length - from,
    meanResidentBlocks: Math.round(meanResident),
    contextsAtEnd: contexts,
    sessionsAtEnd: last.sessions.size,
    timings: policies.map((p) => timingsOf(p.name, samples.get(p.name)!)),
    stateBytesPerEngine: stateBytes,
    stateBytesPerResidentBlock: stateBytes.median / Math.max(1, meanResident),
    modelBytesPerWorkload: spread(memory.map((m) => Math.max(...m.modelBytes))),
  };
}

export interface PolicyBenchResult {
  timerOverheadNs: number;
  levels: PolicyLevelResult[];
}

/**
 * Policy hot path (issue 6, part 1): CacheSage against LRU (the policy that does nothing: the runtime's floor) on
 * recorded engine streams whose resident set sits at each level. Per repetition a fresh state replays the whole
 * stream; calls after the resident set first reached the level are timed one by one with `process.hrtime.bigint`
 * (the median cost of an empty timer pair subtracted), the earlier ones warm the state and the JIT.
 */
export async function benchPolicy(options: PolicyBenchOptions): Promise<PolicyBenchResult> {
  const progress = options.onProgress ?? (() => undefined);
  const overheadNs = timerOverheadNs();
  const levels: PolicyLevelResult[] = [];
  for (const level of options.levels) levels.push(await benchLevel(level, overheadNs, progress));
  return { timerOverheadNs: overheadNs, levels };
}
