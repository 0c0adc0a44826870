import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/errors.js';
import {
  createKvflowPolicy,
  freezeGraph,
  KVFLOW_UNREACHABLE_PRIORITY,
  type KvflowState,
  type KvflowWorkload,
  resolveKvflowOptions,
  stepsFrom,
} from '../../../policies/kvflow.js';
import type { ActDraft, ObservedEvent, Policy } from '../../../policies/policy.js';
import type { BlockHash, EvictionEntry, RequestEvent } from '../../../schemas/types.js';
import { requestEvent } from '../../support/events.js';

const UNREACHABLE = KVFLOW_UNREACHABLE_PRIORITY;

/** A distinct fake block hash per label. */
function h(label: string): BlockHash {
  let x = 1469598103934665603n;
  for (const ch of label) x = BigInt.asIntN(64, (x ^ BigInt(ch.charCodeAt(0))) * 1099511628211n);
  return x;
}

const sys = (agent: string): BlockHash[] => [h(`sys-${agent}-0`), h(`sys-${agent}-1`)];

/** Group-chat-like prompt of `agent` in `session` after `history` earlier messages. */
function prompt(agent: string, session: string, history: number): BlockHash[] {
  const blocks = sys(agent);
  for (let i = 0; i < history; i++) blocks.push(h(`${agent}-${session}-${i}`));
  return blocks;
}

interface Driver {
  policy: Policy<KvflowState>;
  state: KvflowState;
  ts: number;
  /** Session → messages so far. */
  history: Map<string, number>;
  step(session: string, agent: string, toolCall?: string | null): { arrived: ActDraft[]; finished: ActDraft[] };
}

function run(policy: Policy<KvflowState>, state: KvflowState, event: RequestEvent): ActDraft[] {
  const observed: ObservedEvent = { type: 'request', event };
  policy.observe(state, observed);
  const point = policy.decisionPoint(state, observed);
  if (point === null) return [];
  const scores = policy.score(state, point);
  const prediction = policy.predict(state, point);
  return policy.act(state, { point, scores, prediction, cause: observed });
}

function driver(options: Parameters<typeof createKvflowPolicy>[0]): Driver {
  const policy = createKvflowPolicy(options);
  const d: Driver = {
    policy,
    state: policy.createState(),
    ts: 0,
    history: new Map(),
    step(session, agent, toolCall = null) {
      const n = d.history.get(session) ?? 0;
      const blocks = prompt(agent, session, n);
      const base = { sessionId: session, agentId: agent, requestId: `${session}/${n}`, blockHashes: blocks };
      d.ts += 10;
      const arrived = run(policy, d.state, requestEvent({ ...base, eventId: `a${d.ts}`, phase: 'ARRIVED', ts: d.ts }));
      d.ts += 10;
      const finished = run(
        policy,
        d.state,
        requestEvent({
          ...base,
          eventId: `f${d.ts}`,
          phase: 'FINISHED',
          ts: d.ts,
          outputBlockHashes: [h(`out-${agent}-${session}-${n}`)],
          toolCall,
        }),
      );
      d.history.set(session, n + 1);
      return { arrived, finished };
    },
  };
  return d;
}

function entries(drafts: ActDraft[]): EvictionEntry[] {
  expect(drafts.every((a) => a.kind === 'evict')).toBe(true);
  return drafts.flatMap((a) => (a.kind === 'evict' ? a.entries : []));
}

function entryOf(list: EvictionEntry[], contextId: string): EvictionEntry {
  const found = list.filter((e) => e.contextId === contextId);
  expect(found, `one entry for ${contextId} in ${JSON.stringify(list.map((e) => e.contextId))}`).toHaveLength(1);
  return found[0] as EvictionEntry;
}

