import { ConfigError } from '../core/errors.js';
import type { BlockHash, EvictionEntry, RequestEvent } from '../schemas/types.js';
import type {
  ActDraft,
  ActInput,
  DecisionPoint,
  ObservedEvent,
  Policy,
  Prediction,
  ScoredGroup,
  Scores,
} from './policy.js';

/** Priority of blocks no live session reaches in the step graph (and of ended contexts): evicted first. */
export const KVFLOW_UNREACHABLE_PRIORITY = -1_000_000;

const UNREACHABLE = -1;

/**
 * Options of the KVFlow-like baseline. Exactly one warm-up bound is positive: the step graph is learned from the
 * first `warmupSessions` sessions of a workload, or from its first `warmupRequests` requests, then frozen.
 */
export interface KvflowOptions {
  /** Sessions of a workload whose transitions build the step graph (0: use `warmupRequests`). Default 10. */
  warmupSessions: number;
  /** Requests of a workload whose transitions build the step graph (0: use `warmupSessions`). Default 0. */
  warmupRequests: number;
  /** Edges kept per agent: its most frequent successors. Default 1. */
  successorsPerAgent: number;
  /** A successor beyond the first needs at least this share of the agent's observed transitions. Default 0.1. */
  minSuccessorShare: number;
  /** ttl of eviction hints. Default 30 s. */
  hintTtlMs: number;
  /** A session silent for more than this many of its own intervals (in engine requests) is over. Default 3. */
  sessionOverdueIntervals: number;
  /** A session idle this long (event time) is over. Default 10 min. */
  sessionIdleMs: number;
  /** Weight of a new observation in a session's request interval. Default 0.2. */
  ewmaAlpha: number;
}

export const DEFAULT_KVFLOW_OPTIONS: KvflowOptions = {
  warmupSessions: 10,
  warmupRequests: 0,
  successorsPerAgent: 1,
  minSuccessorShare: 0.1,
  hintTtlMs: 30_000,
  sessionOverdueIntervals: 3,
  sessionIdleMs: 10 * 60_000,
  ewmaAlpha: 0.2,
};

/** One workload's step graph: counted during warm-up, then frozen. */
export interface KvflowWorkload {
  id: string;
  agents: string[];
  index: Map<string, number>;
  /** Warm-up successor counts: from agent → (to agent → count). */
  counts: Map<number, Map<number, number>>;
  sessionsSeen: number;
  requestsSeen: number;
  /** Successors per agent once frozen (agents known at freeze time), most frequent first; null while warming up. */
  graph: number[][] | null;
  /** Share of each kept successor in its agent's warm-up row (same layout as `graph`). */
  shares: number[][] | null;
  /** Steps-to-execution from a current agent, computed on first use (−1: unreachable). */
  steps: Map<number, Int32Array>;
  /** Per agent: the latest prompt (session and blocks), to learn the anchor from the next session's prompt. */
  lastPrompt: Map<number, { sessionId: string; blocks: readonly BlockHash[] }>;
  /** Per agent: the number of leading blocks its prompts share across sessions. */
  anchorLen: Map<number, number>;
}

/** The blocks of one (session, agent) context as last seen, and what the engine was last told about them. */
export interface KvflowContext {
  id: string;
  sessionId: string;
  workloadId: string;
  agent: number;
  /** Prompt + output blocks of the agent's latest step in the session, head to tail. */
  blocks: readonly BlockHash[];
  promptLen: number;
  /** Leading blocks left to the anchor's entry when last registered; −1: never registered. */
  sentAnchorLen: number;
  sentLength: number;
  sentPriority: number;
  dead: boolean;
}

export interface KvflowSession {
  id: string;
  workloadId: string;
  engineId: string;
  cur: number | null;
  lastClock: number;
  /** Moving average of engine requests between the session's arrivals. */
  interval: number;
  lastTs: number;
  /** Context id by agent. */
  contexts: Map<number, string>;
  generation: number;
}

export interface KvflowAnchor {
  id: string;
  workloadId: string;
  agent: number;
  blocks: readonly BlockHash[];
  sentLength: number;
  sentPriority: number;
}

