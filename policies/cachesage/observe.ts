import type { ObservedEvent } from '../../policies/policy.js';
import type { BlockHash, KvEvent, RequestEvent } from '../../schemas/types.js';
import { predictNextAgent } from './predict.js';
import { askReturns, closeReturns, settleReturns } from './return-model.js';
import {
  type CacheSageState,
  type ContextState,
  type EngineState,
  engineOf,
  type SessionState,
  type WorkloadModel,
  workloadOf,
} from './state.js';
import { agentIndex, END, observeLength, observeRank, observeStart, observeTransition } from './transition-model.js';

/** Folds one event into CacheSage's state (DESIGN §6: observe). */
export function observeEvent(state: CacheSageState, event: ObservedEvent): void {
  state.arrivalSession = event.type === 'request' && event.event.phase === 'ARRIVED' ? event.event.sessionId : null;
  if (event.type === 'kv') observeKv(state, event.event);
  else if (event.event.phase === 'ARRIVED') observeArrival(state, event.event);
  else if (event.event.phase === 'FINISHED') observeFinish(state, event.event);
}

function observeKv(state: CacheSageState, ev: KvEvent): void {
  const e = engineOf(state, ev.engineId);
  if (ev.kind === 'ALL_CLEARED') {
    e.resident.clear();
    e.cpu.clear();
    return;
  }
  const set = ev.medium === 'GPU' ? e.resident : e.cpu;
  if (ev.kind === 'BLOCK_STORED') {
    for (const h of ev.blockHashes) set.add(h);
    if (ev.medium === 'GPU') e.storedSinceArrival += ev.blockHashes.length;
  } else {
    for (const h of ev.blockHashes) set.delete(h);
  }
}

