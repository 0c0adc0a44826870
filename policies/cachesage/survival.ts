import type { CacheSageOptions } from './options.js';
import type { EngineState, SessionState, WorkloadModel } from './state.js';
import { END, firstOrderP, marginalP, secondOrderP } from './transition-model.js';

/**
 * Survival scoring (DESIGN §6.2). A cached context (s, a) is worth keeping if agent a speaks again in session s
 * before its blocks would be evicted. The session's next steps follow the learned chain from its last two agents
 * (second order for the first step, first order after), blended with the session's own transition counts; END is
 * absorbing. Over the next H steps the probability f_k that a first speaks at step k is discounted by the engine
 * time (in engine requests) at which that step is expected: the session's next arrival is due in w requests and
 * later steps follow every `interval` requests. The discount γ = exp(−1/L) uses the engine's cache lifetime L in
 * requests (resident blocks / blocks stored per request), so a context needed after the cache would have turned
 * over is worth little.
 *
 *   V(s, a) = alive(s) · Σ_{k=1..H} f_k(a) · γ^(w + (k−1)·interval)
 *
 * The state space is the agents seen in the session plus OTHER (every other agent lumped), which keeps the cost at
 * O(H·m³) for m agents in the session, independent of how many agents the workload has.
 */

/** Probability distribution of a session's next step over its seen agents, OTHER and END. */
export interface NextStep {
  /** Agents seen in the session (indices in the workload model), then OTHER (-2). */
  states: number[];
  /** P(next = states[i]) for the first step. */
  first: Float64Array;
  /** Row-major (m+1)×(m+1) transition matrix over `states` (END mass = 1 − row sum). */
  matrix: Float64Array;
}

export const OTHER = -2;

/** P(next = j | session state) blending the session's own counts with the global chain (END excluded from local). */
function blended(
  w: WorkloadModel,
  s: SessionState,
  prev: number | null,
  cur: number,
  j: number,
  prior: number,
  endP: number,
): number {
  const global = prev === null ? firstOrderP(w.model, cur, j) : secondOrderP(w.model, prev, cur, j);
  const n = s.localTotals.get(cur) ?? 0;
  if (n === 0) return global;
  const c = s.local.get(cur)?.get(j) ?? 0;
  const nonEnd = Math.max(1e-12, 1 - endP);
  return (1 - endP) * ((c + prior * (global / nonEnd)) / (n + prior));
}

/** The chain of one session: first-step distribution (second order) and the transition matrix (first order). */
export function nextStep(w: WorkloadModel, s: SessionState, options: CacheSageOptions): NextStep | null {
  if (s.cur === null) return null;
  const states = [...s.seen, OTHER];
  const m = states.length;
  const prior = options.sessionPrior;
  const matrix = new Float64Array(m * m);
  for (let i = 0; i < m - 1; i++) {
    const x = states[i] as number;
    const endP = firstOrderP(w.model, x, END);
    let sum = 0;
    for (let k = 0; k < m - 1; k++) {
      const p = blended(w, s, null, x, states[k] as number, prior, endP);
      matrix[i * m + k] = p;
      sum += p;
    }
    matrix[i * m + m - 1] = Math.max(0, 1 - endP - sum);
  }
  {
    const endP = marginalP(w.model, END);
    let sum = 0;
    for (let k = 0; k < m - 1; k++) {
      const p = marginalP(w.model, states[k] as number);
      matrix[(m - 1) * m + k] = p;
      sum += p;
    }
    matrix[(m - 1) * m + m - 1] = Math.max(0, 1 - endP - sum);
  }
  const first = new Float64Array(m);
  const cur = s.cur;
  const endP = s.prev === null ? firstOrderP(w.model, cur, END) : secondOrderP(w.model, s.prev, cur, END);
  let sum = 0;
  for (let k = 0; k < m - 1; k++) {
    const p = blended(w, s, s.prev, cur, states[k] as number, prior, endP);
    first[k] = p;
    sum += p;
  }
  first[m - 1] = Math.max(0, 1 - endP - sum);
  return { states, first, matrix };
}

/**
 * f_k for k = 1..H: the probability that state `target` (an index into `step.states`) is first reached at step k.
 * Writes into `out` (length ≥ H) and returns it.
 */
export function firstPassage(step: NextStep, target: number, horizon: number, out: Float64Array): Float64Array {
  const m = step.states.length;
  let dist = Float64Array.from(step.first);
  let next = new Float64Array(m);
  for (let k = 0; k < horizon; k++) {
    out[k] = dist[target] as number;
    if (k === horizon - 1) break;
    next.fill(0);
    for (let x = 0; x < m; x++) {
      if (x === target) continue;
      const px = dist[x] as number;
      if (px === 0) continue;
      const row = x * m;
      for (let y = 0; y < m; y++) next[y] = (next[y] as number) + px * (step.matrix[row + y] as number);
    }
    [dist, next] = [next, dist];
  }
  return out;
}

/** Probability that the session is still running, from how overdue its next arrival is. */
export function aliveProbability(e: EngineState, s: SessionState): number {
  const elapsed = e.clock - s.lastClock;
  const overdue = elapsed - s.interval;
  return overdue > 0 ? Math.exp(-overdue / Math.max(1, s.interval)) : 1;
}

/** Engine requests until the session's next arrival is due (at least 1). */
export function dueIn(e: EngineState, s: SessionState): number {
  return Math.max(1, s.interval - (e.clock - s.lastClock));
}

/** The per-request discount of an engine: exp(−1 / cache lifetime in requests). */
export function discountOf(e: EngineState): number {
  const perRequest = Math.max(1, e.storedPerRequest);
  const lifetime = Math.max(1, e.resident.size / perRequest);
  return Math.exp(-1 / lifetime);
}

/** V(s, a) for every agent seen in the session, by agent index. */
export function contextValues(
  w: WorkloadModel,
  e: EngineState,
  s: SessionState,
  options: CacheSageOptions,
): Map<number, number> {
  const values = new Map<number, number>();
  const step = nextStep(w, s, options);
  if (step === null) return values;
  const H = options.horizonSteps;
  const gamma = discountOf(e);
  const alive = aliveProbability(e, s);
  const wait = dueIn(e, s);
  const f = new Float64Array(H);
  const discounts = new Float64Array(H);
  for (let k = 0; k < H; k++) discounts[k] = gamma ** (wait + k * Math.max(1, s.interval));
  for (let i = 0; i < step.states.length - 1; i++) {
    firstPassage(step, i, H, f);
    let v = 0;
    for (let k = 0; k < H; k++) v += (f[k] as number) * (discounts[k] as number);
    values.set(step.states[i] as number, alive * v);
  }
  return values;
}

/** Value of an anchor used at a rate of `rate` per engine request: E[γ^T] for T geometric with that rate. */
export function anchorValue(rate: number, gamma: number): number {
  if (rate <= 0) return 0;
  return (rate * gamma) / (1 - (1 - rate) * gamma);
}
