export { BlockCache, type EvictorKind, NEVER_USED } from './block-cache.js';
export * from './cost-model.js';
export {
  createEngineSim,
  type EngineSim,
  type EngineSimOptions,
  precomputeNextUse,
  type RequestRecord,
  type SimEvent,
} from './engine-sim.js';
export { buildRequestOrder, type EngineOrder, type RequestOrder, type RequestOrderOptions } from './request-order.js';
export { type EngineResult, type PrefetchStats, percentileSorted, type SimResult, ttftSummary } from './result.js';
export { createSimulation, type SimulateOptions, type Simulation, simulate } from './simulate.js';
export { indexWorkload, type WorkloadIndex } from './workload-index.js';