export interface KvflowEngine {
  id: string;
  /** Requests arrived on the engine. */
  clock: number;
  sessions: Set<string>;
  contexts: Map<string, KvflowContext>;
  anchors: Map<string, KvflowAnchor>;
  /** Contexts that ended and are to be sent once at the lowest priority. */
  dying: string[];
  /** Blocks a context no longer holds (its new step did not extend them), to be sent at the lowest priority. */
  stale: BlockHash[];
}

export interface KvflowStats {
  /** Next-agent guesses (the top successor in the frozen graph) checked against the agent that spoke. */
  predictions: number;
  top1Correct: number;
  hintEntries: number;
}

/** State of the KVFlow-like policy (store `policy:kvflow`): plain data, nothing in closures. */
export interface KvflowState {
  options: KvflowOptions;
  workloads: Map<string, KvflowWorkload>;
  sessions: Map<string, KvflowSession>;
  engines: Map<string, KvflowEngine>;
  stats: KvflowStats;
}

/** Resolves and validates options; giving only `warmupRequests` switches the warm-up to requests. */
export function resolveKvflowOptions(given: Partial<KvflowOptions> = {}): KvflowOptions {
  const byRequests =
    given.warmupRequests !== undefined && given.warmupRequests > 0 && given.warmupSessions === undefined;
  const o: KvflowOptions = { ...DEFAULT_KVFLOW_OPTIONS, ...(byRequests ? { warmupSessions: 0 } : {}), ...given };
  const int = (name: keyof KvflowOptions, min: number): void => {
    const v = o[name];
    if (!Number.isInteger(v) || v < min) throw new ConfigError(`kvflow: ${name} must be an integer ≥ ${min}, got ${v}`);
  };
  const positive = (name: keyof KvflowOptions): void => {
    const v = o[name];
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) {
      throw new ConfigError(`kvflow: ${name} must be a finite number > 0, got ${v}`);
    }
  };
  int('warmupSessions', 0);
  int('warmupRequests', 0);
  if (o.warmupSessions > 0 === o.warmupRequests > 0) {
    throw new ConfigError(
      `kvflow: exactly one of warmupSessions and warmupRequests must be > 0, got ${o.warmupSessions} and ${o.warmupRequests}`,
    );
  }
  int('successorsPerAgent', 1);
  if (!(o.minSuccessorShare >= 0 && o.minSuccessorShare <= 1)) {
    throw new ConfigError(`kvflow: minSuccessorShare must be in [0, 1], got ${o.minSuccessorShare}`);
  }
  positive('hintTtlMs');
  positive('sessionOverdueIntervals');
  positive('sessionIdleMs');
  if (!(o.ewmaAlpha > 0 && o.ewmaAlpha <= 1)) throw new ConfigError(`kvflow: ewmaAlpha must be in (0, 1]`);
  return o;
}

/**
 * KVFlow-like baseline (DESIGN §6, baselines): an agent step graph learned on a warm-up prefix of each workload
 * (edges from every agent to its most frequent successors), then frozen. A cached context (session s, agent a) gets
 * priority −steps, where steps is the shortest path from s's current agent to a in the graph (back to itself when
 * a is the current agent); contexts no path reaches, and contexts of ended sessions, get the lowest priority. An
 * agent's anchor (the prompt prefix its sessions share) takes the best priority over the engine's live sessions.
 * During warm-up it sends nothing, so the engine stays LRU. Decision points: request arrivals and finishes.
 */
export function createKvflowPolicy(options: Partial<KvflowOptions> = {}): Policy<KvflowState> {
  const resolved = resolveKvflowOptions(options);
  return {
    name: 'kvflow',
    createState: () => ({
      options: resolved,
      workloads: new Map(),
      sessions: new Map(),
      engines: new Map(),
      stats: { predictions: 0, top1Correct: 0, hintEntries: 0 },
    }),
    observe: observeKvflow,
    decisionPoint(state, event): DecisionPoint | null {
      if (event.type !== 'request') return null;
      const ev = event.event;
      if (ev.phase !== 'ARRIVED' && ev.phase !== 'FINISHED') return null;
      if ((state.workloads.get(ev.workloadId)?.graph ?? null) === null) return null;
      return { engineId: ev.engineId, sessionId: ev.sessionId, now: ev.ts };
    },
    score: scoreKvflow,
    predict: predictKvflow,
    act: actKvflow,
    stateBytes: kvflowGraphBytes,
  };
}

