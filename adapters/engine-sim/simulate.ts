import { ConfigError, ProgrammerError } from '../../core/errors.js';
import type { Sink } from '../../core/io.js';
import type { PreparedWorkload } from '../../workloads/types.js';
import { createVirtualScheduler, type VirtualScheduler } from '../memory/virtual-scheduler.js';
import type { EvictorKind } from './block-cache.js';
import { createEngineSim, type EngineSim, type RequestRecord, type SimEvent } from './engine-sim.js';
import { buildRequestOrder, type RequestOrder } from './request-order.js';
import { type SimResult, totalOf } from './result.js';
import { indexWorkload, type WorkloadIndex } from './workload-index.js';

export interface SimulateOptions {
  workload: PreparedWorkload;
  /** The workload's index, when a sweep already built it (`indexWorkload`). */
  index?: WorkloadIndex;
  /** The fixed request order; built from `concurrency` and `engines` when absent. */
  order?: RequestOrder;
  /** GPU blocks kept for reuse between requests, per engine. */
  budgetBlocks: number;
  /** Active sessions per engine. */
  concurrency: number;
  /** Engines sharing the sessions (default 1). */
  engines?: number;
  /** CPU-tier capacity per engine in blocks (default 0: none). */
  cpuTierBlocks?: number;
  evictor: EvictorKind;
  /** Simulated delay before an act takes effect (default 0). */
  actDelayMs?: number;
  /** Seed of the gaps between steps. */
  seed: number;
  /** Clock shared with an in-memory bus; a fresh one starting at 0 when absent. */
  scheduler?: VirtualScheduler;
  /** Where events go; none for baselines that need no events. */
  sink?: Sink<SimEvent>;
  /** Engine ids (default `engine-0`, `engine-1`, ...). */
  engineIds?: readonly string[];
  /** `producedAt` of events; simulated time when absent. */
  producedAtMs?: () => number;
  onRequestDone?: (record: RequestRecord) => void;
}

/** A set of engines on one clock, ready to run; attach their hooks (they are `EngineHooks`) before `run`. */
export interface Simulation {
  readonly order: RequestOrder;
  readonly index: WorkloadIndex;
  readonly scheduler: VirtualScheduler;
  readonly engines: readonly EngineSim[];
  /** Starts every engine and runs the scheduler until every request has finished. */
  run(): SimResult;
}

/** Builds the engines of a simulation (see `EngineSim` for the semantics). */
export function createSimulation(options: SimulateOptions): Simulation {
  const engines = options.engines ?? 1;
  const order = options.order ?? buildRequestOrder(options.workload, { concurrency: options.concurrency, engines });
  if (order.concurrency !== options.concurrency || order.engines.length !== engines) {
    throw new ConfigError(
      `order was built for concurrency ${order.concurrency} on ${order.engines.length} engines, ` +
        `not ${options.concurrency} on ${engines}`,
    );
  }
  const index = options.index ?? indexWorkload(options.workload);
  if (index.workload !== options.workload) throw new ConfigError('index was built for another workload');
  const ids = options.engineIds ?? order.engines.map((_, e) => `engine-${e}`);
  if (ids.length !== engines || new Set(ids).size !== ids.length) {
    throw new ConfigError(`engineIds must be ${engines} distinct ids, got [${ids.join(', ')}]`);
  }
  const scheduler = options.scheduler ?? createVirtualScheduler();
  const sims = order.engines.map((engineOrder, e) =>
    createEngineSim({
      engineId: ids[e] as string,
      index,
      order: engineOrder,
      concurrency: order.concurrency,
      budgetBlocks: options.budgetBlocks,
      cpuTierBlocks: options.cpuTierBlocks ?? 0,
      evictor: options.evictor,
      actDelayMs: options.actDelayMs ?? 0,
      seed: options.seed,
      scheduler,
      ...(options.sink ? { sink: options.sink } : {}),
      ...(options.producedAtMs ? { producedAtMs: options.producedAtMs } : {}),
      ...(options.onRequestDone ? { onRequestDone: options.onRequestDone } : {}),
    }),
  );
  let started = false;
  return {
    order,
    index,
    scheduler,
    engines: sims,
    run(): SimResult {
      if (started) throw new ProgrammerError('a simulation runs once');
      started = true;
      for (const sim of sims) sim.start();
      while (!sims.every((s) => s.done)) {
        if (!scheduler.step()) throw new ProgrammerError('scheduler ran dry before every request finished');
      }
      const results = sims.map((s) => s.result());
      return { engines: results, total: totalOf(results) };
    },
  };
}

/** Runs a whole simulation and returns its statistics. */
export function simulate(options: SimulateOptions): SimResult {
  return createSimulation(options).run();
}
