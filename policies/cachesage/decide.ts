import type { BlockHash, EvictionEntry } from '../../schemas/types.js';
import type { ActDraft, ActInput, DecisionPoint, Prediction, ScoredGroup, Scores } from '../policy.js';
import { appearanceRate } from './appearance.js';
import { nextAgentDistribution } from './predict.js';
import { prefetchActs } from './prefetch.js';
import type { CacheSageState, ContextState, EngineState } from './state.js';
import { engineOf, workloadOf } from './state.js';
import { anchorValue, contextValues, discountOf } from './survival.js';

/** Priority of a context whose session is over: evicted before anything else. */
export const DEAD_PRIORITY = -1e6;

/** Priority of a context whose request arrived and awaits its cache step: kept until it is used. */
export const IN_USE_PRIORITY = 1e3;

/** Value floor: contexts worth less than this tie at the bottom (in LRU order). */
const MIN_VALUE = 1e-6;

/**
 * Priority of a group worth `value` on an engine whose fresh contexts are worth `fresh`: the log of their ratio,
 * rounded to 1/resolution (values within a few percent tie and keep LRU order). Relative, so far-off reuses stay
 * ranked however small the discount makes them; 0 is a fresh context, what unhinted blocks are taken for.
 */
function priorityOf(value: number, fresh: number, resolution: number): number {
  const r = Math.log(Math.max(value, MIN_VALUE) / Math.max(fresh, MIN_VALUE));
  return Math.round(r * resolution) / resolution;
}

/**
 * How many of the blocks the engine holds registered for `c` an entry may keep (`fromBlock`), 0 to send them all:
 * the registration must cover the same anchor, be a prefix of `full` (one hash compared: hashes are chained) and
 * be refreshed whole at least every `refreshMs`, so a hook that missed an act gets the full group back.
 */
function registeredPrefix(c: ContextState, anchorLen: number, now: number, refreshMs: number): number {
  const n = c.registeredLength;
  if (n === null || c.anchorLen !== anchorLen || n <= anchorLen || n >= c.full.length) return 0;
  if (c.full[n - 1] !== c.registeredTail || now - c.registeredAt > refreshMs) return 0;
  return n - anchorLen;
}

function changedContext(
  c: ContextState,
  priority: number,
  anchorLen: number,
  now: number,
  refreshMs: number,
): ScoredGroup | null {
  const needsBlocks = c.registeredLength !== c.full.length || c.anchorLen !== anchorLen;
  if (!needsBlocks && c.sentPriority === priority) return null;
  if (!needsBlocks) return { contextId: c.id, blockHashes: [], value: priority };
  const from = registeredPrefix(c, anchorLen, now, refreshMs);
  return {
    contextId: c.id,
    blockHashes: c.full.slice(anchorLen + from) as BlockHash[],
    ...(from > 0 ? { fromBlock: from } : {}),
    value: priority,
  };
}

/**
 * Scores every live context and anchor of the point's engine (DESIGN §6.2) and returns the groups whose priority
 * or registered blocks changed. A group's priority is its survival value minus the engine's fresh-context value
 * (what a context is worth right after its agent spoke), rounded: blocks no hint has reached yet (priority 0) rank
 * like a fresh context, and values closer than the rounding tie and fall back to LRU order.
 */
export function scoreEngine(state: CacheSageState, point: DecisionPoint): Scores {
  const o = state.options;
  const e = engineOf(state, point.engineId);
  const changed: ScoredGroup[] = [];
  if (point.sessionId === null && e.grown.length > 0) return scoreGrown(state, e, point);
  for (const id of e.dying) {
    const c = e.contexts.get(id);
    if (c === undefined) continue;
    if (c.registeredLength !== null && c.sentPriority !== DEAD_PRIORITY) {
      changed.push({ contextId: c.id, blockHashes: [], value: DEAD_PRIORITY });
    }
  }
  const values = new Map<string, number>();
  for (const sid of e.sessions) {
    const s = state.sessions.get(sid);
    if (s === undefined) continue;
    const w = workloadOf(state, s.workloadId);
    const v = contextValues(w, e, s, o);
    for (const [agent, cid] of s.contexts) {
      const val = v.get(agent);
      if (val !== undefined) values.set(cid, val);
    }
  }
  for (const c of e.contexts.values()) {
    if (c.dead) continue;
    const w = workloadOf(state, state.sessions.get(c.sessionId)?.workloadId ?? '');
    const anchorLen = Math.min(w.anchorLen.get(c.agent) ?? 0, c.full.length);
    c.valuePriority = priorityOf(values.get(c.id) ?? 0, e.freshValue, o.priorityResolution);
    const g = changedContext(
      c,
      c.running ? IN_USE_PRIORITY : c.valuePriority,
      anchorLen,
      point.now,
      o.registrationRefreshMs,
    );
    if (g !== null) changed.push(g);
  }
  const gamma = discountOf(e, o.lifetimeScale);
  for (const a of e.anchors.values()) {
    const rate = appearanceRate(workloadOf(state, a.workloadId).appearances, a.agent);
    const priority = priorityOf(anchorValue(rate, gamma), e.freshValue, o.priorityResolution);
    const needsBlocks = a.registeredLength !== a.blocks.length;
    if (!needsBlocks && a.sentPriority === priority) continue;
    changed.push({ contextId: a.id, blockHashes: needsBlocks ? (a.blocks as BlockHash[]) : [], value: priority });
  }
  return { engineId: e.id, now: point.now, changed };
}