/** Serialized size of the frozen step graphs: agent names, successor indices and their shares. */
export function kvflowGraphBytes(state: KvflowState): number {
  let bytes = 0;
  for (const w of state.workloads.values()) {
    for (const name of w.agents) bytes += Buffer.byteLength(name) + 1;
    for (const succ of w.graph ?? []) bytes += 4 + 8 * succ.length;
  }
  return bytes;
}

function workloadOf(state: KvflowState, id: string): KvflowWorkload {
  let w = state.workloads.get(id);
  if (w === undefined) {
    w = {
      id,
      agents: [],
      index: new Map(),
      counts: new Map(),
      sessionsSeen: 0,
      requestsSeen: 0,
      graph: null,
      shares: null,
      steps: new Map(),
      lastPrompt: new Map(),
      anchorLen: new Map(),
    };
    state.workloads.set(id, w);
  }
  return w;
}

function engineOf(state: KvflowState, id: string): KvflowEngine {
  let e = state.engines.get(id);
  if (e === undefined) {
    e = { id, clock: 0, sessions: new Set(), contexts: new Map(), anchors: new Map(), dying: [], stale: [] };
    state.engines.set(id, e);
  }
  return e;
}

function agentIndex(w: KvflowWorkload, name: string): number {
  let a = w.index.get(name);
  if (a === undefined) {
    a = w.agents.length;
    w.agents.push(name);
    w.index.set(name, a);
  }
  return a;
}

/** Freezes the warm-up counts into the step graph. */
export function freezeGraph(w: KvflowWorkload, o: KvflowOptions): void {
  const graph: number[][] = [];
  const shares: number[][] = [];
  for (let a = 0; a < w.agents.length; a++) {
    const row = [...(w.counts.get(a) ?? new Map<number, number>())].sort((x, y) => y[1] - x[1] || x[0] - y[0]);
    const total = row.reduce((sum, [, n]) => sum + n, 0);
    const succ: number[] = [];
    const share: number[] = [];
    for (const [to, n] of row) {
      if (succ.length >= o.successorsPerAgent) break;
      if (succ.length > 0 && n / total < o.minSuccessorShare) break;
      succ.push(to);
      share.push(n / total);
    }
    graph.push(succ);
    shares.push(share);
  }
  w.graph = graph;
  w.shares = shares;
  w.steps.clear();
}

/**
 * Steps-to-execution of every agent when `from` is the current agent: breadth-first distance in the frozen graph;
 * for `from` itself, the length of the shortest cycle back to it. −1 where no path exists.
 */
export function stepsFrom(w: KvflowWorkload, from: number): Int32Array {
  const graph = w.graph ?? [];
  const n = graph.length;
  const cached = w.steps.get(from);
  if (cached !== undefined) return cached;
  const dist = new Int32Array(n).fill(UNREACHABLE);
  if (from < n) {
    dist[from] = 0;
    const queue = [from];
    for (let q = 0; q < queue.length; q++) {
      const x = queue[q] as number;
      for (const y of graph[x] as number[]) {
        if (dist[y] === UNREACHABLE) {
          dist[y] = (dist[x] as number) + 1;
          queue.push(y);
        }
      }
    }
    let cycle = UNREACHABLE;
    for (let p = 0; p < n; p++) {
      const d = dist[p] as number;
      if (d >= 0 && (graph[p] as number[]).includes(from) && (cycle === UNREACHABLE || d + 1 < cycle)) cycle = d + 1;
    }
    dist[from] = cycle;
  }
  w.steps.set(from, dist);
  return dist;
}

