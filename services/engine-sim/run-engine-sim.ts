import { createEngineSim, type EngineSim } from '../../adapters/engine-sim/engine-sim.js';
import { buildRequestOrder } from '../../adapters/engine-sim/request-order.js';
import { percentileSorted } from '../../adapters/engine-sim/result.js';
import { indexWorkload } from '../../adapters/engine-sim/workload-index.js';
import { createActFilter } from '../../adapters/hooks/act-filter.js';
import { attachEngineHooks } from '../../adapters/hooks/attach-engine-hooks.js';
import type { EngineHooks, HookCounters } from '../../adapters/hooks/engine-hooks.js';
import type { KafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { ConfigError } from '../../core/errors.js';
import type { SubscribeFn } from '../../core/io.js';
import type { Act } from '../../schemas/types.js';
import type { PreparedWorkload } from '../../workloads/types.js';
import { createEngineEventSink, type EngineEventSink } from './event-sink.js';
import { createPacedScheduler, type PacedScheduler } from './paced-scheduler.js';

export interface EngineSimServiceOptions {
  /** The (selected) workload every engine of the run loaded. */
  workload: PreparedWorkload;
  /** This engine's part of the fixed request order of `engines` engines (DESIGN §10). */
  engineIndex: number;
  engines: number;
  engineId: string;
  budgetBlocks: number;
  concurrency: number;
  cpuTierBlocks?: number;
  seed: number;
  /** Simulated ms per wall ms; default 1. */
  speed?: number;
  /** Where events go (Avro, key engineId); left open. */
  kafka: KafkaSink;
  kvEventsTopic?: string;
  requestsTopic?: string;
  /** Act subscription (NATS: `natsSubscribe(nc)`); acts go through the act filter to the engine's hooks. */
  subscribe: SubscribeFn<unknown>;
}

/** What an engine-sim process prints at the end: the simulate row fields of one engine, plus transport facts. */
export interface EngineSimReport {
  engineId: string;
  engineIndex: number;
  engines: number;
  workload: string;
  sessions: number;
  seed: number;
  speed: number;
  budgetBlocks: number;
  concurrency: number;
  cpuTierBlocks: number;
  requests: number;
  promptTokens: number;
  gpuHitTokens: number;
  tokenHitRate: number;
  cpuHitTokens: number;
  cpuHitRate: number;
  meanTtftMs: number;
  p50TtftMs: number;
  p99TtftMs: number;
  throughputTokPerS: number;
  makespanMs: number;
  evictions: number;
  prefetchPrecision: number | null;
  prefetchedBlocks: number;
  actsApplied: number;
  actsRejected: number;
  /** Acts as the engine counted them (applied, rejected on arrival or when stale). */
  acts: HookCounters;
  /** Acts the act filter passed or refused (foreign, stale seq, stale ttl, malformed). */
  filter: HookCounters;
  /** Wall ms from the causing event's production to the act's arrival (null before any act). */
  actLatencyMs: { count: number; p50: number; p99: number; max: number } | null;
  events: { kv: number; requests: number };
  /** Scheduler tasks that ran late (the process fell behind the wall clock). */
  lateTasks: number;
  wallMs: number;
}

export interface EngineSimService {
  readonly engineId: string;
  readonly sim: EngineSim;
  readonly scheduler: PacedScheduler;
  readonly events: EngineEventSink;
  /** Requests in this engine's order. */
  readonly requests: number;
  /** Starts the engine at the scheduler's current time. */
  start(): void;
  /** Resolves when every request finished and every event was acknowledged by Kafka. */
  readonly done: Promise<EngineSimReport>;
  /** Detaches the hooks and stops the clock. */
  stop(): void;
}

function sum(counters: Record<string, number>): number {
  return Object.values(counters).reduce((a, b) => a + b, 0);
}

/**
 * One simulated engine as its own service (issue 5): the engine simulator on a wall-clock-paced scheduler, its KV and
 * request events on Kafka, acts from NATS applied through the act filter and `attachEngineHooks`. It serves engine
 * `engineIndex`'s part of the request order `buildRequestOrder(workload, {concurrency, engines})`, so N such
 * processes reproduce `cachesage simulate --engines N` on the same sessions, seed, budget and concurrency.
 */
export function createEngineSimService(options: EngineSimServiceOptions): EngineSimService {
  const { workload, engineIndex, engines, engineId } = options;
  if (!Number.isInteger(engines) || engines < 1)
    throw new ConfigError(`engines must be an integer ≥ 1, got ${engines}`);
  if (!Number.isInteger(engineIndex) || engineIndex < 0 || engineIndex >= engines) {
    throw new ConfigError(`engine index must be in 0..${engines - 1}, got ${engineIndex}`);
  }
  const order = buildRequestOrder(workload, { concurrency: options.concurrency, engines });
  const engineOrder = order.engines[engineIndex];
  if (engineOrder === undefined || engineOrder.length === 0) {
    throw new ConfigError(`engine ${engineIndex} of ${engines} has no request in this selection of sessions`);
  }
  const scheduler = createPacedScheduler({ speed: options.speed ?? 1 });
  const events = createEngineEventSink({
    kafka: options.kafka,
    ...(options.kvEventsTopic === undefined ? {} : { kvEventsTopic: options.kvEventsTopic }),
    ...(options.requestsTopic === undefined ? {} : { requestsTopic: options.requestsTopic }),
  });
  let finishedAll!: () => void;
  const allFinished = new Promise<void>((resolve) => {
    finishedAll = resolve;
  });
  let completed = 0;
  const sim = createEngineSim({
    engineId,
    index: indexWorkload(workload),
    order: engineOrder,
    concurrency: order.concurrency,
    budgetBlocks: options.budgetBlocks,
    cpuTierBlocks: options.cpuTierBlocks ?? 0,
    evictor: 'lru',
    actDelayMs: 0,
    seed: options.seed,
    scheduler,
    sink: events,
    producedAtMs: () => Date.now(),
    onRequestDone: () => {
      completed++;
      if (completed === engineOrder.length) finishedAll();
    },
  });
  const latencies: number[] = [];
  const measured = (act: Act): void => {
    latencies.push(Math.max(0, Date.now() - act.causeProducedAt));
  };
  const hooks: EngineHooks = {
    engineId,
    applyEvictionHints: (a) => {
      measured(a);
      sim.applyEvictionHints(a);
    },
    prefetch: (a) => {
      measured(a);
      sim.prefetch(a);
    },
    pin: (a) => {
      measured(a);
      sim.pin(a);
    },
  };
  const filter = createActFilter({ engineId, now: scheduler.now });
  const attached = attachEngineHooks({ subscribe: options.subscribe, engineId, hooks, filter });
  let startedWall = 0;

  const report = (): EngineSimReport => {
    const r = sim.result();
    const sorted = Float64Array.from(latencies).sort();
    return {
      engineId,
      engineIndex,
      engines,
      workload: workload.workloadId,
      sessions: workload.sessions.length,
      seed: options.seed,
      speed: scheduler.speed,
      budgetBlocks: options.budgetBlocks,
      concurrency: options.concurrency,
      cpuTierBlocks: options.cpuTierBlocks ?? 0,
      requests: r.requests,
      promptTokens: r.promptTokens,
      gpuHitTokens: r.gpuHitTokens,
      tokenHitRate: r.tokenHitRate,
      cpuHitTokens: r.cpuHitTokens,
      cpuHitRate: r.cpuHitRate,
      meanTtftMs: r.meanTtftMs,
      p50TtftMs: r.p50TtftMs,
      p99TtftMs: r.p99TtftMs,
      throughputTokPerS: r.throughputTokPerS,
      makespanMs: r.makespanMs,
      evictions: r.evictions,
      prefetchPrecision: r.prefetch.blocksLoaded > 0 ? r.prefetch.precision : null,
      prefetchedBlocks: r.prefetch.blocksLoaded,
      actsApplied: sum(r.acts.applied),
      actsRejected: sum(r.acts.rejected),
      acts: r.acts,
      filter: structuredClone(filter.counters),
      actLatencyMs:
        sorted.length === 0
          ? null
          : {
              count: sorted.length,
              p50: percentileSorted(sorted, 0.5),
              p99: percentileSorted(sorted, 0.99),
              max: sorted[sorted.length - 1] as number,
            },
      events: { kv: events.stats.kvEvents, requests: events.stats.requestEvents },
      lateTasks: scheduler.late,
      wallMs: Date.now() - startedWall,
    };
  };

  const done = allFinished.then(async () => {
    await sim.settled();
    return report();
  });
  done.catch(() => undefined);

  return {
    engineId,
    sim,
    scheduler,
    events,
    requests: engineOrder.length,
    start() {
      startedWall = Date.now();
      sim.start();
    },
    done,
    stop() {
      attached.detach();
      scheduler.stop();
    },
  };
}
