import type { ObservedEvent } from '../../policies/policy.js';
import type { BlockHash, KvEvent, RequestEvent } from '../../schemas/types.js';
import { observeAppearance } from './appearance.js';
import { answerLiveness, livenessKey, livenessP, livenessPrior, reviseLiveness } from './liveness.js';
import type { CacheSageOptions } from './options.js';
import { predictNextAgent } from './predict.js';
import { observePrefill, predictPrefill } from './prefill-model.js';
import { answerBatch, createRankBatch } from './rank-judge.js';
import { askReturns, closeReturns, settleReturns } from './return-model.js';
import { answerQuestions, FINISH_RUNNING, finishFeature, type ReturnQuestion } from './return-time.js';
import {
  type CacheSageState,
  type ContextState,
  type EngineState,
  engineOf,
  type SessionState,
  type WorkloadModel,
  workloadOf,
} from './state.js';
import { contextValues, forecastSession, rankScore } from './survival.js';
import { agentIndex, END, observeLength, observeRank, observeStart, observeTransition } from './transition-model.js';

/** Folds one event into CacheSage's state (DESIGN §6: observe). */
export function observeEvent(state: CacheSageState, event: ObservedEvent): void {
  state.arrivalSession = event.type === 'request' && event.event.phase === 'ARRIVED' ? event.event.sessionId : null;
  state.grewOn = null;
  if (event.type === 'kv') observeKv(state, event.event);
  else if (event.event.phase === 'ARRIVED') observeArrival(state, event.event);
  else if (event.event.phase === 'FINISHED') observeFinish(state, event.event);
}

function observeKv(state: CacheSageState, ev: KvEvent): void {
  const e = engineOf(state, ev.engineId);
  if (ev.kind === 'ALL_CLEARED') {
    e.resident.clear();
    e.cpu.clear();
    // a restarted engine holds no registrations: the next entry of each group sends all of its blocks
    for (const c of e.contexts.values()) c.registeredLength = null;
    for (const a of e.anchors.values()) a.registeredLength = null;
    return;
  }
  const set = ev.medium === 'GPU' ? e.resident : e.cpu;
  if (ev.kind === 'BLOCK_STORED') {
    for (const h of ev.blockHashes) set.add(h);
    if (ev.medium === 'GPU') {
      e.storedSinceArrival += ev.blockHashes.length;
      if (ev.parentHash !== null && e.tails.size > 0) growContext(state, e, ev.parentHash, ev.blockHashes, ev.ts);
    }
  } else {
    for (const h of ev.blockHashes) set.delete(h);
    if (ev.medium === 'GPU' && e.resident.size > e.capacity) e.capacity = e.resident.size;
  }
}

/** GPU blocks stored right after a running request's context (its output): the context grows by them. */
function growContext(
  state: CacheSageState,
  e: EngineState,
  parent: BlockHash,
  blocks: readonly BlockHash[],
  ts: number,
): void {
  const id = e.tails.get(parent);
  if (id === undefined || blocks.length === 0) return;
  e.tails.delete(parent);
  const c = e.contexts.get(id);
  if (c === undefined || c.dead || c.tail !== parent || c.full[c.full.length - 1] !== parent) return;
  c.full = c.full.concat(blocks);
  if (c.running) noteStep(e, c, ts);
  c.running = false;
  c.tail = blocks[blocks.length - 1] as BlockHash;
  e.tails.set(c.tail, id);
  e.grown.push(id);
  state.grewOn = e.id;
}

/**
 * A request's cache step (its output stored at `ts`): when it waited for the previous step, the time between the two
 * is the previous request's prefill, a sample of the engine's prefill model.
 */
function noteStep(e: EngineState, c: ContextState, ts: number): void {
  if (e.stepTs >= 0 && c.arrivedClock === e.stepClock + 1 && c.arrivedTs <= e.stepTs) {
    observePrefill(e.prefill, e.stepCompute, e.stepReload, ts - e.stepTs);
  }
  e.stepTs = ts;
  e.stepClock = c.arrivedClock;
  e.stepCompute = c.arrivedCompute;
  e.stepReload = c.arrivedReload;
  e.stepBusyMs = predictPrefill(e.prefill, c.arrivedCompute, c.arrivedReload);
}

function setTail(e: EngineState, c: ContextState, tail: BlockHash | null): void {
  if (c.tail !== null && e.tails.get(c.tail) === c.id) e.tails.delete(c.tail);
  c.tail = tail;
  if (tail !== null) e.tails.set(tail, c.id);
}

