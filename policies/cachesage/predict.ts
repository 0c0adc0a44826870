import type { NextAgent } from '../policy.js';
import { chainP, chainView } from './chain.js';
import type { CacheSageOptions } from './options.js';
import type { SessionState, WorkloadModel } from './state.js';
import { END } from './transition-model.js';

/**
 * Next-agent distribution of a session (DESIGN §6.3: predict) over every agent the workload model knows: the global
 * chain (second order, backing off to first) blended with the session's own counts, END kept from the global chain.
 * Returns the agents in descending probability (at most `limit`) and the probability of END.
 */
export function nextAgentDistribution(
  w: WorkloadModel,
  s: SessionState,
  options: CacheSageOptions,
  limit: number,
): { next: NextAgent[]; endP: number; top: number | null } {
  if (s.cur === null) return { next: [], endP: 0, top: null };
  const m = w.model;
  const cur = s.cur;
  const v = chainView(w, s);
  const endP = chainP(v, s.prev, cur, END);
  const nonEnd = Math.max(1e-12, 1 - endP);
  const n = s.localTotals.get(cur) ?? 0;
  const row = s.local.get(cur);
  const prior = options.nextAgentPrior;
  const ranked: NextAgent[] = [];
  let top: number | null = null;
  let topP = -1;
  for (let j = 0; j < m.agents.length; j++) {
    const g = chainP(v, s.prev, cur, j);
    const p = n === 0 ? g : (1 - endP) * (((row?.get(j) ?? 0) + prior * (g / nonEnd)) / (n + prior));
    if (p > topP) {
      topP = p;
      top = j;
    }
    if (limit > 0) ranked.push({ agentId: m.agents[j] as string, p });
  }
  if (limit > 0) {
    ranked.sort((x, y) => y.p - x.p);
    if (ranked.length > limit) ranked.length = limit;
  }
  return { next: ranked, endP, top };
}

/** The most likely next agent (index), or null before the session's first step. */
export function predictNextAgent(w: WorkloadModel, s: SessionState, options: CacheSageOptions): number | null {
  return nextAgentDistribution(w, s, options, 0).top;
}