/** Re-registers the contexts that grew from KV events (a running request's output), at their last priority. */
function scoreGrown(state: CacheSageState, e: EngineState, point: DecisionPoint): Scores {
  const changed: ScoredGroup[] = [];
  for (const id of new Set(e.grown)) {
    const c = e.contexts.get(id);
    if (c === undefined || c.dead || c.registeredLength === null) continue;
    const w = workloadOf(state, state.sessions.get(c.sessionId)?.workloadId ?? '');
    const anchorLen = Math.min(w.anchorLen.get(c.agent) ?? 0, c.full.length);
    const priority = c.running ? IN_USE_PRIORITY : Number.isNaN(c.valuePriority) ? 0 : c.valuePriority;
    const g = changedContext(c, priority, anchorLen, point.now, state.options.registrationRefreshMs);
    if (g !== null) changed.push(g);
  }
  e.grown.length = 0;
  return { engineId: e.id, now: point.now, changed };
}

/** The point's session: its next-agent distribution (DESIGN §6.3). */
export function predictSession(state: CacheSageState, point: DecisionPoint): Prediction | null {
  if (point.sessionId === null) return null;
  const s = state.sessions.get(point.sessionId);
  if (s === undefined || s.cur === null) return null;
  const w = workloadOf(state, s.workloadId);
  const { next, endP } = nextAgentDistribution(w, s, state.options, Math.max(4, state.options.prefetchMaxAgents));
  return { sessionId: s.id, workloadId: s.workloadId, currentAgent: w.model.agents[s.cur] ?? null, next, endP };
}

function markSent(e: EngineState, g: ScoredGroup, state: CacheSageState, now: number): void {
  if (g.contextId === null) return;
  const c = e.contexts.get(g.contextId);
  if (c !== undefined) {
    if (g.blockHashes.length > 0) {
      c.registeredLength = c.full.length;
      c.registeredTail = c.full[c.full.length - 1] ?? null;
      if ((g.fromBlock ?? 0) === 0) c.registeredAt = now;
      const w = workloadOf(state, state.sessions.get(c.sessionId)?.workloadId ?? '');
      c.anchorLen = Math.min(w.anchorLen.get(c.agent) ?? 0, c.full.length);
    }
    c.sentPriority = g.value;
    return;
  }
  const a = e.anchors.get(g.contextId);
  if (a !== undefined) {
    if (g.blockHashes.length > 0) a.registeredLength = a.blocks.length;
    a.sentPriority = g.value;
  }
}

/**
 * Eviction hints for the changed groups, then (at a step end) prefetches of the likely next agents' contexts from
 * the CPU tier: an agent qualifies when its probability reaches `prefetchMinProbability` and part of its context
 * sits in the CPU tier and not in GPU (nothing to gain otherwise).
 */
export function actFor(state: CacheSageState, input: ActInput): ActDraft[] {
  const o = state.options;
  const e = engineOf(state, input.point.engineId);
  const drafts: ActDraft[] = [];
  const entries: EvictionEntry[] = input.scores.changed.map((g) => ({
    contextId: g.contextId,
    blockHashes: g.blockHashes,
    ...(g.fromBlock === undefined ? {} : { fromBlock: g.fromBlock }),
    priority: g.value,
  }));
  for (const g of input.scores.changed) markSent(e, g, state, input.scores.now);
  for (const id of e.dying) {
    const c = e.contexts.get(id);
    if (c?.dead) e.contexts.delete(id);
  }
  e.dying.length = 0;
  if (entries.length > 0) {
    state.stats.hintEntries += entries.length;
    drafts.push({ kind: 'evict', ttlMs: o.hintTtlMs, entries });
  }
  const cause = input.cause;
  const finished = cause.type === 'request' && cause.event.phase === 'FINISHED' ? cause.event.sessionId : null;
  drafts.push(...prefetchActs(state, e, input.point.now, finished));
  return drafts;
}
