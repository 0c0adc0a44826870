import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../../core/errors.js';
import { MAX_APPEARING_AGENTS } from '../../../../policies/cachesage/appearance.js';
import { cacheSageModelBytesPerWorkload } from '../../../../policies/cachesage/cachesage-policy.js';
import { DEAD_PRIORITY, IN_USE_PRIORITY } from '../../../../policies/cachesage/decide.js';
import { MAX_PROMPT_SAMPLES } from '../../../../policies/cachesage/observe.js';
import type { CacheSageState, EngineState } from '../../../../policies/cachesage/state.js';
import { MAX_FIRST_ROWS } from '../../../../policies/cachesage/transition-model.js';
import type { ActDraft } from '../../../../policies/policy.js';
import type { BlockHash } from '../../../../schemas/types.js';
import { CacheSageDriver, entriesOf, HookRegistrations, h } from './driver.js';

function engine(state: CacheSageState, id = 'e1'): EngineState {
  const e = state.engines.get(id);
  if (e === undefined) throw new Error(`no engine ${id}`);
  return e;
}

function priorityOf(state: CacheSageState, contextId: string): number {
  const c = engine(state).contexts.get(contextId);
  if (c === undefined) throw new Error(`no context ${contextId}`);
  return c.sentPriority;
}

/** Sessions one after another, each with the given agent order. */
function train(d: CacheSageDriver, prefix: string, sessions: number, agents: readonly string[]): void {
  for (let i = 0; i < sessions; i++) for (const a of agents) d.step(`${prefix}${i}`, a);
}

