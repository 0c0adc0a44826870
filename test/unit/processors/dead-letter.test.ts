import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../core/errors.js';
import { deadLetter, payloadBytes } from '../../../processors/dead-letter.js';
import { failure } from '../../../processors/stage-record.js';
import type { DeadLetter } from '../../../schemas/types.js';
import { stageRecord } from '../../support/stage-records.js';

const marbles = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('dead-letter stage', () => {
  it('builds the envelope with origin, stage, reason, failure time and raw bytes', () => {
    const bytes = new Uint8Array([0, 0, 0, 0, 99, 1]);
    const f1 = failure(
      'decode-kv',
      stageRecord(bytes, 17, 'cachesage.kv-events', 4),
      new DecodeError('UNKNOWN_SCHEMA', 'id 99'),
    );
    const f2 = failure('observe', stageRecord({ eventId: 'x', hashes: [5n] }, 3), new Error('oops'), 'lru');
    let clock = 500;
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('a--b|', { a: f1, b: f2 }).pipe(
        deadLetter({ destination: 'cachesage.dlq', now: () => clock++ }),
      );
      const one: DeadLetter = {
        originTopic: 'cachesage.kv-events',
        originPartition: 4,
        originOffset: '17',
        stage: 'decode-kv',
        reason: 'UNKNOWN_SCHEMA: id 99',
        failedAt: 500,
        payload: Buffer.from(bytes),
        key: 'e1',
        headers: { trace: 't17' },
      };
      const two: DeadLetter = {
        originTopic: 'cachesage.requests',
        originPartition: 3,
        originOffset: '3',
        stage: 'observe',
        reason: 'policy lru: Error: oops',
        failedAt: 501,
        payload: Buffer.from('{"eventId":"x","hashes":["5"]}'),
        key: 'e1',
        headers: { trace: 't3' },
      };
      expectObservable(out).toBe('a--b|', {
        a: { destination: 'cachesage.dlq', key: 'e1', value: one },
        b: { destination: 'cachesage.dlq', key: 'e1', value: two },
      });
    });
  });

  it('encodes the envelope with the injected encoder', () => {
    const f = failure('decode-kv', stageRecord(new Uint8Array([1]), 0), new Error('bad'));
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('a|', { a: f }).pipe(
        deadLetter({ destination: 'dlq', now: () => 1, encode: (l) => new TextEncoder().encode(l.reason) }),
      );
      expectObservable(out).toBe('a|', {
        a: { destination: 'dlq', key: 'e1', value: new TextEncoder().encode('Error: bad') },
      });
    });
  });

  it('renders values that JSON cannot hold as text', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(new TextDecoder().decode(payloadBytes(cyclic))).toBe('[object Object]');
    expect(new TextDecoder().decode(payloadBytes('plain'))).toBe('"plain"');
  });
});
