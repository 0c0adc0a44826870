import type { BlockHash } from '../../schemas/types.js';
import type { ActDraft } from '../policy.js';
import { nextAgentDistribution } from './predict.js';
import type { CacheSageState, ContextState, EngineState, SessionState } from './state.js';
import { workloadOf } from './state.js';

/**
 * Between-step prefetch (DESIGN §6.3): bring from the CPU tier into GPU the context of the engine's next cache step
 * before that step runs, so that its blocks are GPU hits instead of reloads on the request's critical path.
 * - A request has arrived and waits behind the one in prefill: its prompt is known exactly. Its missing blocks are
 *   prefetched once the request ahead has had its cache step, sized (deadline) to end before that request's prefill
 *   is predicted to end (the engine's learned prefill model), so that the prefetch never delays its own step.
 * - A session's step ends: the contexts of its likely next agents (probability at least `prefetchMinProbability`, at
 *   most `prefetchMaxAgents`) are prefetched, sized to end before the session's earliest expected arrival (a low
 *   quantile of the engine's finish-to-arrival gaps). When nothing waits, the next step is the next arrival, most
 *   likely the session that arrived least recently and has finished its step: its next agents are prefetched again
 *   then (the cache steps in between may have evicted them; the engine skips what is resident or in flight).
 * Only the part of a context that is missing from GPU and present in the CPU tier is asked for. A waiting request's
 * blocks are held at the in-use priority, so they are asked for only up to the engine's GPU capacity (beyond it they
 * would push out every other context at its cache step). A predicted context is asked for whole: what the GPU cannot
 * keep goes back to the CPU tier as its most recently used blocks, where the step finds it.
 */
export function prefetchActs(state: CacheSageState, e: EngineState, now: number, finished: string | null): ActDraft[] {
  const o = state.options;
  if (o.prefetchMaxAgents === 0 || e.cpu.size === 0) return [];
  let queued: ContextState | null = null;
  for (const c of e.contexts.values()) {
    if (c.running && !c.dead && (queued === null || c.arrivedClock < queued.arrivedClock)) queued = c;
  }
  const out: ActDraft[] = [];
  if (queued !== null) out.push(...prefetchQueued(state, e, queued, now));
  const fin = finished === null ? undefined : state.sessions.get(finished);
  if (fin !== undefined && fin.prefetchedStep !== fin.steps) {
    fin.prefetchedStep = fin.steps;
    fin.refreshedStep = fin.steps;
    out.push(...prefetchSession(state, e, fin, now));
  }
  const next = queued === null ? nextArrival(state, e) : null;
  if (next !== null && next.refreshedStep !== next.steps) {
    next.refreshedStep = next.steps;
    out.push(...prefetchSession(state, e, next, now));
  }
  return out;
}

/** The session with a finished step that arrived least recently on the engine (null: none). */
function nextArrival(state: CacheSageState, e: EngineState): SessionState | null {
  let next: SessionState | null = null;
  for (const id of e.sessions) {
    const s = state.sessions.get(id);
    if (s === undefined || s.finishedTs < 0 || s.cur === null) continue;
    if (next === null || s.lastClock < next.lastClock) next = s;
  }
  return next;
}

function prefetchQueued(state: CacheSageState, e: EngineState, c: ContextState, now: number): ActDraft[] {
  if (e.stepClock !== c.arrivedClock - 1 || e.stepBusyMs <= 0) return [];
  const deadlineMs = e.stepTs + state.options.prefetchSafety * e.stepBusyMs - now;
  if (deadlineMs <= 0) return [];
  if (c.prefetchedClock === c.arrivedClock) return [];
  const blocks = missingBlocks(e, c.full, true);
  if (blocks.length === 0) return [];
  c.prefetchedClock = c.arrivedClock;
  const s = state.sessions.get(c.sessionId);
  const agentId = s === undefined ? '' : (workloadOf(state, s.workloadId).model.agents[c.agent] ?? '');
  state.stats.prefetches++;
  return [{ kind: 'prefetch', ttlMs: deadlineMs, sessionId: c.sessionId, agentId, blockHashes: blocks, deadlineMs }];
}

function prefetchSession(state: CacheSageState, e: EngineState, next: SessionState, now: number): ActDraft[] {
  const o = state.options;
  if (next.finishedTs < 0 || next.cur === null) return [];
  const quick = e.quickGapMs[next.toolRunning ? 1 : 0] as number;
  const deadlineMs = quick > 0 ? next.finishedTs + quick - now : o.prefetchDeadlineMs;
  if (deadlineMs <= 0) return [];
  const w = workloadOf(state, next.workloadId);
  const { next: ranked } = nextAgentDistribution(w, next, o, o.prefetchMaxAgents);
  const out: ActDraft[] = [];
  for (const n of ranked) {
    if (n.p < o.prefetchMinProbability) break;
    const agent = w.model.index.get(n.agentId);
    const cid = agent === undefined ? undefined : next.contexts.get(agent);
    const c = cid === undefined ? undefined : e.contexts.get(cid);
    if (c === undefined || c.dead) continue;
    const blocks = missingBlocks(e, c.full, false);
    if (blocks.length === 0) continue;
    state.stats.prefetches++;
    out.push({
      kind: 'prefetch',
      ttlMs: deadlineMs,
      sessionId: next.id,
      agentId: n.agentId,
      blockHashes: blocks,
      deadlineMs,
    });
  }
  return out;
}

/**
 * Blocks of a context after its leading GPU-resident run that are in the CPU tier; with `capped`, only up to the
 * engine's GPU capacity.
 */
function missingBlocks(e: EngineState, full: readonly BlockHash[], capped: boolean): BlockHash[] {
  const limit = capped && e.capacity > 0 ? Math.min(full.length, e.capacity) : full.length;
  let first = 0;
  while (first < limit && e.resident.has(full[first] as BlockHash)) first++;
  let end = first;
  while (end < limit && e.cpu.has(full[end] as BlockHash)) end++;
  return full.slice(first, end) as BlockHash[];
}
