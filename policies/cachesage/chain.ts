import type { SessionState, WorkloadModel } from './state.js';
import { END, firstOrderP, marginalP, rankP, secondOrderP } from './transition-model.js';

/**
 * One session's next-step probabilities from the workload model, before blending with the session's own counts:
 * the name-based chain (second order from the session's last two agents, first order from a hypothetical current
 * agent) smoothed towards the recency-rank prior, which is computed against the session's recency list as it
 * would be with `cur` as the latest speaker.
 */
export interface ChainView {
  w: WorkloadModel;
  s: SessionState;
  /** P(END) marginal: the prior's END mass. */
  endPrior: number;
  /** Σ of the marginal over agents the session has not seen (spreads the rank model's "new agent" mass). */
  unseenMarginal: number;
}

export function chainView(w: WorkloadModel, s: SessionState): ChainView {
  const endPrior = marginalP(w.model, END);
  let seenMarginal = 0;
  for (const a of s.seen) seenMarginal += marginalP(w.model, a);
  const unseenMarginal = Math.max(1e-12, 1 - endPrior - seenMarginal);
  return { w, s, endPrior, unseenMarginal };
}

/** Recency rank of `j` in the session if `cur` had just spoken (null: `j` has not spoken in the session). */
export function rankIf(s: SessionState, cur: number, j: number): number | null {
  if (j === cur) return 0;
  const at = s.seen.indexOf(j);
  if (at < 0) return null;
  const curAt = s.seen.indexOf(cur);
  return curAt < 0 || curAt > at ? at + 1 : at;
}

/** Distinct agents the session would have seen with `cur` as its latest speaker. */
export function seenIf(s: SessionState, cur: number): number {
  return s.seen.includes(cur) ? s.seen.length : s.seen.length + 1;
}

/**
 * The prior probability of `j` next after `cur` (rank model); `j` = END gives the END prior. From the session's
 * current agent, the rank model also knows whether that agent made the two latest steps (a streak).
 */
export function priorOf(v: ChainView, cur: number, j: number): number {
  if (j === END) return v.endPrior;
  const rank = rankIf(v.s, cur, j);
  const streak = cur === v.s.cur && v.s.prev !== null ? v.s.prev === cur : undefined;
  const p = (1 - v.endPrior) * rankP(v.w.model, rank, cur, seenIf(v.s, cur), 2, streak);
  return rank === null ? (p * marginalP(v.w.model, j)) / v.unseenMarginal : p;
}

/** Prior mass of every agent new to the session (the OTHER state). */
export function otherPrior(v: ChainView, cur?: number): number {
  return (1 - v.endPrior) * rankP(v.w.model, null, cur, cur === undefined ? undefined : seenIf(v.s, cur));
}

/** P(next = j | prev, cur) from the workload model (prev null: first order). */
export function chainP(v: ChainView, prev: number | null, cur: number, j: number): number {
  const q = priorOf(v, cur, j);
  return prev === null ? firstOrderP(v.w.model, cur, j, q) : secondOrderP(v.w.model, prev, cur, j, q);
}