function lcp(a: readonly BlockHash[], b: readonly BlockHash[], max: number): number {
  const n = Math.min(a.length, b.length, max);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function learnAnchor(w: WorkloadModel, agent: number, sessionId: string, prompt: readonly BlockHash[], max: number) {
  const last = w.lastPrompt.get(agent);
  if (last !== undefined && last.sessionId !== sessionId) {
    const len = lcp(last.blocks, prompt, max);
    if ((w.anchorLen.get(agent) ?? 0) !== len) {
      w.anchorLen.set(agent, len);
      w.anchorEpoch++;
    }
  }
  w.lastPrompt.set(agent, { sessionId, blocks: prompt });
}

function newSession(state: CacheSageState, ev: RequestEvent, e: EngineState): SessionState {
  const s: SessionState = {
    id: ev.sessionId,
    workloadId: ev.workloadId,
    engineId: ev.engineId,
    prev: null,
    cur: null,
    steps: 0,
    lastClock: e.clock,
    interval: Math.max(1, e.sessions.size + 1),
    lastTs: ev.ts,
    local: new Map(),
    localTotals: new Map(),
    seen: [],
    contexts: new Map(),
    toolRunning: false,
    pending: [],
  };
  state.sessions.set(s.id, s);
  e.sessions.add(s.id);
  return s;
}

/** Ends a session: counts END after its last agent and marks its contexts dead. */
export function endSession(state: CacheSageState, s: SessionState): void {
  const w = workloadOf(state, s.workloadId);
  if (s.cur !== null) {
    observeTransition(w.model, s.prev, s.cur, END);
    observeLength(w.model, s.steps);
  }
  closeReturns(w, s);
  const e = engineOf(state, s.engineId);
  for (const id of s.contexts.values()) killContext(e, id);
  e.sessions.delete(s.id);
  state.sessions.delete(s.id);
  state.stats.sessionsExpired++;
}

function killContext(e: EngineState, id: string): void {
  const c = e.contexts.get(id);
  if (c === undefined || c.dead) return;
  c.dead = true;
  e.dying.push(id);
}

/** Ends the sessions of an engine that are overdue or idle. */
export function expireSessions(state: CacheSageState, e: EngineState, nowMs: number): void {
  const o = state.options;
  for (const id of e.sessions) {
    const s = state.sessions.get(id);
    if (s === undefined) continue;
    const overdue = e.clock - s.lastClock > o.sessionOverdueIntervals * s.interval + 1;
    if (overdue || nowMs - s.lastTs > o.sessionIdleMs) endSession(state, s);
  }
}

function observeArrival(state: CacheSageState, ev: RequestEvent): void {
  const o = state.options;
  const w = workloadOf(state, ev.workloadId);
  const a = agentIndex(w.model, ev.agentId);
  const e = engineOf(state, ev.engineId);
  e.clock++;
  e.storedPerRequest =
    e.clock === 1 ? e.storedSinceArrival : (1 - o.ewmaAlpha) * e.storedPerRequest + o.ewmaAlpha * e.storedSinceArrival;
  e.storedSinceArrival = 0;

  let s = state.sessions.get(ev.sessionId);
  if (s !== undefined && s.engineId !== ev.engineId) {
    endSessionOnEngine(state, s);
    s.engineId = ev.engineId;
    e.sessions.add(s.id);
  }
  if (s === undefined) {
    s = newSession(state, ev, e);
    observeStart(w.model, a);
  } else if (s.cur !== null) {
    const predicted = predictNextAgent(w, s, o);
    if (predicted !== null) {
      state.stats.predictions++;
      if (predicted === a) state.stats.top1Correct++;
    }
    observeTransition(w.model, s.prev, s.cur, a);
    const rank = s.seen.indexOf(a);
    observeRank(w.model, s.cur, s.seen.length, rank < 0 ? null : rank);
    let row = s.local.get(s.cur);
    if (row === undefined) {
      row = new Map();
      s.local.set(s.cur, row);
    }
    row.set(a, (row.get(a) ?? 0) + 1);
    s.localTotals.set(s.cur, (s.localTotals.get(s.cur) ?? 0) + 1);
    const gap = e.clock - s.lastClock;
    s.interval = (1 - o.ewmaAlpha) * s.interval + o.ewmaAlpha * gap;
  }
  settleReturns(w, s, a, o.horizonSteps);
  s.prev = s.cur;
  s.cur = a;
  s.steps++;
  s.lastClock = e.clock;
  s.lastTs = ev.ts;
  s.toolRunning = false;
  const at = s.seen.indexOf(a);
  if (at !== 0) {
    if (at > 0) s.seen.splice(at, 1);
    s.seen.unshift(a);
  }

  askReturns(s);
  learnAnchor(w, a, s.id, ev.blockHashes, o.anchorMaxBlocks);
  updateAnchor(state, e, w, a, ev.blockHashes);
  updateContext(e, w, s, a, ev.blockHashes);
  expireSessions(state, e, ev.ts);
}

function endSessionOnEngine(state: CacheSageState, s: SessionState): void {
  const old = engineOf(state, s.engineId);
  for (const id of s.contexts.values()) killContext(old, id);
  s.contexts.clear();
  old.sessions.delete(s.id);
}

function updateAnchor(
  state: CacheSageState,
  e: EngineState,
  w: WorkloadModel,
  agent: number,
  prompt: readonly BlockHash[],
): void {
  const alpha = state.options.anchorRateAlpha;
  for (const anchor of e.anchors.values()) {
    const used = anchor.workloadId === w.id && anchor.agent === agent ? 1 : 0;
    anchor.rate = (1 - alpha) * anchor.rate + alpha * used;
  }
  const len = w.anchorLen.get(agent) ?? 0;
  if (len === 0) return;
  const id = `anchor:${w.id}:${w.model.agents[agent]}`;
  let anchor = e.anchors.get(id);
  if (anchor === undefined) {
    anchor = {
      id,
      workloadId: w.id,
      agent,
      blocks: prompt.slice(0, len),
      registeredLength: null,
      sentPriority: Number.NaN,
      rate: alpha,
    };
    e.anchors.set(id, anchor);
  } else if (anchor.blocks.length !== len || anchor.blocks[len - 1] !== prompt[len - 1]) {
    anchor.blocks = prompt.slice(0, len);
    anchor.registeredLength = null;
  }
}

function updateContext(
  e: EngineState,
  w: WorkloadModel,
  s: SessionState,
  agent: number,
  blocks: readonly BlockHash[],
): void {
  const id = s.contexts.get(agent);
  const c = id === undefined ? undefined : e.contexts.get(id);
  if (c !== undefined && !c.dead) {
    const n = c.full.length;
    const extends_ = n === 0 || (blocks.length >= n && blocks[n - 1] === c.full[n - 1]);
    if (extends_) {
      c.full = blocks;
      return;
    }
    killContext(e, c.id);
  }
  const gen = c === undefined ? 0 : Number(c.id.slice(c.id.lastIndexOf('#') + 1)) + 1;
  const ctx: ContextState = {
    id: `${s.id}/${w.model.agents[agent]}#${gen}`,
    sessionId: s.id,
    agent,
    full: blocks,
    anchorLen: 0,
    anchorEpoch: -1,
    registeredLength: null,
    sentPriority: Number.NaN,
    dead: false,
  };
  e.contexts.set(ctx.id, ctx);
  s.contexts.set(agent, ctx.id);
}

function observeFinish(state: CacheSageState, ev: RequestEvent): void {
  const s = state.sessions.get(ev.sessionId);
  if (s === undefined || s.engineId !== ev.engineId) return;
  const w = workloadOf(state, ev.workloadId);
  const a = w.model.index.get(ev.agentId);
  if (a === undefined) return;
  const e = engineOf(state, ev.engineId);
  const id = s.contexts.get(a);
  const c = id === undefined ? undefined : e.contexts.get(id);
  if (c === undefined || c.dead) return;
  if (ev.outputBlockHashes.length > 0) {
    const n = ev.blockHashes.length;
    if (c.full.length === n && c.full[n - 1] === ev.blockHashes[n - 1]) {
      c.full = c.full.concat(ev.outputBlockHashes);
    }
  }
  s.toolRunning = ev.toolCall !== null;
}
