import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/errors.js';
import { ANY_TOOL, type ContinuumState, createContinuumPolicy, pinTtlFor } from '../../../policies/continuum.js';
import type { ActDraft, ObservedEvent, Policy } from '../../../policies/policy.js';
import type { RequestEvent } from '../../../schemas/types.js';
import { kvEvent, requestEvent } from '../../support/events.js';

function run(policy: Policy<ContinuumState>, state: ContinuumState, event: ObservedEvent): ActDraft[] {
  policy.observe(state, event);
  const point = policy.decisionPoint(state, event);
  if (point === null) return [];
  const scores = policy.score(state, point);
  expect(scores.changed).toEqual([]);
  return policy.act(state, { point, scores, prediction: policy.predict(state, point), cause: event });
}

const req = (overrides: Partial<RequestEvent>): ObservedEvent => ({ type: 'request', event: requestEvent(overrides) });

/** A step of `session` arriving at `arriveMs` and finishing 100 ms later, optionally with a tool call. */
function step(
  policy: Policy<ContinuumState>,
  state: ContinuumState,
  session: string,
  arriveMs: number,
  toolCall: string | null,
): ActDraft[] {
  const base = { sessionId: session, blockHashes: [1n, 2n], outputBlockHashes: [3n] };
  expect(run(policy, state, req({ ...base, phase: 'ARRIVED', ts: arriveMs, outputBlockHashes: [] }))).toEqual([]);
  return run(policy, state, req({ ...base, phase: 'FINISHED', ts: arriveMs + 100, toolCall }));
}

describe('Continuum-like policy', () => {
  it('pins the context of a step that ends with a tool call, and does nothing otherwise', () => {
    const policy = createContinuumPolicy();
    const state = policy.createState();
    expect(run(policy, state, { type: 'kv', event: kvEvent() })).toEqual([]);
    expect(step(policy, state, 's1', 0, null)).toEqual([]);
    expect(step(policy, state, 's1', 1000, 'search')).toEqual([
      { kind: 'pin', ttlMs: 5000, pinTtlMs: 5000, blockHashes: [1n, 2n, 3n] },
    ]);
    expect(state.stats).toMatchObject({ pins: 1, pinnedBlocks: 3 });
  });

  it('learns the pin ttl from the observed tool gaps: per tool, then over all tools, 5 s before any', () => {
    const policy = createContinuumPolicy();
    const state = policy.createState();
    // Tool `search` ends at 100 + t; the session's next step arrives `gap` ms later.
    let t = 0;
    const gaps = [1000, 3000, 2000];
    const ttls: number[] = [];
    for (const gap of gaps) {
      const pin = step(policy, state, 's1', t, 'search');
      ttls.push(pin[0]?.kind === 'pin' ? pin[0].pinTtlMs : -1);
      t += 100 + gap;
    }
    step(policy, state, 's1', t, null);
    expect(ttls).toEqual([5000, 5000, 5000]);
    expect(state.gaps.get('search')).toEqual(gaps);
    expect(pinTtlFor(state, 'search')).toBe(2000);
    // An unseen tool falls back to every tool's median.
    expect(pinTtlFor(state, 'compile')).toBe(2000);
    expect(state.gaps.get(ANY_TOOL)).toEqual(gaps);
    const pin = step(policy, state, 's2', t + 50, 'search');
    expect(pin).toEqual([{ kind: 'pin', ttlMs: 2000, pinTtlMs: 2000, blockHashes: [1n, 2n, 3n] }]);
    expect(state.stats.gapsObserved).toBe(3);
  });

  it('keeps a bounded window of gaps and of sessions waiting on a tool', () => {
    const policy = createContinuumPolicy({ gapWindow: 2, maxPendingSessions: 2 });
    const state = policy.createState();
    for (const [i, gap] of [100, 200, 900].entries()) {
      step(policy, state, 's1', i * 10_000, 'run');
      run(policy, state, req({ sessionId: 's1', phase: 'ARRIVED', ts: i * 10_000 + 100 + gap }));
    }
    expect(state.gaps.get('run')).toEqual([200, 900]);
    for (const s of ['a', 'b', 'c']) step(policy, state, s, 100_000, 'run');
    expect([...state.pending.keys()]).toEqual(['b', 'c']);
  });

  it('uses a fixed pin ttl when given one, and validates its options', () => {
    const policy = createContinuumPolicy({ pinTtlMs: 750 });
    const state = policy.createState();
    step(policy, state, 's1', 0, 'x');
    run(policy, state, req({ sessionId: 's1', phase: 'ARRIVED', ts: 10_000 }));
    expect(step(policy, state, 's1', 20_000, 'x')).toEqual([
      { kind: 'pin', ttlMs: 750, pinTtlMs: 750, blockHashes: [1n, 2n, 3n] },
    ]);
    expect(() => createContinuumPolicy({ pinTtlMs: 0 })).toThrow(ConfigError);
    expect(() => createContinuumPolicy({ pinTtlMs: Number.NaN })).toThrow(/pinTtlMs/);
    expect(() => createContinuumPolicy({ fallbackPinTtlMs: -1 })).toThrow(/fallbackPinTtlMs/);
    expect(() => createContinuumPolicy({ gapWindow: 0 })).toThrow(/gapWindow/);
  });
});
