import { BlockHashSet } from '../../schemas/block-hash-set.js';
import type { BlockHash } from '../../schemas/types.js';
import { type AppearanceModel, createAppearanceModel } from './appearance.js';
import { createLivenessModel, type LivenessModel } from './liveness.js';
import type { CacheSageOptions } from './options.js';
import { createPrefillModel, type PrefillModel } from './prefill-model.js';
import { createRankJudge, type RankBatch, type RankJudge } from './rank-judge.js';
import { createReturnModel, type PendingReturn, type ReturnModel } from './return-model.js';
import { createReturnTimeModel, type ReturnQuestion, type ReturnTimeModel } from './return-time.js';
import { createTransitionModel, type TransitionModel } from './transition-model.js';

/**
 * CacheSage's state: plain data kept in the policy's store (`policy:cachesage`). Nothing lives in closures.
 * - per workload: the transition model, the return models, liveness, the rank judge and what is learned about
 *   anchors (the prefix an agent's prompts share across sessions);
 * - per session: its position in the chain (the last two agents), its own transition counts, its pace on its
 *   engine (requests between its steps);
 * - per engine: the request clock, which blocks are resident (from KV events), the contexts and anchors whose
 *   priorities the engine holds, and the moving averages that set the time scale.
 */
export interface CacheSageState {
  options: CacheSageOptions;
  workloads: Map<string, WorkloadModel>;
  sessions: Map<string, SessionState>;
  engines: Map<string, EngineState>;
  stats: CacheSageStats;
  /** Session of the arrival being decided on (set by observe, read by score), null for other events. */
  arrivalSession: string | null;
  /** Engine whose running request's context grew by the KV event just observed (a decision point), else null. */
  grewOn: string | null;
}

export interface CacheSageStats {
  /** Next-agent predictions checked against the agent that spoke next (a session's later steps only). */
  predictions: number;
  top1Correct: number;
  hintEntries: number;
  prefetches: number;
  sessionsExpired: number;
}

export interface WorkloadModel {
  id: string;
  model: TransitionModel;
  /** Whether an agent speaks again within the horizon, by rank, agents seen and steps made. */
  returns: ReturnModel;
  /** When each seen agent of a session speaks next (see `return-time.ts`). */
  times: ReturnTimeModel;
  /** Whether a late session comes back (see `liveness.ts`). */
  liveness: LivenessModel;
  /** Which return estimate ranks this workload's agents better (see `rank-judge.ts`). */
  judge: RankJudge;
  /** Per agent index: its last prompt (session tag, sampled block hashes), to learn the anchor from the next session. */
  lastPrompt: Map<number, { session: number; samples: Uint32Array }>;
  /** Per agent index: anchor length in blocks (shared prefix across sessions). */
  anchorLen: Map<number, number>;
  /** Bumped when an anchor length changes: contexts registered under an older split re-register. */
  anchorEpoch: number;
  /** How often each agent enters a session (the reuse rate of its anchor). */
  appearances: AppearanceModel;
}

export interface SessionState {
  id: string;
  workloadId: string;
  engineId: string;
  /** Agent before `cur` (null before the second step). */
  prev: number | null;
  /** Agent of the session's latest step. */
  cur: number | null;
  steps: number;
  /** Engine request clock at the session's latest arrival. */
  lastClock: number;
  /** Moving average of engine requests between the session's arrivals. */
  interval: number;
  lastTs: number;
  /** Event time at which the latest step finished (-1 while it runs). */
  finishedTs: number;
  /** Step count at which the session's next agents were last prefetched at a step end, and again as the engine's next arrival (-1: never). */
  prefetchedStep: number;
  refreshedStep: number;
  /** Session-local first-order counts: row key = agent, column = next agent. */
  local: Map<number, Map<number, number>>;
  localTotals: Map<number, number>;
  /** Agents that spoke in this session, most recent first (the recency ranks of the rank model). */
  seen: number[];
  /** Context ids of this session by agent index. */
  contexts: Map<number, string>;
  /** A tool is running after the latest step (its gap is longer). */
  toolRunning: boolean;
  /** Return questions not answered yet (see `return-model.ts`). */
  pending: PendingReturn[];
  /** How the latest step ended (`finishFeature`), FINISH_RUNNING until its FINISHED event. */
  finish: number;
  /** Return-time questions not answered yet. */
  questions: ReturnQuestion[];
  /** Agents asked together whose answers are not all in (for the rank judge), by batch id. */
  batches: Map<number, RankBatch>;
  nextBatch: number;
  /** Liveness questions asked since the session's latest arrival (keys), and the latest answer's estimate. */
  liveKeys: number[];
  alive: number;
  /**
   * Both return estimates' f_k (k = 1..H) for each agent of `seen`, in its order, as computed when the session last
   * moved (its arrival or finish, see `forecastSession`); scoring reuses them until the session's next event, so an
   * engine step costs a discount per context instead of a forecast per session. Empty before the first step.
   */
  forecastChain: Float64Array[];
  forecastDirect: Float64Array[];
  /** `steps` when `forecastChain` was computed (-1: never): the chain is computed once per step, at its arrival. */
  forecastChainStep: number;
}

