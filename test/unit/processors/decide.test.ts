import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../adapters/memory/memory-store.js';
import type { ActDraft, ObservedEvent, Policy } from '../../../policies/policy.js';
import { decide } from '../../../processors/decide.js';
import { failure, withValue } from '../../../processors/stage-record.js';
import { createEchoPolicy } from '../../support/echo-policy.js';
import { kvEvent, requestEvent } from '../../support/events.js';
import { stageRecord } from '../../support/stage-records.js';

const marbles = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('decide stage', () => {
  it('emits one drafted act per draft at decision points only, with the cause', () => {
    const policy = createEchoPolicy({ ttlMs: 900, pinTtlMs: 400 }) as Policy<unknown>;
    const store = createMemoryStore<unknown>({ name: 'policy:echo' });
    const kv = stageRecord<ObservedEvent>({ type: 'kv', event: kvEvent() }, 0);
    const arrived = stageRecord<ObservedEvent>({ type: 'request', event: requestEvent({ phase: 'ARRIVED' }) }, 1);
    const finished = requestEvent({ eventId: 'r9', engineId: 'e7', ts: 250, producedAt: 4_000, blockHashes: [5n, 6n] });
    const done = stageRecord<ObservedEvent>({ type: 'request', event: finished }, 2);
    const draft: ActDraft = { kind: 'pin', ttlMs: 900, pinTtlMs: 400, blockHashes: [5n, 6n] };
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('a-b-c|', { a: kv, b: arrived, c: done }).pipe(
        decide({ stage: 'decide', policies: [{ policy, store }] }),
      );
      expectObservable(out).toBe('----x|', {
        x: withValue(done, {
          policy: 'echo',
          engineId: 'e7',
          draft,
          causeId: 'r9',
          causeProducedAt: 4_000,
          eventTs: 250,
        }),
      });
    });
  });

  it('calls score, predict and act in order and keeps policies apart when one throws', () => {
    const calls: string[] = [];
    const boom = new Error('score failed');
    const tracing: Policy<unknown> = {
      ...(createEchoPolicy({ name: 'tracing' }) as Policy<unknown>),
      score: (_s, p) => {
        calls.push('score');
        return { engineId: p.engineId, now: p.now, changed: [] };
      },
      predict: () => {
        calls.push('predict');
        return null;
      },
      act: (_s, input) => {
        calls.push(`act:${input.prediction === null}`);
        return [
          { kind: 'evict', ttlMs: 1, entries: [] },
          { kind: 'pin', ttlMs: 1, pinTtlMs: 1, blockHashes: [] },
        ];
      },
    };
    const broken: Policy<unknown> = {
      ...(createEchoPolicy({ name: 'broken' }) as Policy<unknown>),
      score: () => {
        throw boom;
      },
    };
    const r = stageRecord<ObservedEvent>({ type: 'request', event: requestEvent() }, 0);
    const base = { engineId: 'e1', causeId: 'r-1', causeProducedAt: 1_000, eventTs: 100 };
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('(a|)', { a: r }).pipe(
        decide({
          stage: 'decide',
          policies: [
            { policy: broken, store: createMemoryStore({ name: 'policy:broken' }) },
            { policy: tracing, store: createMemoryStore({ name: 'policy:tracing' }) },
          ],
        }),
      );
      expectObservable(out).toBe('(fxy|)', {
        f: failure('decide', r, boom, 'broken'),
        x: withValue(r, { ...base, policy: 'tracing', draft: { kind: 'evict', ttlMs: 1, entries: [] } }),
        y: withValue(r, { ...base, policy: 'tracing', draft: { kind: 'pin', ttlMs: 1, pinTtlMs: 1, blockHashes: [] } }),
      });
    });
    expect(calls).toEqual(['score', 'predict', 'act:true']);
  });
});