describe('CacheSage observe and act', () => {
  it('registers an arriving context at the in-use priority, then its output joins it as it is stored', () => {
    const d = new CacheSageDriver();
    const { arrived, stored, prompt, output } = d.step('s1', 'A');
    const atArrival = entriesOf(arrived).get('s1/A#0');
    expect(atArrival?.blockHashes).toEqual(prompt);
    expect(atArrival?.priority).toBe(IN_USE_PRIORITY);
    const grown = entriesOf(stored).get('s1/A#0');
    expect(grown?.fromBlock).toBe(prompt.length);
    expect(grown?.blockHashes).toEqual(output);
    expect(grown?.priority).toBeLessThan(IN_USE_PRIORITY);
    const hook = new HookRegistrations().apply([...arrived, ...stored]);
    expect(hook.blocks.get('s1/A#0')).toEqual([...prompt, ...output]);
    expect(engine(d.state).contexts.get('s1/A#0')?.running).toBe(false);
  });

  it('keeps one context per agent: a later prompt that extends it re-registers the same context', () => {
    const d = new CacheSageDriver();
    const hook = new HookRegistrations();
    const first = d.step('s1', 'A');
    hook.apply([...first.arrived, ...first.stored, ...first.finished]);
    const b = d.step('s1', 'B');
    hook.apply([...b.arrived, ...b.stored, ...b.finished]);
    const { arrived, prompt } = d.step('s1', 'A');
    const entry = entriesOf(arrived).get('s1/A#0');
    expect(entry?.priority).toBe(IN_USE_PRIORITY);
    expect(hook.apply(arrived).blocks.get('s1/A#0')).toEqual(prompt);
    expect(hook.skipped).toBe(0);
    expect([...engine(d.state).contexts.keys()].sort()).toEqual(['s1/A#0', 's1/B#0']);
  });

  it('sends a growing context only the blocks it added, all of them again after registrationRefreshMs', () => {
    const growing = (d: CacheSageDriver) => {
      const first = d.step('s1', 'A');
      d.step('s1', 'B');
      const again = d.step('s1', 'A');
      return { first, entry: entriesOf(again.arrived).get('s1/A#0'), prompt: again.prompt };
    };
    const d = new CacheSageDriver();
    const { first, entry, prompt } = growing(d);
    const registered = first.prompt.length + first.output.length;
    expect(entry?.fromBlock).toBe(registered);
    expect(entry?.blockHashes).toEqual(prompt.slice(registered));

    // the same steps with a refresh period shorter than the time since A's whole list went out
    const refreshed = growing(new CacheSageDriver({ registrationRefreshMs: 25 }));
    expect(refreshed.entry?.fromBlock).toBeUndefined();
    expect(refreshed.entry?.blockHashes).toEqual(refreshed.prompt);
  });

  it('sends every context of an engine whole after the engine cleared its cache (a restart)', () => {
    const d = new CacheSageDriver();
    d.step('s1', 'A');
    d.step('s1', 'B');
    d.kv({ kind: 'ALL_CLEARED', blockHashes: [], parentHash: null });
    const { arrived, prompt } = d.step('s1', 'A');
    const entry = entriesOf(arrived).get('s1/A#0');
    expect(entry?.fromBlock).toBeUndefined();
    expect(entry?.blockHashes).toEqual(prompt);
  });

  it('does not decide on KV events that extend no running context', () => {
    const d = new CacheSageDriver();
    d.step('s1', 'A');
    const event = { type: 'kv' as const, event: { ...kvLike(), parentHash: h('nowhere'), blockHashes: [h('x')] } };
    d.policy.observe(d.state, event);
    expect(d.policy.decisionPoint(d.state, event)).toBeNull();
    expect(d.kv({ blockHashes: [h('y')], parentHash: null })).toEqual([]);
  });

  it('ranks the agent that speaks next above one that is done for the session', () => {
    const d = new CacheSageDriver({ priorityResolution: 1e6 });
    train(d, 't', 30, ['X', 'A', 'B', 'A', 'B', 'A', 'B']);
    d.step('new', 'X');
    d.step('new', 'A');
    d.step('new', 'B');
    const next = priorityOf(d.state, 'new/A#0');
    const later = priorityOf(d.state, 'new/B#0');
    const done = priorityOf(d.state, 'new/X#0');
    expect(next).toBeGreaterThan(later);
    expect(later).toBeGreaterThan(done);
  });

  it('counts next-agent predictions and learns an alternating order', () => {
    const d = new CacheSageDriver();
    train(d, 't', 40, ['A', 'B', 'A', 'B', 'A', 'B']);
    const { predictions, top1Correct } = d.state.stats;
    expect(predictions).toBe(40 * 5);
    expect(top1Correct / predictions).toBeGreaterThan(0.8);
  });

  it('ends a session that misses its turn to a new session once that is learned, and kills its contexts', () => {
    const d = new CacheSageDriver();
    const expiredAtArrival: number[] = [];
    let deadSent = 0;
    let next = 0;
    const slots = [
      { id: `s${next++}`, t: 0 },
      { id: `s${next++}`, t: 0 },
    ];
    const agents = ['A', 'B', 'A', 'B'];
    while (next < 100) {
      for (let c = 0; c < slots.length; c++) {
        const slot = slots[c] as { id: string; t: number };
        const before = d.state.stats.sessionsExpired;
        const acts: ActDraft[] = d.step(slot.id, agents[slot.t] as string).arrived;
        if (slot.t === 0) expiredAtArrival.push(d.state.stats.sessionsExpired - before);
        for (const e of entriesOf(acts).values()) if (e.priority === DEAD_PRIORITY) deadSent++;
        slot.t++;
        if (slot.t === agents.length) slots[c] = { id: `s${next++}`, t: 0 };
      }
    }
    const early = expiredAtArrival.slice(2, 6);
    const late = expiredAtArrival.slice(-6);
    expect(early.every((x) => x === 0)).toBe(true);
    expect(late.every((x) => x === 1)).toBe(true);
    expect(deadSent).toBeGreaterThan(20);
  });

  it('prefetches the likely next agent’s context from the CPU tier at a step end', () => {
    const d = new CacheSageDriver();
    train(d, 't', 20, ['A', 'B', 'A', 'B']);
    const a = d.step('p', 'A');
    const ctx = [...a.prompt, ...a.output];
    const tail = ctx.slice(2);
    d.kv({ kind: 'BLOCK_REMOVED', medium: 'GPU', blockHashes: tail });
    d.kv({ kind: 'BLOCK_STORED', medium: 'CPU', blockHashes: tail, parentHash: ctx[1] as BlockHash });
    const { finished } = d.step('p', 'B');
    const prefetch = finished.find((x) => x.kind === 'prefetch');
    expect(prefetch).toMatchObject({ kind: 'prefetch', sessionId: 'p', agentId: 'A', blockHashes: tail });
    expect(d.state.stats.prefetches).toBe(1);
  });
});

