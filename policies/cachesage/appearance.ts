import { leastUsedKey } from './least-used.js';

/**
 * How often each agent enters a session it has not spoken in yet (a session's first step, or an agent new to its
 * session), per request of the workload: the rate at which its anchor (the system-prompt prefix its prompts share
 * across sessions) is needed with no live context of its own holding it. Counts decay with a half-life in requests so
 * that the rate follows drift; they are kept multiplied by a growing scale (one multiplication per request instead of
 * one per agent), renormalized before the scale grows too large.
 */
export interface AppearanceModel {
  /** Per agent index: scaled, decayed count of its entries into sessions. */
  counts: Map<number, number>;
  /** Scaled, decayed count of requests. */
  requests: number;
  scale: number;
}

const RESCALE_AT = 1e12;

/** Agents whose entries are counted: a new one replaces the least frequent (its anchor's reuse rate was lowest). */
export const MAX_APPEARING_AGENTS = 64;

export function createAppearanceModel(): AppearanceModel {
  return { counts: new Map(), requests: 0, scale: 1 };
}

/** One request of `agent`; `entered` when the agent had not spoken in its session before. */
export function observeAppearance(m: AppearanceModel, agent: number, entered: boolean, halfLifeRequests: number): void {
  m.scale *= 2 ** (1 / halfLifeRequests);
  if (m.scale > RESCALE_AT) {
    const s = m.scale;
    for (const [k, v] of m.counts) m.counts.set(k, v / s);
    m.requests /= s;
    m.scale = 1;
  }
  m.requests += m.scale;
  if (!entered) return;
  if (!m.counts.has(agent) && m.counts.size >= MAX_APPEARING_AGENTS) m.counts.delete(leastUsedKey(m.counts) as number);
  m.counts.set(agent, (m.counts.get(agent) ?? 0) + m.scale);
}

/** Entries of `agent` into sessions per request (0 before any request). */
export function appearanceRate(m: AppearanceModel, agent: number): number {
  return m.requests > 0 ? (m.counts.get(agent) ?? 0) / m.requests : 0;
}