function observeKvflow(state: KvflowState, event: ObservedEvent): void {
  if (event.type !== 'request') return;
  const ev = event.event;
  if (ev.phase === 'ARRIVED') observeArrival(state, ev);
  else if (ev.phase === 'FINISHED') observeFinish(state, ev);
}

function observeArrival(state: KvflowState, ev: RequestEvent): void {
  const o = state.options;
  const w = workloadOf(state, ev.workloadId);
  const a = agentIndex(w, ev.agentId);
  const e = engineOf(state, ev.engineId);
  e.clock++;
  let s = state.sessions.get(ev.sessionId);
  if (s !== undefined && s.engineId !== ev.engineId) {
    const old = engineOf(state, s.engineId);
    for (const id of s.contexts.values()) killContext(old, id);
    old.sessions.delete(s.id);
    s.contexts.clear();
    s.engineId = ev.engineId;
    e.sessions.add(s.id);
  }
  if (s === undefined) {
    if (w.graph === null && o.warmupSessions > 0 && w.sessionsSeen >= o.warmupSessions) freezeGraph(w, o);
    w.sessionsSeen++;
    s = {
      id: ev.sessionId,
      workloadId: w.id,
      engineId: e.id,
      cur: null,
      lastClock: e.clock,
      interval: e.sessions.size + 1,
      lastTs: ev.ts,
      contexts: new Map(),
      generation: 0,
    };
    state.sessions.set(s.id, s);
    e.sessions.add(s.id);
  } else if (s.cur !== null) {
    if (w.graph !== null) {
      const top = w.graph[s.cur]?.[0];
      if (top !== undefined) {
        state.stats.predictions++;
        if (top === a) state.stats.top1Correct++;
      }
    } else {
      let row = w.counts.get(s.cur);
      if (row === undefined) {
        row = new Map();
        w.counts.set(s.cur, row);
      }
      row.set(a, (row.get(a) ?? 0) + 1);
    }
    s.interval = (1 - o.ewmaAlpha) * s.interval + o.ewmaAlpha * (e.clock - s.lastClock);
  }
  s.cur = a;
  s.lastClock = e.clock;
  s.lastTs = ev.ts;
  w.requestsSeen++;
  if (w.graph === null && o.warmupRequests > 0 && w.requestsSeen >= o.warmupRequests) freezeGraph(w, o);
  learnAnchor(w, a, s.id, ev.blockHashes);
  updateAnchor(e, w, a, ev.blockHashes);
  updateContext(e, s, w, a, ev.blockHashes);
  expireSessions(state, e, ev.ts, s.id);
}

function observeFinish(state: KvflowState, ev: RequestEvent): void {
  const s = state.sessions.get(ev.sessionId);
  const w = state.workloads.get(ev.workloadId);
  const a = w?.index.get(ev.agentId);
  if (s === undefined || a === undefined || s.engineId !== ev.engineId) return;
  const e = engineOf(state, ev.engineId);
  const id = s.contexts.get(a);
  const c = id === undefined ? undefined : e.contexts.get(id);
  if (c === undefined || c.dead || ev.outputBlockHashes.length === 0) return;
  const n = ev.blockHashes.length;
  if (c.promptLen === n && c.blocks.length === n && (n === 0 || c.blocks[n - 1] === ev.blockHashes[n - 1])) {
    c.blocks = c.blocks.concat(ev.outputBlockHashes);
  }
}