export interface ContextState {
  id: string;
  sessionId: string;
  agent: number;
  /** Prompt + output blocks of the agent's latest step in the session, head to tail. */
  full: readonly BlockHash[];
  /** Leading blocks of `full` owned by the anchor (not sent in this context's entry). */
  anchorLen: number;
  anchorEpoch: number;
  /** Blocks the engine holds for this context id (what the last registering entry sent), or null if none. */
  registeredLength: number | null;
  /** `full[registeredLength - 1]` when registered (hashes are chained: equal there, equal before), else null. */
  registeredTail: BlockHash | null;
  /** Event time of the latest entry that sent the whole group (`fromBlock` 0). */
  registeredAt: number;
  /** Priority last sent (NaN: never). */
  sentPriority: number;
  /** Set when the session is over or the context was replaced: its blocks are worth nothing. */
  dead: boolean;
  /** Last block of the running request's context while its output is being stored (null when not running). */
  tail: BlockHash | null;
  /** A request of this context arrived and has not reached its cache step yet: its blocks are about to be used. */
  running: boolean;
  /** Priority from the context's survival value (what it gets once its request has been served). */
  valuePriority: number;
  /** Engine request clock and event time of the context's latest arrival (the engine's FIFO order of cache steps). */
  arrivedClock: number;
  arrivedTs: number;
  /** Leading prompt blocks not in GPU at that arrival: found in the CPU tier, and neither (computed). */
  arrivedReload: number;
  arrivedCompute: number;
  /** Arrival clock for which the waiting request's blocks were prefetched (-1: never). */
  prefetchedClock: number;
}

export interface AnchorState {
  id: string;
  workloadId: string;
  agent: number;
  blocks: readonly BlockHash[];
  registeredLength: number | null;
  sentPriority: number;
}

export interface EngineState {
  id: string;
  /** Requests arrived on the engine so far. */
  clock: number;
  resident: BlockHashSet;
  cpu: BlockHashSet;
  /** GPU blocks stored since the latest arrival, and its moving average per request. */
  storedSinceArrival: number;
  storedPerRequest: number;
  /** Moving average of the value of a context right after its agent spoke (what unhinted new blocks are worth). */
  freshValue: number;
  sessions: Set<string>;
  contexts: Map<string, ContextState>;
  anchors: Map<string, AnchorState>;
  /** Contexts that died since the last act, to be sent at the lowest priority once. */
  dying: string[];
  /** Moving average of the engine requests between a session's arrivals, over every session (0: none yet). */
  gap: number;
  /** Sessions dropped as over, with their unanswered liveness questions, until they come back or age out. */
  dropped: Map<string, { workloadId: string; keys: number[]; clock: number }>;
  /** Running requests' contexts by their last block: GPU blocks stored after it extend the context. */
  tails: Map<BlockHash, string>;
  /** Contexts that grew from KV events since the last act. */
  grown: string[];
  /** GPU blocks the engine keeps between requests, as learned from its evictions (0 until the first eviction). */
  capacity: number;
  /** Event time of the latest cache step seen (a running request's output stored), -1 before any. */
  stepTs: number;
  /** Arrival clock of that step's request, its blocks to compute and to reload, and its predicted prefill (ms). */
  stepClock: number;
  stepCompute: number;
  stepReload: number;
  stepBusyMs: number;
  /** Prefill-time model (see `prefill-model.ts`). */
  prefill: PrefillModel;
  /** Low quantile of the time from a step's finish to the session's next arrival (ms), after a step without and with a tool call (0: none seen). */
  quickGapMs: number[];
}

export function createCacheSageState(options: CacheSageOptions): CacheSageState {
  return {
    options,
    workloads: new Map(),
    sessions: new Map(),
    engines: new Map(),
    stats: { predictions: 0, top1Correct: 0, hintEntries: 0, prefetches: 0, sessionsExpired: 0 },
    arrivalSession: null,
    grewOn: null,
  };
}

export function workloadOf(state: CacheSageState, id: string): WorkloadModel {
  let w = state.workloads.get(id);
  if (w === undefined) {
    w = {
      id,
      model: createTransitionModel(state.options.model),
      returns: createReturnModel(),
      times: createReturnTimeModel(state.options.horizonSteps),
      liveness: createLivenessModel(),
      judge: createRankJudge(),
      lastPrompt: new Map(),
      anchorLen: new Map(),
      anchorEpoch: 0,
      appearances: createAppearanceModel(),
    };
    state.workloads.set(id, w);
  }
  return w;
}

export function engineOf(state: CacheSageState, id: string): EngineState {
  let e = state.engines.get(id);
  if (e === undefined) {
    e = {
      id,
      clock: 0,
      resident: new BlockHashSet(),
      cpu: new BlockHashSet(),
      storedSinceArrival: 0,
      storedPerRequest: 0,
      freshValue: 0,
      sessions: new Set(),
      contexts: new Map(),
      anchors: new Map(),
      dying: [],
      gap: 0,
      dropped: new Map(),
      tails: new Map(),
      grown: [],
      capacity: 0,
      stepTs: -1,
      stepClock: -1,
      stepCompute: 0,
      stepReload: 0,
      stepBusyMs: 0,
      prefill: createPrefillModel(),
      quickGapMs: [0, 0],
    };
    state.engines.set(id, e);
  }
  return e;
}
