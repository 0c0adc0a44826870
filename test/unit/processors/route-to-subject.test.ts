import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { BadRecordError } from '../../../core/errors.js';
import { routeToSubject } from '../../../processors/route-to-subject.js';
import { isFailure, withValue } from '../../../processors/stage-record.js';
import type { Act } from '../../../schemas/types.js';
import { stageRecord } from '../../support/stage-records.js';

const marbles = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

function pin(engineId: string, seq: number): Act {
  return {
    kind: 'pin',
    engineId,
    seq,
    issuedAt: 1,
    ttlMs: 2,
    causeId: 'c',
    causeProducedAt: 3,
    policy: 'echo',
    blockHashes: [9n],
    pinTtlMs: 4,
  };
}

describe('route-to-subject stage', () => {
  it('routes each act to cachesage.act.<engineId>.<kind> keyed by engine, with a deterministic message id', () => {
    const a = stageRecord(pin('e1', 1), 0);
    const b = stageRecord({ ...pin('gpu-7', 5), kind: 'evict', entries: [] } as unknown as Act, 1);
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('a-b|', { a, b }).pipe(
        routeToSubject({ stage: 'route', destination: 'cachesage.act.{engineId}.{kind}' }),
      );
      expectObservable(out).toBe('a-b|', {
        a: withValue(a, { destination: 'cachesage.act.e1.pin', key: 'e1', value: a.value, messageId: 'e1.pin.echo.1' }),
        b: withValue(b, {
          destination: 'cachesage.act.gpu-7.evict',
          key: 'gpu-7',
          value: b.value,
          messageId: 'gpu-7.evict.echo.5',
        }),
      });
    });
  });

  it('encodes with the injected encoder; an engine id that is not one subject token becomes a failure', () => {
    const good = stageRecord(pin('e1', 1), 0);
    const bad = stageRecord(pin('e.1', 2), 1);
    const encode = (act: Act): Uint8Array => new Uint8Array([act.seq]);
    const seen: unknown[] = [];
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('ab|', { a: good, b: bad }).pipe(
        routeToSubject({ stage: 'route', destination: 'cachesage.act.{engineId}.{kind}', encode }),
      );
      out.subscribe((x) => seen.push(x));
      expectObservable(out).toBe('ab|', {
        a: withValue(good, {
          destination: 'cachesage.act.e1.pin',
          key: 'e1',
          value: new Uint8Array([1]),
          messageId: 'e1.pin.echo.1',
        }),
        b: expect.objectContaining({ failed: true, stage: 'route', record: bad, policy: 'echo' }),
      });
    });
    const failed = seen[1];
    expect(failed !== undefined && isFailure(failed as never)).toBe(true);
    expect((failed as { error: unknown }).error).toBeInstanceOf(BadRecordError);
  });

  it('carries the headers of an encoder that returns bytes and headers (the NATS act encoding)', () => {
    const a = stageRecord(pin('e1', 3), 0);
    const encode = (act: Act) => ({ data: new Uint8Array([act.seq]), headers: { 'cachesage-schema-id': '7' } });
    marbles().run(({ cold, expectObservable }) => {
      const out = cold('a|', { a }).pipe(routeToSubject({ stage: 'route', destination: 'x.{engineId}', encode }));
      expectObservable(out).toBe('a|', {
        a: withValue(a, {
          destination: 'x.e1',
          key: 'e1',
          value: new Uint8Array([3]),
          headers: { 'cachesage-schema-id': '7' },
          messageId: 'e1.pin.echo.3',
        }),
      });
    });
  });
});
