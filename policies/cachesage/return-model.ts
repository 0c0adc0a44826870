import type { SessionState, WorkloadModel } from './state.js';

/**
 * Whether an agent speaks again in its session within the next H steps, learned per workload from how the question
 * turned out for earlier steps, keyed by the agent's recency rank, how many agents the session has seen and how many
 * steps it has made (capped bins, no agent names: it carries over to agents renamed per task). The survival score
 * combines this with the chain's own estimate (see `survival.ts`), which sharpens "is this agent done here?".
 */
export interface ReturnModel {
  counts: Map<number, [number, number]>;
  hits: number;
  total: number;
}

/** A question waiting for its answer: did `agent` speak within H steps after step `step`? */
export interface PendingReturn {
  step: number;
  agent: number;
  key: number;
}

const RANK_CAP = 7;
const SEEN_CAP = 7;
const STEP_CAP = 31;

export function createReturnModel(): ReturnModel {
  return { counts: new Map(), hits: 0, total: 0 };
}

export function returnKey(rank: number, seen: number, steps: number): number {
  return (Math.min(rank, RANK_CAP) * 8 + Math.min(seen, SEEN_CAP)) * 32 + Math.min(steps, STEP_CAP);
}

function record(m: ReturnModel, key: number, hit: boolean): void {
  let c = m.counts.get(key);
  if (c === undefined) {
    c = [0, 0];
    m.counts.set(key, c);
  }
  if (hit) {
    c[0]++;
    m.hits++;
  }
  c[1]++;
  m.total++;
  if (c[1] >= 1024) {
    c[0] = Math.ceil(c[0] / 2);
    c[1] = Math.ceil(c[1] / 2);
  }
}

/** Overall rate at which an agent of a session speaks again within H steps. */
export function baseReturnRate(m: ReturnModel): number {
  return (m.hits + 1) / (m.total + 2);
}

/** P(return within H | key), smoothed towards the overall rate with weight `prior`. */
export function returnP(m: ReturnModel, key: number, prior = 4): number {
  const c = m.counts.get(key);
  const base = baseReturnRate(m);
  if (c === undefined) return base;
  return (c[0] + prior * base) / (c[1] + prior);
}

/**
 * A session's step by `agent` is about to be counted (before the session's state moves on): answers the pending
 * questions this step settles (the agent returned; questions older than `horizon` steps did not).
 */
export function settleReturns(w: WorkloadModel, s: SessionState, agent: number, horizon: number): void {
  const keep: PendingReturn[] = [];
  for (const q of s.pending) {
    if (q.agent === agent) record(w.returns, q.key, true);
    else if (s.steps - q.step >= horizon) record(w.returns, q.key, false);
    else keep.push(q);
  }
  s.pending = keep;
}

/** After a step: asks the question for every agent the session has seen (ranks as they are now). */
export function askReturns(s: SessionState): void {
  for (let r = 0; r < s.seen.length; r++) {
    const agent = s.seen[r] as number;
    s.pending.push({ step: s.steps, agent, key: returnKey(r, s.seen.length, s.steps) });
  }
}

/** The session ended: no pending agent returned. */
export function closeReturns(w: WorkloadModel, s: SessionState): void {
  for (const q of s.pending) record(w.returns, q.key, false);
  s.pending = [];
}
