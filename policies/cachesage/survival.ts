import { type ChainView, chainP, chainView, otherPrior } from './chain.js';
import type { CacheSageOptions } from './options.js';
import { judgePrefersChain } from './rank-judge.js';
import { baseReturnRate, returnKey, returnP } from './return-model.js';
import { questionFeatures, returnTimeP } from './return-time.js';
import type { EngineState, SessionState, WorkloadModel } from './state.js';
import { END, lengthHazard, marginalP } from './transition-model.js';

/**
 * Survival scoring (DESIGN §6.2). A cached context (s, a) is worth keeping if agent a speaks again in session s
 * before its blocks would be evicted. f_k is the probability that a next speaks at the session's k-th next step
 * (k = 1..H; the learned return-time mixture adds a "later" class valued at the horizon). It comes from one of two
 * estimates, whichever has ranked this workload's agents better so far (see `rank-judge.ts`):
 * - the chain: the session's next steps follow the learned transition model from its last two agents (second order
 *   for the first step, first order after) blended with the session's own counts, END absorbing, sharpened by the
 *   return model; the state space is the agents seen in the session plus OTHER, O(H·m³) for m agents;
 * - the return-time mixture (see `return-time.ts`): f_k learned directly from how the same question turned out.
 * Each step is discounted by the engine time (in engine requests) at which it is expected: the session's next
 * arrival is due in w requests and later steps follow every `interval` requests. The discount γ = exp(−1/L) uses the
 * engine's cache lifetime L in requests (resident blocks / blocks stored per request), so a context needed after
 * the cache would have turned over is worth little; alive(s) is the learned liveness (see `liveness.ts`).
 *
 *   V(s, a) = alive(s) · Σ_k f_k(a) · γ^(w + (k−1)·interval)
 */

/** A session's chain over its seen agents and OTHER, END handled per step (see `firstPassage`). */
export interface NextStep {
  /** Agents seen in the session (indices in the workload model), then OTHER (-2). */
  states: number[];
  /** P(next = states[i] | no END) for the first step. */
  first: Float64Array;
  /** P(END instead of the first step). */
  firstEnd: number;
  /** Row-major m×m transition matrix over `states`, each row normalized over non-END steps. */
  matrix: Float64Array;
  /** P(END | last agent = states[i]) from the name model. */
  endName: Float64Array;
  /** Session-length hazard for the step after the k-th next step (index k−1), and its overall rate. */
  hazards: Float64Array;
  baseEnd: number;
  /** 1 − the combined END of state x at the step after the k-th next step, at [k·m + x] (`stayTable`). */
  stay: Float64Array;
}

/** The chain's per-step survival, the same for every target: m·H combined ENDs per session forecast, not per target. */
export function stayTable(endName: Float64Array, hazards: Float64Array, baseEnd: number): Float64Array {
  const m = endName.length;
  const t = new Float64Array(hazards.length * m);
  for (let k = 0; k < hazards.length; k++) {
    const hazard = hazards[k] as number;
    for (let x = 0; x < m; x++) t[k * m + x] = 1 - combineEnd(endName[x] as number, hazard, baseEnd);
  }
  return t;
}

export const OTHER = -2;

function logit(p: number): number {
  const q = Math.min(1 - 1e-9, Math.max(1e-9, p));
  return Math.log(q / (1 - q));
}

/**
 * P(END) from two sources of evidence taken as independent given the base rate (odds combine): the name model's
 * END after the last agent, and the session-length hazard at the session's step count.
 */
export function combineEnd(nameEnd: number, hazard: number, baseEnd: number): number {
  const z = logit(nameEnd) + logit(hazard) - logit(baseEnd);
  return 1 / (1 + Math.exp(-z));
}

/**
 * P(next = j) blending the session's own counts (rows of `cur`) with the workload chain, over non-END steps only
 * (a session's own counts never saw its END).
 */
function blended(v: ChainView, prev: number | null, cur: number, j: number, prior: number, endP: number): number {
  const nonEnd = Math.max(1e-12, 1 - endP);
  const global = chainP(v, prev, cur, j) / nonEnd;
  const n = v.s.localTotals.get(cur) ?? 0;
  if (n === 0) return global;
  const c = v.s.local.get(cur)?.get(j) ?? 0;
  return (c + prior * global) / (n + prior);
}

