import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../adapters/memory/memory-store.js';
import { ConfigError } from '../../../core/errors.js';
import type { DraftedAct } from '../../../processors/decide.js';
import { withValue } from '../../../processors/stage-record.js';
import { actSeqKey, stampActs } from '../../../processors/stamp-acts.js';
import { stageRecord } from '../../support/stage-records.js';

const marbles = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

function drafted(engineId: string, policy: string, kind: 'pin' | 'evict', ttlMs: number, causeId: string): DraftedAct {
  const draft =
    kind === 'pin' ? { kind, ttlMs, pinTtlMs: 50, blockHashes: [1n] } : { kind, ttlMs, entries: [] as never[] };
  return { policy, engineId, draft, causeId, causeProducedAt: 7, eventTs: 300 };
}

describe('stamp-acts stage', () => {
  it('numbers acts per (engine, kind, policy), sets issuedAt from the clock, ttl and cause', () => {
    const seqStore = createMemoryStore<number>({ name: 'act-seq' });
    seqStore.put(actSeqKey('e1', 'pin', 'echo'), 41);
    const a = stageRecord(drafted('e1', 'echo', 'pin', 0, 'c1'), 0);
    const b = stageRecord(drafted('e1', 'echo', 'evict', 20, 'c2'), 1);
    const c = stageRecord(drafted('e2', 'echo', 'pin', 0, 'c3'), 2);
    const d = stageRecord(drafted('e1', 'echo', 'pin', 30, 'c4'), 3);
    let clock = 1000;
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('a-b-c-d|', { a, b, c, d }).pipe(
        stampActs({ stage: 'stamp', seqStore, now: () => clock++, defaultTtlMs: 5000 }),
      );
      const header = { causeProducedAt: 7, policy: 'echo' };
      expectObservable(out).toBe('a-b-c-d|', {
        a: withValue(a, {
          kind: 'pin',
          pinTtlMs: 50,
          blockHashes: [1n],
          ...header,
          engineId: 'e1',
          seq: 42,
          issuedAt: 1000,
          ttlMs: 5000,
          causeId: 'c1',
        }),
        b: withValue(b, {
          kind: 'evict',
          entries: [],
          ...header,
          engineId: 'e1',
          seq: 1,
          issuedAt: 1001,
          ttlMs: 20,
          causeId: 'c2',
        }),
        c: withValue(c, {
          kind: 'pin',
          pinTtlMs: 50,
          blockHashes: [1n],
          ...header,
          engineId: 'e2',
          seq: 1,
          issuedAt: 1002,
          ttlMs: 5000,
          causeId: 'c3',
        }),
        d: withValue(d, {
          kind: 'pin',
          pinTtlMs: 50,
          blockHashes: [1n],
          ...header,
          engineId: 'e1',
          seq: 43,
          issuedAt: 1003,
          ttlMs: 30,
          causeId: 'c4',
        }),
      });
    });
    expect(seqStore.get(actSeqKey('e1', 'pin', 'echo'))).toBe(43);
  });

  it('uses the event time without a clock, and refuses a bad default ttl', () => {
    const seqStore = createMemoryStore<number>({ name: 'act-seq' });
    const a = stageRecord(drafted('e1', 'p', 'pin', 10, 'c'), 0);
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('a|', { a }).pipe(stampActs({ stage: 's', seqStore, defaultTtlMs: 1 }));
      expectObservable(out).toBe('a|', {
        a: withValue(a, {
          kind: 'pin',
          pinTtlMs: 50,
          blockHashes: [1n],
          engineId: 'e1',
          seq: 1,
          issuedAt: 300,
          ttlMs: 10,
          causeId: 'c',
          causeProducedAt: 7,
          policy: 'p',
        }),
      });
    });
    expect(() => stampActs({ stage: 's', seqStore, defaultTtlMs: 0 })).toThrow(ConfigError);
  });
});
