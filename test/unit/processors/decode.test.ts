import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../core/errors.js';
import { decode } from '../../../processors/decode.js';
import { failure, type StageRecord, withValue } from '../../../processors/stage-record.js';
import { stageRecord } from '../../support/stage-records.js';

const marbles = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('decode stage', () => {
  it('decodes each value in order and turns an undecodable one into a failure; the stream goes on', () => {
    const bad = new DecodeError('DECODE_FAILED', 'truncated');
    const decoder = (v: unknown): number => {
      if (typeof v !== 'string' || !/^\d+$/.test(v)) throw bad;
      return Number(v);
    };
    const a = stageRecord('1', 0);
    const b = stageRecord('x', 1);
    const c = stageRecord('3', 2);
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('-a-b--c|', { a, b, c }).pipe(decode({ stage: 'decode-kv', decoder }));
      expectObservable(out).toBe('-x-y--z|', {
        x: withValue(a, 1),
        y: failure('decode-kv', b, bad),
        z: withValue(c, 3),
      });
    });
  });

  it('keeps the raw value and origin on decoded records', () => {
    const record = stageRecord(new Uint8Array([0, 0, 0, 0, 7]), 41, 'cachesage.kv-events', 5);
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('a|', { a: record }).pipe(decode({ stage: 'd', decoder: (v) => (v as Uint8Array)[4] }));
      expectObservable(out).toBe('a|', {
        a: {
          origin: { topic: 'cachesage.kv-events', partition: 5, offset: '41' },
          key: 'e1',
          timestampMs: 141,
          headers: { trace: 't41' },
          raw: record.raw,
          value: 7,
        },
      });
    });
  });

  it('passes an upstream error through', () => {
    marbles().run(({ cold, expectObservable }) => {
      const out = cold<StageRecord<unknown>>('-#', {}, new Error('source broke')).pipe(
        decode({ stage: 'd', decoder: (v) => v }),
      );
      expectObservable(out).toBe('-#', {}, new Error('source broke'));
    });
  });
});
