import type { EvictorKind } from '../adapters/engine-sim/block-cache.js';
import type { RequestRecord } from '../adapters/engine-sim/engine-sim.js';
import type { RequestOrder } from '../adapters/engine-sim/request-order.js';
import type { SimResult } from '../adapters/engine-sim/result.js';
import { createSimulation } from '../adapters/engine-sim/simulate.js';
import type { WorkloadIndex } from '../adapters/engine-sim/workload-index.js';
import { createActFilter } from '../adapters/hooks/act-filter.js';
import { attachEngineHooks } from '../adapters/hooks/attach-engine-hooks.js';
import { createMemoryBus, memorySources } from '../adapters/memory/memory-bus.js';
import { createMemoryStores } from '../adapters/memory/memory-store.js';
import { createVirtualScheduler } from '../adapters/memory/virtual-scheduler.js';
import { ConfigError } from '../core/errors.js';
import type { Policy } from '../policies/policy.js';
import { POLICY_STATE_KEY, policyStoreName } from '../processors/policy-state.js';
import { engineTopology } from '../topology/engine-topology.js';
import { startTopology } from '../topology/runtime/start-topology.js';
import type { PreparedWorkload } from '../workloads/types.js';

/** One cell of an evaluation: a workload under one policy, budget, concurrency and engine count. */
export interface CellOptions {
  workload: PreparedWorkload;
  index: WorkloadIndex;
  order: RequestOrder;
  /** A policy instance (run through the runtime on the in-memory bus), or 'belady' (the simulator's evictor). */
  policy: Policy | 'belady';
  budgetBlocks: number;
  concurrency: number;
  engines: number;
  cpuTierBlocks: number;
  /** Simulated ms between an act's issue and its effect at the engine. */
  actDelayMs: number;
  seed: number;
  /** Called as each request finishes (per-request records for reports and diagnostics). */
  onRequestDone?: (record: RequestRecord) => void;
}

export interface CellOutcome {
  sim: SimResult;
  /** The policy's state at the end (for its statistics), null for Belady. */
  policyState: unknown;
  /** Wall time of the cell. */
  wallMs: number;
  /** Events that went through the runtime. */
  events: number;
}

/**
 * Runs one cell on the production code path: the simulated engines publish their KV and request events on the
 * in-memory bus, the engine topology runs the policy's four primitives on them, and the acts travel back over the
 * bus's act subjects to the engines' hooks (through the act filter), taking effect `actDelayMs` later in simulated
 * time. Belady has no runtime: it is the simulator's clairvoyant evictor.
 */
export function runCell(o: CellOptions): CellOutcome {
  const started = performance.now();
  const scheduler = createVirtualScheduler();
  if (o.policy === 'belady') {
    const sim = createSimulation({ ...simOptions(o, 'belady'), scheduler });
    return { sim: sim.run(), policyState: null, wallMs: performance.now() - started, events: 0 };
  }
  const policy = o.policy;
  const bus = createMemoryBus({ scheduler, actDelayMs: 0, releaseDelivered: true });
  const topology = engineTopology({ policies: [policy.name] });
  const stores = createMemoryStores(topology.stores.map((s) => s.name));
  const sink = bus.sink('sim');
  const sim = createSimulation({ ...simOptions(o, 'lru'), scheduler, sink });
  const running = startTopology(topology, {
    sources: memorySources(bus, topology, { fromBeginning: true, groupId: 'eval' }),
    sinks: { acts: bus.sink('acts'), dlq: bus.sink('dlq') },
    stores,
    policies: [policy],
    scheduler,
  });
  for (const engine of sim.engines) {
    attachEngineHooks({
      subscribe: bus.subscribe,
      engineId: engine.engineId,
      hooks: engine,
      filter: createActFilter({ engineId: engine.engineId, now: scheduler.now }),
    });
  }
  const result = sim.run();
  if (running.stats.state === 'failed') {
    throw new ConfigError(`policy ${policy.name} failed the topology: ${String(running.stats.error)}`);
  }
  const failures = Object.values(running.stats.failures).reduce((a, b) => a + b, 0);
  if (failures > 0) {
    throw new ConfigError(
      `policy ${policy.name}: ${failures} records failed in the topology (${JSON.stringify(running.stats.failures)})`,
    );
  }
  const events = running.stats.records;
  void running.close();
  const policyState = stores[policyStoreName(policy.name)]?.get(POLICY_STATE_KEY) ?? null;
  return { sim: result, policyState, wallMs: performance.now() - started, events };
}

function simOptions(o: CellOptions, evictor: EvictorKind) {
  return {
    workload: o.workload,
    index: o.index,
    order: o.order,
    budgetBlocks: o.budgetBlocks,
    concurrency: o.concurrency,
    engines: o.engines,
    cpuTierBlocks: o.cpuTierBlocks,
    evictor,
    actDelayMs: o.actDelayMs,
    seed: o.seed,
    ...(o.onRequestDone ? { onRequestDone: o.onRequestDone } : {}),
  };
}