describe('CacheSage snapshot and restore', () => {
  function interleaved(d: CacheSageDriver, from: number, to: number): ActDraft[] {
    const acts: ActDraft[] = [];
    const order = ['A', 'B', 'C', 'A', 'B', 'A'];
    for (let i = from; i < to; i++) {
      const s = `s${Math.floor(i / 12)}-${i % 2}`;
      const step = d.step(s, order[Math.floor(i / 2) % order.length] as string, { outputTokens: 5 + (i % 7) * 40 });
      acts.push(...step.arrived, ...step.stored, ...step.finished);
    }
    return acts;
  }

  it('restores an equal state that decides exactly as the original', () => {
    const d = new CacheSageDriver();
    interleaved(d, 0, 60);
    const bytes = d.policy.snapshot?.(d.state);
    if (bytes === undefined) throw new Error('no snapshot');
    const restored = d.policy.restore?.(bytes);
    expect(restored).toEqual(d.state);
    const twin = new CacheSageDriver();
    twin.state = restored as CacheSageState;
    twin.ts = d.ts;
    expect(interleaved(twin, 60, 120)).toEqual(interleaved(d, 60, 120));
    expect(twin.state).toEqual(d.state);
  });

  it('rejects bytes that are not a snapshot, or a truncated one', () => {
    const d = new CacheSageDriver();
    interleaved(d, 0, 10);
    const bytes = d.policy.snapshot?.(d.state) as Uint8Array;
    expect(() => d.policy.restore?.(new Uint8Array([1, 2, 3, 4]))).toThrow(DecodeError);
    expect(() => d.policy.restore?.(bytes.subarray(0, bytes.length - 3))).toThrow(DecodeError);
  });

  it('reports each workload’s model bytes, within 25 KB for 32 agents in random order', () => {
    const d = new CacheSageDriver();
    let seed = 7;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let s = 0; s < 400; s++) {
      const steps = 4 + Math.floor(rnd() * 12);
      for (let t = 0; t < steps; t++)
        d.step(`r${s}`, `agent-${Math.floor(rnd() * 32)}`, { outputTokens: 1 + (t % 5) * 90 });
    }
    d.step('other', 'A', { workloadId: 'w2' });
    const perWorkload = cacheSageModelBytesPerWorkload(d.state);
    expect(Object.keys(perWorkload).sort()).toEqual(['w1', 'w2']);
    expect(perWorkload.w1).toBeLessThanOrEqual(25 * 1024);
    expect(perWorkload.w1).toBeGreaterThan(perWorkload.w2 as number);
    expect(d.policy.stateBytes?.(d.state)).toBe((perWorkload.w1 as number) + (perWorkload.w2 as number));
  });
});

describe('CacheSage model size with a new expert per task', () => {
  it('stays within 25 KB and within its row limits when every session brings three new agent names', () => {
    const d = new CacheSageDriver();
    for (let s = 0; s < 70; s++) {
      const experts = [0, 1, 2].map((i) => `expert-${s}-${i}`);
      const order = [experts[0], 'terminal', experts[1], 'terminal', experts[2], experts[2]] as string[];
      for (const agent of order) d.step(`t${s}`, agent, { outputTokens: 120 });
    }
    const w = d.state.workloads.get('w1');
    expect(w?.model.agents.length).toBe(211);
    expect(w?.lastPrompt.size).toBe(MAX_PROMPT_SAMPLES);
    expect(w?.lastPrompt.has(w.model.index.get('expert-69-2') as number)).toBe(true);
    expect(w?.model.first.size).toBeLessThanOrEqual(MAX_FIRST_ROWS);
    expect(w?.appearances.counts.size).toBeLessThanOrEqual(MAX_APPEARING_AGENTS);
    for (const levels of w?.times.tables ?? []) for (const t of levels) expect(t.size).toBeLessThanOrEqual(224);
    expect(cacheSageModelBytesPerWorkload(d.state).w1).toBeLessThanOrEqual(25 * 1024);
    // the agent every session shares keeps its learned rows and its anchor's reuse rate
    const terminal = w?.model.index.get('terminal') as number;
    expect(w?.model.first.has(terminal)).toBe(true);
    expect(w?.appearances.counts.has(terminal)).toBe(true);
  });
});

function kvLike() {
  return {
    eventId: 'k-x',
    engineId: 'e1',
    seq: 99,
    ts: 1,
    producedAt: 0,
    kind: 'BLOCK_STORED' as const,
    blockHashes: [] as BlockHash[],
    parentHash: null as BlockHash | null,
    tokenIds: [],
    medium: 'GPU' as const,
  };
}
