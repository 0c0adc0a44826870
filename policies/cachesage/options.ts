import { ConfigError } from '../../core/errors.js';
import { DEFAULT_TRANSITION_OPTIONS, type TransitionModelOptions } from './transition-model.js';

/**
 * CacheSage's parameters. One set for every workload: nothing here is keyed to a workload's name or shape; what
 * differs between workloads is learned online.
 */
export interface CacheSageOptions {
  /** Steps ahead over which a context's reuse is estimated (a short horizon ranks better than a long one). */
  horizonSteps: number;
  /** Multiplies the cache lifetime (resident blocks / blocks stored per request) that sets the time discount. */
  lifetimeScale: number;
  /**
   * Weight of the global model against a session's own transition counts in the reuse forecast that ranks contexts
   * for eviction (higher: trust the global model longer).
   */
  sessionPrior: number;
  /**
   * The same weight in the next-agent distribution (predict: prefetch, the prediction handed to acts, next-agent
   * top-1). Ranking contexts gains from a session's own counts early; naming the single next agent gains from the
   * workload's chain longer, hence a weight of its own.
   */
  nextAgentPrior: number;
  /** Smoothing and decay of the workload transition model. */
  model: TransitionModelOptions;
  /** Priorities are value differences rounded to 1/priorityResolution: closer values tie and fall back to LRU. */
  priorityResolution: number;
  /** Weight of a new observation in the per-engine moving averages (request interval, blocks per request...). */
  ewmaAlpha: number;
  /** Half-life (in requests) of the counts behind an anchor's reuse rate (how often its agent enters a session). */
  anchorHalfLifeRequests: number;
  /** A session idle this long (event time) is over: its contexts are dead and END is counted. */
  sessionIdleMs: number;
  /** A session silent for more than this many of its own intervals (in engine requests) is over. */
  sessionOverdueIntervals: number;
  /** A session whose learned chance of coming back falls below this is over. */
  sessionOverProbability: number;
  /** Prefetch the context of a predicted next agent when its probability is at least this. */
  prefetchMinProbability: number;
  /** At most this many agents' contexts are prefetched per step end. */
  prefetchMaxAgents: number;
  /** A prefetch must finish within this many ms of the step end to be worth it (before any gap is learned). */
  prefetchDeadlineMs: number;
  /** Share of the predicted prefill of the request ahead that a prefetch for a waiting request may take. */
  prefetchSafety: number;
  /** ttl of eviction hints. */
  hintTtlMs: number;
  /**
   * A context's whole block list is sent again at least this often; in between, a growing context sends only the
   * blocks it added (`EvictionEntry.fromBlock`). Acts travel at most once (core NATS): a hook that missed one skips
   * the context's extensions until the next whole list.
   */
  registrationRefreshMs: number;
  /** Smoothing weight of a return-time level towards the coarser one. */
  returnSmoothing: number;
  /** Sharpness of the return-time expert mixture (per answered question of log loss). */
  returnMixRate: number;
  /** Where f_k comes from: 0 the chain sharpened by the return model, 1 the return-time mixture, 2 the better ranker. */
  returnMode: number;
  /** Leading blocks compared when learning an agent's anchor (shared prefix across sessions). */
  anchorMaxBlocks: number;
}

export const DEFAULT_CACHESAGE_OPTIONS: CacheSageOptions = {
  horizonSteps: 4,
  lifetimeScale: 0.35,
  sessionPrior: 0.5,
  nextAgentPrior: 3,
  model: DEFAULT_TRANSITION_OPTIONS,
  priorityResolution: 20,
  ewmaAlpha: 0.2,
  anchorHalfLifeRequests: 1000,
  sessionIdleMs: 10 * 60_000,
  sessionOverdueIntervals: 3,
  sessionOverProbability: 0.05,
  prefetchMinProbability: 0.3,
  prefetchMaxAgents: 2,
  prefetchDeadlineMs: 30_000,
  prefetchSafety: 0.8,
  hintTtlMs: 30_000,
  registrationRefreshMs: 300_000,
  anchorMaxBlocks: 128,
  returnSmoothing: 2,
  returnMixRate: 0.03,
  returnMode: 2,
};

export function resolveCacheSageOptions(given: Partial<CacheSageOptions> = {}): CacheSageOptions {
  const o: CacheSageOptions = {
    ...DEFAULT_CACHESAGE_OPTIONS,
    ...given,
    model: { ...DEFAULT_CACHESAGE_OPTIONS.model, ...(given.model ?? {}) },
  };
  const positive = (name: string, v: number): void => {
    if (!(typeof v === 'number' && v > 0)) throw new ConfigError(`cachesage: ${name} must be > 0, got ${v}`);
  };
  const unit = (name: string, v: number): void => {
    if (!(typeof v === 'number' && v > 0 && v <= 1)) throw new ConfigError(`cachesage: ${name} must be in (0, 1]`);
  };
  if (!Number.isInteger(o.horizonSteps) || o.horizonSteps < 1 || o.horizonSteps > 16) {
    throw new ConfigError(`cachesage: horizonSteps must be an integer in 1..16, got ${o.horizonSteps}`);
  }
  positive('sessionPrior', o.sessionPrior);
  positive('nextAgentPrior', o.nextAgentPrior);
  positive('lifetimeScale', o.lifetimeScale);
  positive('model.firstOrderPrior', o.model.firstOrderPrior);
  positive('model.secondOrderPrior', o.model.secondOrderPrior);
  positive('model.decayHalfLifeTransitions', o.model.decayHalfLifeTransitions);
  positive('priorityResolution', o.priorityResolution);
  unit('ewmaAlpha', o.ewmaAlpha);
  positive('anchorHalfLifeRequests', o.anchorHalfLifeRequests);
  positive('sessionIdleMs', o.sessionIdleMs);
  positive('sessionOverdueIntervals', o.sessionOverdueIntervals);
  unit('prefetchMinProbability', o.prefetchMinProbability);
  unit('sessionOverProbability', o.sessionOverProbability);
  if (!Number.isInteger(o.prefetchMaxAgents) || o.prefetchMaxAgents < 0) {
    throw new ConfigError('cachesage: prefetchMaxAgents must be an integer ≥ 0');
  }
  positive('prefetchDeadlineMs', o.prefetchDeadlineMs);
  unit('prefetchSafety', o.prefetchSafety);
  positive('hintTtlMs', o.hintTtlMs);
  positive('registrationRefreshMs', o.registrationRefreshMs);
  positive('anchorMaxBlocks', o.anchorMaxBlocks);
  positive('returnSmoothing', o.returnSmoothing);
  positive('returnMixRate', o.returnMixRate);
  if (![0, 1, 2].includes(o.returnMode)) throw new ConfigError('cachesage: returnMode must be 0, 1 or 2');
  return o;
}