/**
 * Block positions sampled from an agent's last prompt to learn its anchor: every block up to 16, every 4th up to 64,
 * then every 16th. Block hashes are chained, so equal samples at a position mean equal prompts up to it; the anchor
 * length is the shared prefix rounded down to a sampled position.
 */
export function anchorSamplePositions(maxBlocks: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < maxBlocks; p += p < 16 ? 1 : p < 64 ? 4 : 16) out.push(p);
  return out;
}

/** Low 32 bits of the sampled block hashes of a prompt (as many as the prompt has). */
function samplePrompt(prompt: readonly BlockHash[], positions: readonly number[]): Uint32Array {
  let n = 0;
  while (n < positions.length && (positions[n] as number) < prompt.length) n++;
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = Number(BigInt.asUintN(32, prompt[positions[i] as number] as BlockHash));
  return out;
}

/** FNV-1a hash of a session id (anchors are learned from prompts of two different sessions). */
export function sessionTag(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Agents whose last prompt is kept for anchor learning: the most recently prompted ones (a name that has not spoken
 * in this many other agents' turns starts over when it comes back: its next two sessions learn its anchor again).
 */
export const MAX_PROMPT_SAMPLES = 32;

function learnAnchor(w: WorkloadModel, agent: number, sessionId: string, prompt: readonly BlockHash[], max: number) {
  const positions = anchorSamplePositions(max);
  const samples = samplePrompt(prompt, positions);
  const session = sessionTag(sessionId);
  const last = w.lastPrompt.get(agent);
  if (last !== undefined && last.session !== session) {
    let i = 0;
    while (i < samples.length && i < last.samples.length && samples[i] === last.samples[i]) i++;
    const len = i === 0 ? 0 : (positions[i - 1] as number) + 1;
    if ((w.anchorLen.get(agent) ?? 0) !== len) {
      w.anchorLen.set(agent, len);
      w.anchorEpoch++;
    }
  }
  w.lastPrompt.delete(agent);
  w.lastPrompt.set(agent, { session, samples });
  if (w.lastPrompt.size > MAX_PROMPT_SAMPLES) w.lastPrompt.delete(w.lastPrompt.keys().next().value as number);
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
    interval: e.gap > 0 ? e.gap : Math.max(1, e.sessions.size + 1),
    lastTs: ev.ts,
    finishedTs: -1,
    prefetchedStep: -1,
    refreshedStep: -1,
    local: new Map(),
    localTotals: new Map(),
    seen: [],
    contexts: new Map(),
    toolRunning: false,
    pending: [],
    finish: FINISH_RUNNING,
    questions: [],
    batches: new Map(),
    nextBatch: 0,
    liveKeys: [],
    alive: 1,
    forecastChain: [],
    forecastDirect: [],
    forecastChainStep: -1,
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
  const eng = engineOf(state, s.engineId);
  answerLiveness(w.liveness, s.liveKeys, false);
  eng.dropped.set(s.id, { workloadId: s.workloadId, keys: s.liveKeys, clock: eng.clock });
  const rt = returnTimeOptions(state);
  const answers = s.questions.map((q) => ({ q, outcome: 0 }));
  answerQuestions(w.times, answers, rt);
  judgeAnswers(w, s, answers);
  s.questions = [];
  s.batches.clear();
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
  setTail(e, c, null);
  e.dying.push(id);
}

/** Requests during which a dropped session that comes back turns its liveness answers from no to yes. */
const DROPPED_WINDOW = 64;

/** Ends the sessions of an engine that are overdue, idle, or very likely over (learned liveness). */
export function expireSessions(state: CacheSageState, e: EngineState, nowMs: number): void {
  const o = state.options;
  for (const id of e.sessions) {
    const s = state.sessions.get(id);
    if (s === undefined) continue;
    const overdue = e.clock - s.lastClock > o.sessionOverdueIntervals * s.interval + 1;
    if (overdue || s.alive < o.sessionOverProbability || nowMs - s.lastTs > o.sessionIdleMs) endSession(state, s);
  }
  for (const [id, d] of e.dropped) {
    if (e.clock - d.clock <= DROPPED_WINDOW) break;
    e.dropped.delete(id);
  }
}

/** A request of session `arriving` came: asks every other session of the engine that is about due. */
function askLiveness(state: CacheSageState, e: EngineState, arriving: string, newArrival: boolean): void {
  for (const id of e.sessions) {
    if (id === arriving) continue;
    const s = state.sessions.get(id);
    if (s === undefined) continue;
    const elapsed = e.clock - s.lastClock;
    const key = livenessKey(elapsed, s.interval, newArrival);
    if (key < 0) continue;
    if (s.liveKeys.length < 32) s.liveKeys.push(key);
    s.alive = livenessP(workloadOf(state, s.workloadId).liveness, key, livenessPrior(elapsed, s.interval));
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
  const back = e.dropped.get(ev.sessionId);
  if (back !== undefined) {
    reviseLiveness(workloadOf(state, back.workloadId).liveness, back.keys);
    e.dropped.delete(ev.sessionId);
  }
  if (s !== undefined) {
    answerLiveness(w.liveness, s.liveKeys, true);
    s.liveKeys = [];
    s.alive = 1;
  }
  askLiveness(state, e, ev.sessionId, s === undefined);
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
    observeRank(w.model, s.cur, s.seen.length, rank < 0 ? null : rank, s.prev === s.cur);
    let row = s.local.get(s.cur);
    if (row === undefined) {
      row = new Map();
      s.local.set(s.cur, row);
    }
    row.set(a, (row.get(a) ?? 0) + 1);
    s.localTotals.set(s.cur, (s.localTotals.get(s.cur) ?? 0) + 1);
    const gap = e.clock - s.lastClock;
    s.interval = (1 - o.ewmaAlpha) * s.interval + o.ewmaAlpha * gap;
    e.gap = e.gap === 0 ? gap : (1 - o.ewmaAlpha) * e.gap + o.ewmaAlpha * gap;
  }
  settleReturns(w, s, a, o.horizonSteps);
  settleQuestions(state, w, s, a);
  s.prev = s.cur;
  s.cur = a;
  s.steps++;
  s.lastClock = e.clock;
  s.lastTs = ev.ts;
  if (s.finishedTs >= 0) noteGap(e, s.toolRunning ? 1 : 0, ev.ts - s.finishedTs);
  s.finishedTs = -1;
  s.toolRunning = false;

  const at = s.seen.indexOf(a);
  if (at !== 0) {
    if (at > 0) s.seen.splice(at, 1);
    s.seen.unshift(a);
  }

  askReturns(s);
  s.finish = FINISH_RUNNING;
  askQuestions(w, s, o);
  learnAnchor(w, a, s.id, ev.blockHashes, o.anchorMaxBlocks);
  observeAppearance(w.appearances, a, at < 0, o.anchorHalfLifeRequests);
  updateAnchor(e, w, a, ev.blockHashes);
  updateContext(e, w, s, a, ev.blockHashes, ev.ts);
  expireSessions(state, e, ev.ts);
  noteFreshValue(e, w, s, o);
}

/**
 * The arriving agent's context is what a fresh context is worth on this engine: its value joins the engine's moving
 * average, which every priority is relative to (see `scoreEngine`). Done here, at every arrival, so that the average
 * does not depend on which decision points are scored (the processor conflates them under backlog).
 */
function noteFreshValue(e: EngineState, w: WorkloadModel, s: SessionState, o: CacheSageOptions): void {
  if (s.cur === null || !e.sessions.has(s.id)) return;
  const fresh = contextValues(w, e, s, o).get(s.cur);
  if (fresh !== undefined)
    e.freshValue = e.freshValue === 0 ? fresh : (1 - o.ewmaAlpha) * e.freshValue + o.ewmaAlpha * fresh;
}

function endSessionOnEngine(state: CacheSageState, s: SessionState): void {
  const old = engineOf(state, s.engineId);
  for (const id of s.contexts.values()) killContext(old, id);
  s.contexts.clear();
  old.sessions.delete(s.id);
}

function updateAnchor(e: EngineState, w: WorkloadModel, agent: number, prompt: readonly BlockHash[]): void {
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
  ts: number,
): void {
  const id = s.contexts.get(agent);
  const c = id === undefined ? undefined : e.contexts.get(id);
  if (c !== undefined && !c.dead) {
    const n = c.full.length;
    const extends_ = n === 0 || (blocks.length >= n && blocks[n - 1] === c.full[n - 1]);
    if (extends_) {
      c.full = blocks;
      c.running = blocks.length > 0;
      noteArrival(e, c, blocks, ts);
      setTail(e, c, blocks.length > 0 ? (blocks[blocks.length - 1] as BlockHash) : null);
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
    registeredTail: null,
    registeredAt: 0,
    sentPriority: Number.NaN,
    dead: false,
    tail: null,
    running: blocks.length > 0,
    valuePriority: Number.NaN,
    arrivedClock: 0,
    arrivedTs: 0,
    arrivedReload: 0,
    arrivedCompute: 0,
    prefetchedClock: -1,
  };
  noteArrival(e, ctx, blocks, ts);
  setTail(e, ctx, blocks.length > 0 ? (blocks[blocks.length - 1] as BlockHash) : null);
  e.contexts.set(ctx.id, ctx);
  s.contexts.set(agent, ctx.id);
}

/** Quantile of the finish-to-arrival gaps tracked by `noteGap`, and its step (relative). */
const GAP_QUANTILE = 0.05;
const GAP_STEP = 0.05;

/** Tracks a low quantile of a session's gaps between a finish and its next arrival (multiplicative steps). */
function noteGap(e: EngineState, kind: number, gapMs: number): void {
  const q = e.quickGapMs[kind] as number;
  if (!(gapMs > 0)) return;
  e.quickGapMs[kind] = q === 0 ? gapMs : q * Math.exp(GAP_STEP * (GAP_QUANTILE - (gapMs < q ? 1 : 0)));
}

/** Where a context's prompt stands at its arrival: its place in the engine's order, blocks to reload and to compute. */
function noteArrival(e: EngineState, c: ContextState, prompt: readonly BlockHash[], ts: number): void {
  c.arrivedClock = e.clock;
  c.arrivedTs = ts;
  let g = 0;
  while (g < prompt.length && e.resident.has(prompt[g] as BlockHash)) g++;
  let r = g;
  while (r < prompt.length && e.cpu.has(prompt[r] as BlockHash)) r++;
  c.arrivedReload = r - g;
  c.arrivedCompute = prompt.length - r;
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
  setTail(e, c, null);
  c.running = false;
  const out = ev.outputBlockHashes;
  if (out.length > 0) {
    const n = ev.blockHashes.length;
    const total = n + out.length;
    const samePrompt = n === 0 || (c.full.length >= n && c.full[n - 1] === ev.blockHashes[n - 1]);
    if (samePrompt && c.full[total - 1] !== out[out.length - 1]) c.full = ev.blockHashes.concat(out);
  }
  s.toolRunning = ev.toolCall !== null;
  s.finishedTs = ev.ts;
  s.finish = finishFeature(ev.outputTokens, ev.toolCall !== null);
  askQuestions(w, s, state.options);
}

function returnTimeOptions(state: CacheSageState) {
  const o = state.options;
  return { horizon: o.horizonSteps, smoothing: o.returnSmoothing, mixRate: o.returnMixRate };
}

/** The session's next step is by `agent`: answers the questions it settles. */
function settleQuestions(state: CacheSageState, w: WorkloadModel, s: SessionState, agent: number): void {
  const rt = returnTimeOptions(state);
  const step = s.steps + 1;
  const keep = [];
  const answers = [];
  for (const q of s.questions) {
    if (q.agent === agent) answers.push({ q, outcome: Math.min(step - q.step, rt.horizon + 1) });
    else keep.push(q);
  }
  answerQuestions(w.times, answers, rt);
  judgeAnswers(w, s, answers);
  s.questions = keep;
}

function judgeAnswers(w: WorkloadModel, s: SessionState, answers: readonly { q: ReturnQuestion; outcome: number }[]) {
  for (const { q, outcome } of answers) {
    const b = s.batches.get(q.batch);
    if (b !== undefined && answerBatch(w.judge, b, q.index, outcome)) s.batches.delete(q.batch);
  }
}

/** Asks, for every agent the session has seen, when it speaks next (features as the session stands now). */
function askQuestions(w: WorkloadModel, s: SessionState, o: CacheSageOptions): void {
  const fc = forecastSession(w, s, o);
  s.forecastChain = fc.chain;
  s.forecastChainStep = s.steps;
  s.forecastDirect = fc.direct;
  const batch = s.nextBatch++;
  s.batches.set(batch, createRankBatch(fc.chain.map(rankScore), fc.direct.map(rankScore)));
  for (let r = 0; r < s.seen.length; r++) {
    s.questions.push({
      step: s.steps,
      agent: s.seen[r] as number,
      features: fc.features[r] as number[],
      batch,
      index: r,
    });
  }
}
