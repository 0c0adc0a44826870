import { describe, expect, it } from 'vitest';
import { createActFilter } from '../../../../adapters/hooks/act-filter.js';
import { actProblem } from '../../../../adapters/hooks/validate-act.js';
import { ConfigError } from '../../../../core/errors.js';
import type { Act, EvictionHints, Pin, Prefetch } from '../../../../schemas/types.js';

const header = { engineId: 'e1', issuedAt: 1_000, ttlMs: 100, causeId: 'c', causeProducedAt: 5, policy: 'echo' };
const pin = (seq: number, extra: Partial<Pin> = {}): Pin => ({
  ...header,
  kind: 'pin',
  seq,
  blockHashes: [1n],
  pinTtlMs: 50,
  ...extra,
});
const evict = (seq: number, extra: Partial<EvictionHints> = {}): EvictionHints => ({
  ...header,
  kind: 'evict',
  seq,
  entries: [{ contextId: 's/a', blockHashes: [], priority: 0.5 }],
  ...extra,
});
const prefetch = (seq: number): Prefetch => ({
  ...header,
  kind: 'prefetch',
  seq,
  sessionId: 's',
  agentId: 'a',
  blockHashes: [2n],
  deadlineMs: 30,
});

describe('act filter', () => {
  it('accepts fresh acts and counts them as applied per kind', () => {
    const filter = createActFilter({ engineId: 'e1', now: () => 1_050 });
    for (const act of [pin(1), evict(1), prefetch(1), pin(2)] as Act[]) expect(filter.check(act).accepted).toBe(true);
    expect(filter.counters.applied).toEqual({ evict: 1, prefetch: 1, pin: 2 });
    expect(filter.counters.rejected).toEqual({ foreign: 0, 'stale-ttl': 0, 'stale-seq': 0, malformed: 0 });
  });

  it('rejects acts for another engine', () => {
    const filter = createActFilter({ engineId: 'e1', now: () => 1_000 });
    expect(filter.check(pin(1, { engineId: 'e2' }))).toEqual({
      accepted: false,
      reason: 'foreign',
      detail: 'act for engine e2',
    });
    expect(filter.counters.rejected.foreign).toBe(1);
    expect(filter.counters.applied.pin).toBe(0);
  });

  it('rejects an act past issuedAt + ttlMs, on the engine clock', () => {
    let now = 1_100;
    const filter = createActFilter({ engineId: 'e1', now: () => now });
    expect(filter.check(pin(1)).accepted).toBe(true);
    now = 1_101;
    expect(filter.check(pin(2))).toMatchObject({ accepted: false, reason: 'stale-ttl' });
    expect(filter.counters.rejected['stale-ttl']).toBe(1);
    expect(filter.check(pin(3, { issuedAt: 1_050 })).accepted).toBe(true);
  });

  it('rejects a seq not newer than the last applied of the same kind and policy; others are independent', () => {
    const filter = createActFilter({ engineId: 'e1', now: () => 1_000 });
    expect(filter.check(pin(5)).accepted).toBe(true);
    expect(filter.check(pin(5))).toMatchObject({ accepted: false, reason: 'stale-seq' });
    expect(filter.check(pin(4))).toMatchObject({ accepted: false, reason: 'stale-seq' });
    expect(filter.check(evict(1)).accepted).toBe(true);
    expect(filter.check(pin(1, { policy: 'other' })).accepted).toBe(true);
    expect(filter.check(pin(6)).accepted).toBe(true);
    expect(filter.counters.rejected['stale-seq']).toBe(2);
    const expired = createActFilter({ engineId: 'e1', now: () => 5_000 });
    expect(expired.check(pin(1)).accepted).toBe(false);
    expect(expired.check(pin(1, { issuedAt: 4_990 })).accepted).toBe(true);
  });

  it('rejects malformed acts, naming the field', () => {
    const filter = createActFilter({ engineId: 'e1', now: () => 1_000 });
    const bad: [unknown, string][] = [
      [undefined, 'not an object'],
      [new Uint8Array([1, 2]), 'kind'],
      [{ ...pin(1), kind: 'warm' }, 'kind'],
      [{ ...pin(1), seq: -1 }, 'seq'],
      [{ ...pin(1), seq: 1.5 }, 'seq'],
      [{ ...pin(1), engineId: '' }, 'engineId'],
      [{ ...pin(1), ttlMs: Number.NaN }, 'ttlMs'],
      [{ ...pin(1), issuedAt: '1000' }, 'issuedAt'],
      [{ ...pin(1), policy: undefined }, 'policy'],
      [{ ...pin(1), blockHashes: [1] }, 'blockHashes'],
      [{ ...pin(1), pinTtlMs: -5 }, 'pinTtlMs'],
      [{ ...evict(1), entries: [{ contextId: 3, blockHashes: [], priority: 1 }] }, 'entries[].contextId'],
      [
        { ...evict(1), entries: [{ contextId: null, blockHashes: [], priority: Number.POSITIVE_INFINITY }] },
        'entries[].priority',
      ],
      [
        { ...evict(1), entries: [{ contextId: 's/A', blockHashes: [1n], fromBlock: -1, priority: 1 }] },
        'entries[].fromBlock',
      ],
      [
        { ...evict(1), entries: [{ contextId: 's/A', blockHashes: [1n], fromBlock: 0.5, priority: 1 }] },
        'entries[].fromBlock',
      ],
      // an extension needs a context to extend and something to extend it with
      [
        { ...evict(1), entries: [{ contextId: null, blockHashes: [1n], fromBlock: 2, priority: 1 }] },
        'entries[].fromBlock',
      ],
      [
        { ...evict(1), entries: [{ contextId: 's/A', blockHashes: [], fromBlock: 2, priority: 1 }] },
        'entries[].fromBlock',
      ],
      [{ ...prefetch(1), agentId: '' }, 'agentId'],
      [{ ...prefetch(1), deadlineMs: undefined }, 'deadlineMs'],
    ];
    for (const [value, field] of bad) {
      expect(actProblem(value)).toBe(field);
      expect(filter.check(value)).toEqual({ accepted: false, reason: 'malformed', detail: field });
    }
    expect(filter.counters.rejected.malformed).toBe(bad.length);
    expect(filter.counters.applied).toEqual({ evict: 0, prefetch: 0, pin: 0 });
    const extension = { contextId: 's/A', blockHashes: [1n], fromBlock: 2, priority: 1 };
    expect(actProblem({ ...evict(2), entries: [extension, { ...extension, fromBlock: 0 }] })).toBeNull();
  });

  it('refuses bad options', () => {
    expect(() => createActFilter({ engineId: '', now: () => 0 })).toThrow(ConfigError);
    expect(() => createActFilter({ engineId: 'e1', now: undefined as never })).toThrow(ConfigError);
  });
});
