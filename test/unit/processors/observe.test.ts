import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../adapters/memory/memory-store.js';
import type { ObservedEvent, Policy } from '../../../policies/policy.js';
import { observe } from '../../../processors/observe.js';
import { POLICY_STATE_KEY } from '../../../processors/policy-state.js';
import { failure } from '../../../processors/stage-record.js';
import { createEchoPolicy, type EchoState } from '../../support/echo-policy.js';
import { kvEvent, requestEvent } from '../../support/events.js';
import { stageRecord } from '../../support/stage-records.js';

const marbles = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('observe stage', () => {
  it('folds every event into the policy state held in its store and passes records on', () => {
    const policy = createEchoPolicy() as Policy<unknown>;
    const store = createMemoryStore<unknown>({ name: 'policy:echo' });
    const a = stageRecord<ObservedEvent>({ type: 'kv', event: kvEvent({ blockHashes: [1n, 2n, 3n] }) }, 0);
    const b = stageRecord<ObservedEvent>({ type: 'request', event: requestEvent({ agentId: 'A', eventId: 'r1' }) }, 1);
    const c = stageRecord<ObservedEvent>({ type: 'request', event: requestEvent({ agentId: 'B', eventId: 'r2' }) }, 2);
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('a-b-c|', { a, b, c }).pipe(observe({ stage: 'observe', policies: [{ policy, store }] }));
      expectObservable(out).toBe('a-b-c|', { a, b, c });
    });
    const state = store.get(POLICY_STATE_KEY) as EchoState;
    expect(state.events).toBe(3);
    expect(state.storedBlocks).toBe(3);
    expect(state.transitions).toEqual({ 'A>B': 1 });
  });

  it('isolates policies: one that throws yields a failure naming it, the others still observe', () => {
    const boom = new Error('boom');
    const broken: Policy<unknown> = {
      ...(createEchoPolicy({ name: 'broken' }) as Policy<unknown>),
      observe: (_s, e) => {
        if (e.event.eventId === 'r2') throw boom;
      },
    };
    const echo = createEchoPolicy() as Policy<unknown>;
    const brokenStore = createMemoryStore<unknown>({ name: 'policy:broken' });
    const echoStore = createMemoryStore<unknown>({ name: 'policy:echo' });
    const a = stageRecord<ObservedEvent>({ type: 'request', event: requestEvent({ eventId: 'r1' }) }, 0);
    const b = stageRecord<ObservedEvent>({ type: 'request', event: requestEvent({ eventId: 'r2' }) }, 1);
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('a-b---|', { a, b }).pipe(
        observe({
          stage: 'observe',
          policies: [
            { policy: broken, store: brokenStore },
            { policy: echo, store: echoStore },
          ],
        }),
      );
      expectObservable(out).toBe('a-(fb)|', { a, b, f: failure('observe', b, boom, 'broken') });
    });
    expect((echoStore.get(POLICY_STATE_KEY) as EchoState).events).toBe(2);
  });
});