/** The chain of one session: first step (second order), transition matrix (first order), END per step. */
export function nextStep(w: WorkloadModel, s: SessionState, options: CacheSageOptions): NextStep | null {
  if (s.cur === null) return null;
  const v = chainView(w, s);
  const states = [...s.seen, OTHER];
  const m = states.length;
  const prior = options.sessionPrior;
  const matrix = new Float64Array(m * m);
  const endName = new Float64Array(m);
  for (let i = 0; i < m - 1; i++) {
    const x = states[i] as number;
    const endP = chainP(v, null, x, END);
    endName[i] = endP;
    let sum = 0;
    for (let k = 0; k < m - 1; k++) {
      const p = blended(v, null, x, states[k] as number, prior, endP);
      matrix[i * m + k] = p;
      sum += p;
    }
    matrix[i * m + m - 1] = Math.max(0, 1 - sum);
  }
  const baseEnd = marginalP(w.model, END);
  {
    const other = otherPrior(v) / Math.max(1e-12, 1 - baseEnd);
    endName[m - 1] = baseEnd;
    let sum = 0;
    for (let k = 0; k < m - 1; k++) {
      const p =
        (1 - other) * (marginalP(w.model, states[k] as number) / Math.max(1e-12, 1 - baseEnd - v.unseenMarginal));
      matrix[(m - 1) * m + k] = p;
      sum += p;
    }
    matrix[(m - 1) * m + m - 1] = Math.max(0, 1 - sum);
  }
  const first = new Float64Array(m);
  const cur = s.cur;
  const endP = chainP(v, s.prev, cur, END);
  let sum = 0;
  for (let k = 0; k < m - 1; k++) {
    const p = blended(v, s.prev, cur, states[k] as number, prior, endP);
    first[k] = p;
    sum += p;
  }
  first[m - 1] = Math.max(0, 1 - sum);
  const H = options.horizonSteps;
  const hazards = new Float64Array(H);
  for (let k = 0; k < H; k++) hazards[k] = lengthHazard(w.model, s.steps + k + 1);
  const firstEnd = combineEnd(endP, lengthHazard(w.model, s.steps), baseEnd);
  const stay = stayTable(endName, hazards, baseEnd);
  return { states, first, firstEnd, matrix, endName, hazards, baseEnd, stay };
}

/**
 * f_k for k = 1..H: the probability that state `target` (an index into `step.states`) is first reached at step k,
 * the session ending (END) at each step with the combined END probability. Writes into `out` and returns it.
 */
export function firstPassage(step: NextStep, target: number, horizon: number, out: Float64Array): Float64Array {
  const m = step.states.length;
  let dist = new Float64Array(m);
  for (let x = 0; x < m; x++) dist[x] = (step.first[x] as number) * (1 - step.firstEnd);
  let next = new Float64Array(m);
  for (let k = 0; k < horizon; k++) {
    out[k] = dist[target] as number;
    if (k === horizon - 1) break;
    next.fill(0);
    const at = k * m;
    for (let x = 0; x < m; x++) {
      if (x === target) continue;
      const px = dist[x] as number;
      if (px === 0) continue;
      const stay = px * (step.stay[at + x] as number);
      const row = x * m;
      for (let y = 0; y < m; y++) next[y] = (next[y] as number) + stay * (step.matrix[row + y] as number);
    }
    [dist, next] = [next, dist];
  }
  return out;
}

/** Probability that the session is still running, from how overdue its next arrival is. */
export function aliveProbability(_e: EngineState, s: SessionState): number {
  return s.alive;
}

/** Engine requests until the session's next arrival is due (at least 1). */
export function dueIn(e: EngineState, s: SessionState): number {
  return Math.max(1, s.interval - (e.clock - s.lastClock));
}

/** The per-request discount of an engine: exp(−1 / cache lifetime in requests). */
export function discountOf(e: EngineState, lifetimeScale = 1): number {
  const perRequest = Math.max(1, e.storedPerRequest);
  const lifetime = Math.max(1, (lifetimeScale * e.resident.size) / perRequest);
  return Math.exp(-1 / lifetime);
}

/** Both return estimates of every agent seen in a session, by recency rank, with the return-time features. */
export interface SessionForecast {
  features: number[][];
  /** The chain's f_k (k = 1..H). */
  chain: Float64Array[];
  /** The return-time mixture's f_k (k = 1..H). */
  direct: Float64Array[];
}

/**
 * The session's forecasts as it stands now. At a finish the chain computed at the step's arrival is reused: the
 * session's agents and own counts change only when a step arrives (how the step ended is a return-time feature, not
 * a chain input), and between the two only the counts other sessions add move the workload model. One chain
 * forecast per step instead of two.
 */
export function forecastSession(w: WorkloadModel, s: SessionState, options: CacheSageOptions): SessionForecast {
  const features = sessionFeatures(s);
  const sameStep = s.forecastChainStep === s.steps && s.forecastChain.length === s.seen.length;
  return {
    features,
    chain: sameStep ? s.forecastChain : chainForecast(w, s, options),
    direct: directForecast(w, s, options, features),
  };
}

/** The chain's f_k for every agent of `s.seen`, in its order. */
function chainForecast(w: WorkloadModel, s: SessionState, options: CacheSageOptions): Float64Array[] {
  const H = options.horizonSteps;
  const chainByAgent = chainDistributions(w, s, options);
  return s.seen.map((a) => chainByAgent.get(a) ?? new Float64Array(H));
}

