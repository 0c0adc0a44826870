import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../adapters/memory/memory-store.js';
import type { DecisionPoint, ObservedEvent, Policy } from '../../../policies/policy.js';
import { createDeferredDecisions, decide } from '../../../processors/decide.js';
import { keysFollowing, type StageRecord } from '../../../processors/stage-record.js';
import { createEchoPolicy } from '../../support/echo-policy.js';
import { kvEvent, requestEvent } from '../../support/events.js';
import { stageRecord } from '../../support/stage-records.js';

const marbles = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A policy deciding at every request event; points of sessions named `keep-*` are not conflatable. */
function tracingPolicy(decided: string[]): Policy<unknown> {
  return {
    ...(createEchoPolicy({ name: 'tracing' }) as Policy<unknown>),
    decisionPoint(_s, e): DecisionPoint | null {
      if (e.type !== 'request') return null;
      return { engineId: e.event.engineId, sessionId: e.event.sessionId, now: e.event.ts };
    },
    conflatable: (_s, point) => !(point.sessionId ?? '').startsWith('keep-'),
    act(_s, input) {
      decided.push(`${input.point.sessionId}<-${input.cause.event.eventId}`);
      return [{ kind: 'pin', ttlMs: 1, pinTtlMs: 1, blockHashes: [] }];
    },
  };
}

function request(id: string, sessionId: string, key = 'e1'): StageRecord<ObservedEvent> {
  const r = stageRecord<ObservedEvent>({ type: 'request', event: requestEvent({ eventId: id, sessionId }) }, 0);
  return { ...r, key };
}

function kv(key = 'e1'): StageRecord<ObservedEvent> {
  return { ...stageRecord<ObservedEvent>({ type: 'kv', event: kvEvent() }, 0), key };
}

/** Marks the records as the runtime does for one source batch. */
function batch(records: StageRecord<ObservedEvent>[]): StageRecord<ObservedEvent>[] {
  const follows = keysFollowing(records);
  return records.map((r, i) => (follows[i] ? { ...r, keyFollows: true } : r));
}

function run(records: StageRecord<ObservedEvent>[], conflate: boolean): { decided: string[]; acts: number } {
  const decided: string[] = [];
  const policy = tracingPolicy(decided);
  let acts = 0;
  marbles().run(({ cold }) => {
    const values = Object.fromEntries(records.map((r, i) => [String.fromCharCode(97 + i), r]));
    cold(`${Object.keys(values).join('')}|`, values)
      .pipe(
        decide({
          stage: 'decide',
          policies: [{ policy, store: createMemoryStore({ name: 'policy:tracing' }) }],
          conflate,
          deferred: createDeferredDecisions(),
        }),
      )
      .subscribe(() => acts++);
  });
  return { decided, acts };
}

describe('keysFollowing', () => {
  it('marks every record whose key comes again later in the batch', () => {
    expect(
      keysFollowing([{ key: 'a' }, { key: 'b' }, { key: 'a' }, { key: null }, { key: 'b' }, { key: null }]),
    ).toEqual([true, true, false, false, false, false]);
    expect(keysFollowing([])).toEqual([]);
  });
});

describe('decide stage with conflation', () => {
  it('without conflate decides at every point, marks or not', () => {
    const records = batch([request('r1', 's1'), request('r2', 's2'), request('r3', 's3')]);
    expect(run(records, false).decided).toEqual(['s1<-r1', 's2<-r2', 's3<-r3']);
  });

  it("leaves conflatable points to the key's last record: the latest point with the earliest cause, then its own", () => {
    const records = batch([request('r1', 's1'), kv(), request('r2', 's2'), kv(), request('r3', 's3')]);
    // r1 and r2 are deferred (the kv events between have no point and do not resolve them); r3, the last record of
    // the key, decides the deferred point (s2, the engine as it stands, caused by r1) and then its own.
    expect(run(records, true)).toEqual({ decided: ['s2<-r1', 's3<-r3'], acts: 2 });
  });

  it('a batch ending on a record without a point still decides the deferred one', () => {
    const records = batch([request('r1', 's1'), request('r2', 's2'), kv()]);
    expect(run(records, true).decided).toEqual(['s2<-r1']);
  });

  it('never defers a point the policy calls not conflatable, and resolves the deferred one before it', () => {
    const records = batch([request('r1', 's1'), request('r2', 'keep-1'), request('r3', 's3'), request('r4', 's4')]);
    expect(run(records, true).decided).toEqual(['s1<-r1', 'keep-1<-r2', 's3<-r3', 's4<-r4']);
  });

  it('keeps keys apart: each engine decides at its own last record', () => {
    const records = batch([request('a1', 's1', 'e1'), request('b1', 's2', 'e2'), request('a2', 's3', 'e1'), kv('e2')]);
    expect(run(records, true).decided).toEqual(['s1<-a1', 's3<-a2', 's2<-b1']);
  });
});