function commonPrefix(a: readonly BlockHash[], b: readonly BlockHash[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function learnAnchor(w: KvflowWorkload, agent: number, sessionId: string, prompt: readonly BlockHash[]): void {
  const last = w.lastPrompt.get(agent);
  if (last !== undefined && last.sessionId !== sessionId) w.anchorLen.set(agent, commonPrefix(last.blocks, prompt));
  w.lastPrompt.set(agent, { sessionId, blocks: prompt });
}

function updateAnchor(e: KvflowEngine, w: KvflowWorkload, agent: number, prompt: readonly BlockHash[]): void {
  const len = Math.min(w.anchorLen.get(agent) ?? 0, prompt.length);
  if (len === 0) return;
  const id = `anchor:${w.id}:${w.agents[agent]}`;
  const anchor = e.anchors.get(id);
  if (anchor === undefined) {
    e.anchors.set(id, {
      id,
      workloadId: w.id,
      agent,
      blocks: prompt.slice(0, len),
      sentLength: -1,
      sentPriority: Number.NaN,
    });
  } else if (anchor.blocks.length !== len || anchor.blocks[len - 1] !== prompt[len - 1]) {
    anchor.blocks = prompt.slice(0, len);
    anchor.sentLength = -1;
  }
}

function updateContext(
  e: KvflowEngine,
  s: KvflowSession,
  w: KvflowWorkload,
  agent: number,
  prompt: readonly BlockHash[],
): void {
  const id = s.contexts.get(agent);
  const c = id === undefined ? undefined : e.contexts.get(id);
  if (c !== undefined && !c.dead) {
    const n = c.promptLen;
    if (prompt.length >= n && (n === 0 || prompt[n - 1] === c.blocks[n - 1])) {
      const keep = commonPrefix(c.blocks, prompt);
      if (c.sentAnchorLen >= 0) for (let i = keep; i < c.blocks.length; i++) e.stale.push(c.blocks[i] as BlockHash);
      c.blocks = prompt;
      c.promptLen = prompt.length;
      return;
    }
    killContext(e, c.id);
  }
  const ctx: KvflowContext = {
    id: `${s.id}/${w.agents[agent]}#${s.generation++}`,
    sessionId: s.id,
    workloadId: w.id,
    agent,
    blocks: prompt,
    promptLen: prompt.length,
    sentAnchorLen: -1,
    sentLength: -1,
    sentPriority: Number.NaN,
    dead: false,
  };
  e.contexts.set(ctx.id, ctx);
  s.contexts.set(agent, ctx.id);
}

function killContext(e: KvflowEngine, id: string): void {
  const c = e.contexts.get(id);
  if (c === undefined || c.dead) return;
  c.dead = true;
  e.dying.push(id);
}

function expireSessions(state: KvflowState, e: KvflowEngine, nowMs: number, current: string): void {
  const o = state.options;
  for (const id of e.sessions) {
    const s = state.sessions.get(id);
    if (s === undefined || id === current) continue;
    const overdue = e.clock - s.lastClock > o.sessionOverdueIntervals * s.interval + 1;
    if (!overdue && nowMs - s.lastTs <= o.sessionIdleMs) continue;
    for (const cid of s.contexts.values()) killContext(e, cid);
    e.sessions.delete(id);
    state.sessions.delete(id);
  }
}

/** Anchor length a context leaves to its agent's anchor: the anchor's blocks when the context starts with them. */
function anchorLenOf(e: KvflowEngine, w: KvflowWorkload | undefined, c: KvflowContext): number {
  if (w === undefined) return 0;
  const anchor = e.anchors.get(`anchor:${w.id}:${w.agents[c.agent]}`);
  const len = anchor?.blocks.length ?? 0;
  if (anchor === undefined || len === 0 || len > c.blocks.length) return 0;
  return c.blocks[len - 1] === anchor.blocks[len - 1] ? len : 0;
}

function priorityOf(steps: number): number {
  return steps === UNREACHABLE ? KVFLOW_UNREACHABLE_PRIORITY : -steps;
}

function scoreKvflow(state: KvflowState, point: DecisionPoint): Scores {
  const e = engineOf(state, point.engineId);
  const changed: ScoredGroup[] = [];
  if (e.stale.length > 0) {
    changed.push({ contextId: null, blockHashes: e.stale.slice(), value: KVFLOW_UNREACHABLE_PRIORITY });
  }
  for (const id of e.dying) {
    const c = e.contexts.get(id);
    if (c === undefined || c.sentPriority === KVFLOW_UNREACHABLE_PRIORITY) continue;
    const blocks = c.sentLength < 0 ? c.blocks.slice(anchorLenOf(e, state.workloads.get(c.workloadId), c)) : [];
    if (c.sentLength < 0 && blocks.length === 0) continue;
    changed.push({ contextId: c.id, blockHashes: blocks as BlockHash[], value: KVFLOW_UNREACHABLE_PRIORITY });
  }
  const anchorSteps = new Map<string, number>();
  for (const sid of e.sessions) {
    const s = state.sessions.get(sid);
    const w = s === undefined ? undefined : state.workloads.get(s.workloadId);
    if (s === undefined || w === undefined || w.graph === null || s.cur === null) continue;
    const steps = stepsFrom(w, s.cur);
    for (const [agent, cid] of s.contexts) {
      const c = e.contexts.get(cid);
      if (c === undefined || c.dead) continue;
      const priority = priorityOf(steps[agent] ?? UNREACHABLE);
      const anchorLen = anchorLenOf(e, w, c);
      const needsBlocks = c.sentLength !== c.blocks.length || c.sentAnchorLen !== anchorLen;
      if (!needsBlocks && c.sentPriority === priority) continue;
      const blocks = needsBlocks ? (c.blocks.slice(anchorLen) as BlockHash[]) : [];
      if (needsBlocks && blocks.length === 0) continue;
      changed.push({ contextId: c.id, blockHashes: blocks, value: priority });
    }
    for (let agent = 0; agent < steps.length; agent++) {
      const d = steps[agent] as number;
      if (d === UNREACHABLE) continue;
      const key = `anchor:${w.id}:${w.agents[agent]}`;
      const best = anchorSteps.get(key);
      if (best === undefined || d < best) anchorSteps.set(key, d);
    }
  }
  for (const anchor of e.anchors.values()) {
    if ((state.workloads.get(anchor.workloadId)?.graph ?? null) === null) continue;
    const priority = priorityOf(anchorSteps.get(anchor.id) ?? UNREACHABLE);
    const needsBlocks = anchor.sentLength !== anchor.blocks.length;
    if (!needsBlocks && anchor.sentPriority === priority) continue;
    changed.push({
      contextId: anchor.id,
      blockHashes: needsBlocks ? (anchor.blocks as BlockHash[]) : [],
      value: priority,
    });
  }
  return { engineId: e.id, now: point.now, changed };
}

function predictKvflow(state: KvflowState, point: DecisionPoint): Prediction | null {
  if (point.sessionId === null) return null;
  const s = state.sessions.get(point.sessionId);
  const w = s === undefined ? undefined : state.workloads.get(s.workloadId);
  if (s === undefined || w === undefined || w.graph === null || s.cur === null) return null;
  const succ = w.graph[s.cur] ?? [];
  const shares = w.shares?.[s.cur] ?? [];
  return {
    sessionId: s.id,
    workloadId: w.id,
    currentAgent: w.agents[s.cur] ?? null,
    next: succ.map((a, i) => ({ agentId: w.agents[a] as string, p: shares[i] ?? 0 })),
    endP: 0,
  };
}

function actKvflow(state: KvflowState, input: ActInput): ActDraft[] {
  const e = engineOf(state, input.point.engineId);
  const entries: EvictionEntry[] = [];
  for (const g of input.scores.changed) {
    entries.push({ contextId: g.contextId, blockHashes: g.blockHashes, priority: g.value });
    if (g.contextId === null) continue;
    const c = e.contexts.get(g.contextId);
    if (c !== undefined) {
      if (g.blockHashes.length > 0) {
        c.sentLength = c.blocks.length;
        c.sentAnchorLen = c.blocks.length - g.blockHashes.length;
      }
      c.sentPriority = g.value;
      continue;
    }
    const anchor = e.anchors.get(g.contextId);
    if (anchor !== undefined) {
      if (g.blockHashes.length > 0) anchor.sentLength = anchor.blocks.length;
      anchor.sentPriority = g.value;
    }
  }
  for (const id of e.dying) e.contexts.delete(id);
  e.dying.length = 0;
  e.stale.length = 0;
  if (entries.length === 0) return [];
  state.stats.hintEntries += entries.length;
  return [{ kind: 'evict', ttlMs: state.options.hintTtlMs, entries }];
}