/** The return-time mixture's f_k (k = 1..H, then "later") for every agent of `s.seen`, in its order. */
function directForecast(
  w: WorkloadModel,
  s: SessionState,
  options: CacheSageOptions,
  features = sessionFeatures(s),
): Float64Array[] {
  const rt = { horizon: options.horizonSteps, smoothing: options.returnSmoothing, mixRate: options.returnMixRate };
  const p = new Float64Array(options.horizonSteps + 2);
  return features.map((f) => returnTimeP(w.times, f, rt, p).slice(1));
}

/** Discounted return score of f (how the judge compares the two estimates' rankings). */
export function rankScore(f: Float64Array): number {
  let v = 0;
  for (let k = 0; k < f.length; k++) v += (f[k] as number) * 0.5 ** (k + 1);
  return v;
}

/**
 * For every agent seen in the session (by agent index): f_k, k = 1..H, the probability that it first speaks again
 * at the session's k-th next step: the chain's first passage (sharpened by the learned return model), the learned
 * return-time mixture, or (returnMode 2) whichever has ranked the session's agents better so far on this workload.
 * Uses the forecast the session stored at its latest event (`SessionState.forecastChain/Direct`) when it has one.
 */
export function returnDistributions(
  w: WorkloadModel,
  s: SessionState,
  options: CacheSageOptions,
): Map<number, Float64Array> {
  if (options.returnMode === 0 || s.cur === null) return chainDistributions(w, s, options);
  const useChain = options.returnMode === 2 && judgePrefersChain(w.judge);
  const stored = useChain ? s.forecastChain : s.forecastDirect;
  const fs =
    stored.length === s.seen.length ? stored : useChain ? chainForecast(w, s, options) : directForecast(w, s, options);
  const out = new Map<number, Float64Array>();
  for (let r = 0; r < s.seen.length; r++) out.set(s.seen[r] as number, fs[r] as Float64Array);
  return out;
}

/** The chain's f_k for every agent seen in the session, sharpened by the learned return model. */
export function chainDistributions(
  w: WorkloadModel,
  s: SessionState,
  options: CacheSageOptions,
): Map<number, Float64Array> {
  const out = new Map<number, Float64Array>();
  const step = nextStep(w, s, options);
  if (step === null) return out;
  const H = options.horizonSteps;
  const base = baseReturnRate(w.returns);
  for (let i = 0; i < step.states.length - 1; i++) {
    const f = firstPassage(step, i, H, new Float64Array(H));
    let chain = 0;
    for (let k = 0; k < H; k++) chain += f[k] as number;
    if (chain > 0 && w.returns.total > 0) {
      const rank = s.seen.indexOf(step.states[i] as number);
      const learned = returnP(w.returns, returnKey(Math.max(0, rank), s.seen.length, s.steps));
      const combined = 1 / (1 + Math.exp(-(logit(chain) + logit(learned) - logit(base))));
      const scale = Math.min(1 / chain, combined / chain);
      for (let k = 0; k < H; k++) f[k] = (f[k] as number) * scale;
    }
    out.set(step.states[i] as number, f);
  }
  return out;
}

/** Return-time features of every agent seen in the session, in recency order (see `questionFeatures`). */
export function sessionFeatures(s: SessionState): number[][] {
  const n = s.seen.length;
  const cur = s.cur ?? -1;
  const row = s.local.get(cur);
  const localOut = s.localTotals.get(cur) ?? 0;
  const out: number[][] = [];
  for (let r = 0; r < n; r++) {
    const agent = s.seen[r] as number;
    out.push(questionFeatures(r, s.finish, n, s.steps, cur, agent, s.prev ?? -1, row?.get(agent) ?? 0, localOut));
  }
  return out;
}

/** V(s, a) for every agent seen in the session, by agent index. */
export function contextValues(
  w: WorkloadModel,
  e: EngineState,
  s: SessionState,
  options: CacheSageOptions,
): Map<number, number> {
  const values = new Map<number, number>();
  const dists = returnDistributions(w, s, options);
  if (dists.size === 0) return values;
  const H = options.horizonSteps;
  const gamma = discountOf(e, options.lifetimeScale);
  const alive = aliveProbability(e, s);
  const wait = dueIn(e, s);
  const discounts = new Float64Array(H + 1);
  for (let k = 0; k <= H; k++) discounts[k] = gamma ** (wait + k * Math.max(1, s.interval));
  for (const [agent, f] of dists) {
    let v = 0;
    for (let k = 0; k < f.length; k++) v += (f[k] as number) * (discounts[k] as number);
    values.set(agent, alive * v);
  }
  return values;
}

/** Value of an anchor used at a rate of `rate` per engine request: E[γ^T] for T geometric with that rate. */
export function anchorValue(rate: number, gamma: number): number {
  if (rate <= 0) return 0;
  return (rate * gamma) / (1 - (1 - rate) * gamma);
}