describe('KVFlow-like policy', () => {
  it('learns the step graph from the warm-up requests and sends nothing until it is frozen', () => {
    const d = driver({ warmupRequests: 6 });
    const agents = ['A', 'B', 'C', 'A', 'B'];
    for (const a of agents) {
      const { arrived, finished } = d.step('s1', a);
      expect(arrived).toEqual([]);
      expect(finished).toEqual([]);
    }
    expect(d.state.workloads.get('w1')?.graph).toBeNull();
    const { arrived } = d.step('s1', 'C');
    const w = d.state.workloads.get('w1');
    expect(w?.graph).toEqual([[1], [2], [0]]);
    // Current agent C: A is next (1 step), B after it (2), C itself after a full cycle (3).
    const list = entries(arrived);
    expect(entryOf(list, 's1/A#0')).toEqual({
      contextId: 's1/A#0',
      blockHashes: [...prompt('A', 's1', 3), h('out-A-s1-3')],
      priority: -1,
    });
    expect(entryOf(list, 's1/B#1').priority).toBe(-2);
    expect(entryOf(list, 's1/C#2')).toEqual({ contextId: 's1/C#2', blockHashes: prompt('C', 's1', 5), priority: -3 });
    expect(d.state.stats.predictions).toBe(0);
  });

  it('re-prioritizes a session’s contexts as its current agent moves, registering blocks only when they change', () => {
    const d = driver({ warmupRequests: 6 });
    for (const a of ['A', 'B', 'C', 'A', 'B', 'C']) d.step('s1', a);
    const { arrived, finished } = d.step('s1', 'A');
    const list = entries(arrived);
    // A speaks again: its context grows (new blocks), B is next (1), C after it (2), A itself a cycle away (3).
    expect(entryOf(list, 's1/A#0')).toEqual({ contextId: 's1/A#0', blockHashes: prompt('A', 's1', 6), priority: -3 });
    expect(entryOf(list, 's1/B#1')).toEqual({ contextId: 's1/B#1', blockHashes: [], priority: -1 });
    expect(entryOf(list, 's1/C#2')).toEqual({ contextId: 's1/C#2', blockHashes: [], priority: -2 });
    // The finish adds the output block: A's context is registered again with it, priority unchanged.
    expect(entries(finished)).toEqual([
      {
        contextId: 's1/A#0',
        blockHashes: [...prompt('A', 's1', 6), h('out-A-s1-6')],
        priority: -3,
      },
    ]);
    // The prediction (top successor of C is A) was right.
    expect(d.state.stats).toMatchObject({ predictions: 1, top1Correct: 1 });
    // The output block A's new prompt does not extend is demoted on its own.
    expect(list.filter((e) => e.contextId === null)).toEqual([
      { contextId: null, blockHashes: [h('out-A-s1-3')], priority: UNREACHABLE },
    ]);
    // One decision, one act.
    expect(d.step('s1', 'B').arrived).toHaveLength(1);
  });

  it('gives an agent’s anchor the best priority over the live sessions and leaves it out of the contexts', () => {
    const d = driver({ warmupRequests: 5 });
    for (const a of ['A', 'B', 'C', 'A', 'B']) d.step('s1', a);
    const { arrived } = d.step('s2', 'A');
    const list = entries(arrived);
    // s1's A context is registered again without the shared system prompt, which becomes the anchor.
    expect(entryOf(list, 's1/A#0')).toEqual({
      contextId: 's1/A#0',
      blockHashes: [...prompt('A', 's1', 3).slice(2), h('out-A-s1-3')],
      priority: -2,
    });
    const anchor = entryOf(list, 'anchor:w1:A');
    expect(anchor.blockHashes).toEqual(sys('A'));
    // s1 is at B (A is 2 steps away), s2 at A (3 steps, a cycle): the anchor takes the best, 2.
    expect(anchor.priority).toBe(-2);
    expect(list.indexOf(anchor)).toBe(list.length - 1);
    // s2's A context is nothing but the anchor so far: no entry of its own.
    expect(list.some((e) => e.contextId === 's2/A#0')).toBe(false);
    const again = entries(d.step('s1', 'A').arrived);
    expect(entryOf(again, 's1/A#0')).toEqual({
      contextId: 's1/A#0',
      blockHashes: prompt('A', 's1', 5).slice(2),
      priority: -3,
    });
    // Both sessions at A now: the anchor is a full cycle away.
    expect(entryOf(again, 'anchor:w1:A')).toEqual({ contextId: 'anchor:w1:A', blockHashes: [], priority: -3 });
  });

  it('sends contexts no path reaches at the lowest priority', () => {
    const d = driver({ warmupRequests: 4 });
    for (const a of ['A', 'B', 'C', 'A']) d.step('s1', a);
    // D was never seen in warm-up: from D nothing is reachable, and D is reachable from nothing.
    const fromD = entries(d.step('s1', 'D').arrived);
    expect(entryOf(fromD, 's1/D#3')).toEqual({
      contextId: 's1/D#3',
      blockHashes: prompt('D', 's1', 4),
      priority: UNREACHABLE,
    });
    for (const id of ['s1/A#0', 's1/B#1', 's1/C#2']) {
      expect(entryOf(fromD, id)).toEqual({ contextId: id, blockHashes: [], priority: UNREACHABLE });
    }
    expect(d.state.stats).toMatchObject({ predictions: 1, top1Correct: 0 });
  });

  it('sends the contexts of a session that went silent at the lowest priority, once', () => {
    const d = driver({ warmupRequests: 4 });
    for (const a of ['A', 'B', 'C', 'A']) d.step('s1', a);
    // s1 stops; s2 runs. After more than 3 of s1's intervals (1 request) + 1 without s1, s1 is over.
    const sent: EvictionEntry[][] = [];
    for (const a of ['A', 'B', 'C', 'A', 'B', 'C']) sent.push(entries(d.step('s2', a).arrived));
    const deadIn = (list: EvictionEntry[] | undefined) =>
      (list ?? []).filter((e) => e.contextId?.startsWith('s1/') && e.priority === UNREACHABLE);
    for (let i = 0; i < 4; i++) expect(deadIn(sent[i])).toEqual([]);
    expect(deadIn(sent[4])).toEqual(
      ['s1/A#0', 's1/B#1', 's1/C#2'].map((id) => ({ contextId: id, blockHashes: [], priority: UNREACHABLE })),
    );
    expect(d.state.sessions.has('s1')).toBe(false);
    expect(sent[5]?.some((e) => e.contextId?.startsWith('s1/'))).toBe(false);
  });

  it('sends contexts of sessions that ended during warm-up, never registered, with their blocks', () => {
    const d = driver({ warmupSessions: 2 });
    for (const a of ['A', 'B']) d.step('s1', a);
    for (const a of ['A', 'B', 'A', 'B', 'A']) d.step('s2', a);
    expect(d.state.sessions.has('s1')).toBe(false);
    // The third session freezes the graph (A → B, B → A); s1's contexts go out past their anchors.
    const list = entries(d.step('s3', 'A').arrived);
    expect(d.state.workloads.get('w1')?.graph).toEqual([[1], [0]]);
    expect(entryOf(list, 's1/A#0')).toEqual({
      contextId: 's1/A#0',
      blockHashes: [h('out-A-s1-0')],
      priority: UNREACHABLE,
    });
    expect(entryOf(list, 's1/B#1')).toEqual({
      contextId: 's1/B#1',
      blockHashes: [h('B-s1-0'), h('out-B-s1-1')],
      priority: UNREACHABLE,
    });
    // s2 is at A: its B context is next (1 step), its A context two steps away.
    expect(entryOf(list, 's2/B#1').priority).toBe(-1);
    expect(entryOf(list, 's2/A#0').priority).toBe(-2);
  });

  it('keeps the most frequent successors above the share threshold as edges, and computes shortest paths', () => {
    const o = resolveKvflowOptions({ warmupRequests: 1, successorsPerAgent: 2, minSuccessorShare: 0.25 });
    const w: KvflowWorkload = {
      id: 'w',
      agents: ['A', 'B', 'C', 'D'],
      index: new Map([
        ['A', 0],
        ['B', 1],
        ['C', 2],
        ['D', 3],
      ]),
      counts: new Map([
        [
          0,
          new Map([
            [1, 6],
            [2, 3],
            [3, 1],
          ]),
        ],
        [1, new Map([[3, 2]])],
        [2, new Map([[0, 1]])],
      ]),
      sessionsSeen: 0,
      requestsSeen: 0,
      graph: null,
      shares: null,
      steps: new Map(),
      lastPrompt: new Map(),
      anchorLen: new Map(),
    };
    freezeGraph(w, o);
    // A → B (0.6), A → C (0.3); A → D (0.1) is below the share; D has no successor.
    expect(w.graph).toEqual([[1, 2], [3], [0], []]);
    expect([...stepsFrom(w, 0)]).toEqual([2, 1, 1, 2]);
    expect([...stepsFrom(w, 3)]).toEqual([-1, -1, -1, -1]);
    expect([...stepsFrom(w, 2)]).toEqual([1, 2, 2, 3]);
  });

  it('validates its options', () => {
    expect(() => createKvflowPolicy({ warmupSessions: 5, warmupRequests: 5 })).toThrow(ConfigError);
    expect(() => createKvflowPolicy({ warmupSessions: 0 })).toThrow(/exactly one of warmupSessions/);
    expect(() => createKvflowPolicy({ successorsPerAgent: 0 })).toThrow(/successorsPerAgent/);
    expect(() => createKvflowPolicy({ minSuccessorShare: 2 })).toThrow(/minSuccessorShare/);
    expect(() => createKvflowPolicy({ hintTtlMs: 0 })).toThrow(/hintTtlMs/);
    expect(resolveKvflowOptions({ warmupRequests: 40 })).toMatchObject({ warmupSessions: 0, warmupRequests: 40 });
    expect(resolveKvflowOptions()).toMatchObject({ warmupSessions: 10, warmupRequests: 0 });
  });
});
