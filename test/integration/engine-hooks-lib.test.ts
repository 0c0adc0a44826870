import { connect, type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEngineHooks,
  type EngineHookCallbacks,
  type EngineHookHandle,
} from '../../adapters/engine-hooks-lib/index.js';
import { encodeActForNats } from '../../schemas/act-codec.js';
import type { Act, EvictionHints, Pin, Prefetch } from '../../schemas/types.js';
import { integrationEnv, uniqueName, waitFor } from './helpers.js';

const { natsUrl } = integrationEnv();

function recorder(): EngineHookCallbacks & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    applyEvictionHints: (a: EvictionHints) => void seen.push(`evict:${a.engineId}:${a.seq}`),
    prefetch: (a: Prefetch) => void seen.push(`prefetch:${a.engineId}:${a.seq}`),
    pin: (a: Pin) => void seen.push(`pin:${a.engineId}:${a.seq}`),
  };
}

function acts(engineId: string, seq: number, issuedAt = Date.now()): Act[] {
  const header = {
    engineId,
    seq,
    issuedAt,
    ttlMs: 60_000,
    causeId: `ev-${seq}`,
    causeProducedAt: issuedAt,
    policy: 'cachesage',
  };
  return [
    { ...header, kind: 'evict', entries: [{ contextId: 's1/Coder', blockHashes: [1n, -2n], priority: 0.25 }] },
    { ...header, kind: 'prefetch', sessionId: 's1', agentId: 'Coder', blockHashes: [3n], deadlineMs: 500 },
    { ...header, kind: 'pin', blockHashes: [2n ** 63n - 1n], pinTtlMs: 1000 },
  ];
}

describe('engine hook library on the real NATS', () => {
  let publisher: NatsConnection;
  let hookA: EngineHookHandle;
  let hookB: EngineHookHandle;
  const engineA = uniqueName('engine-a');
  const engineB = uniqueName('engine-b');
  const a = recorder();
  const b = recorder();

  const send = (subject: string, act: Act) => {
    const { data, headers } = encodeActForNats(act);
    const h = natsHeaders();
    for (const [k, v] of Object.entries(headers)) h.set(k, v);
    publisher.publish(subject, data, { headers: h });
  };

  beforeAll(async () => {
    publisher = await connect({ servers: natsUrl, name: 'hooks-test-publisher' });
    hookA = await createEngineHooks({ engineId: engineA, natsUrl, callbacks: a });
    hookB = await createEngineHooks({ engineId: engineB, natsUrl, callbacks: b });
  });
  afterAll(async () => {
    await hookA?.close();
    await hookB?.close();
    await publisher?.close();
  });

  it('delivers each engine its own acts, decoded from Avro, and nothing of the other', async () => {
    for (const act of acts(engineA, 1)) send(`cachesage.act.${engineA}.${act.kind}`, act);
    for (const act of acts(engineB, 1)) send(`cachesage.act.${engineB}.${act.kind}`, act);
    await publisher.flush();
    await waitFor(() => a.seen.length === 3 && b.seen.length === 3, { what: 'both engines to apply their acts' });
    expect(a.seen).toEqual([`evict:${engineA}:1`, `prefetch:${engineA}:1`, `pin:${engineA}:1`]);
    expect(b.seen).toEqual([`evict:${engineB}:1`, `prefetch:${engineB}:1`, `pin:${engineB}:1`]);
    expect(hookA.subject).toBe(`cachesage.act.${engineA}.*`);
    expect(hookA.counters.applied).toEqual({ evict: 1, prefetch: 1, pin: 1 });
    expect(hookB.counters.applied).toEqual({ evict: 1, prefetch: 1, pin: 1 });
  });

  it('rejects and counts stale, foreign and malformed acts', async () => {
    const before = { ...hookA.counters.rejected };
    const [evict, prefetch, pin] = acts(engineA, 2) as [EvictionHints, Prefetch, Pin];
    send(`cachesage.act.${engineA}.evict`, evict);
    send(`cachesage.act.${engineA}.evict`, evict); // same seq again: stale-seq
    send(`cachesage.act.${engineA}.prefetch`, { ...prefetch, issuedAt: Date.now() - 120_000 }); // stale-ttl
    send(`cachesage.act.${engineA}.pin`, { ...pin, engineId: engineB }); // foreign
    publisher.publish(`cachesage.act.${engineA}.pin`, new Uint8Array([1, 2, 3])); // no schema header: malformed
    const garbage = natsHeaders();
    garbage.set('cachesage-schema-id', String(encodeActForNats(pin).headers['cachesage-schema-id']));
    publisher.publish(`cachesage.act.${engineA}.pin`, new Uint8Array([0xff, 0xff, 0xff]), { headers: garbage });
    send(`cachesage.act.${engineA}.prefetch`, { ...pin, seq: 9 }); // a pin on the prefetch subject: malformed
    send(`cachesage.act.${engineA}.pin`, { ...pin, seq: 3 });
    await publisher.flush();
    await waitFor(() => a.seen.includes(`pin:${engineA}:3`), { what: 'the last valid act' });
    const rejected = hookA.counters.rejected;
    expect(rejected['stale-seq'] - before['stale-seq']).toBe(1);
    expect(rejected['stale-ttl'] - before['stale-ttl']).toBe(1);
    expect(rejected.foreign - before.foreign).toBe(1);
    expect(rejected.malformed - before.malformed).toBe(3);
    expect(a.seen.slice(3)).toEqual([`evict:${engineA}:2`, `pin:${engineA}:3`]);
    expect(b.seen).toHaveLength(3);
  });

  it('counts a failing callback and keeps going', async () => {
    const engine = uniqueName('engine-c');
    let pins = 0;
    const hook = await createEngineHooks({
      engineId: engine,
      natsUrl,
      callbacks: {
        applyEvictionHints: () => {
          throw new Error('block pool busy');
        },
        prefetch: async () => {
          throw new Error('no CPU tier');
        },
        pin: () => void pins++,
      },
    });
    try {
      for (const act of acts(engine, 1)) send(`cachesage.act.${engine}.${act.kind}`, act);
      await publisher.flush();
      await waitFor(() => hook.counters.failed === 2 && pins === 1, { what: 'two failures and one pin' });
      expect(hook.counters.applied).toEqual({ evict: 1, prefetch: 1, pin: 1 });
    } finally {
      await hook.drain();
    }
    expect(await hook.closed).toBeUndefined();
  });

  it('refuses a wildcard or multi-token engine id', async () => {
    for (const engineId of ['*', '>', 'a.b', '']) {
      await expect(createEngineHooks({ engineId, natsUrl, callbacks: recorder() })).rejects.toThrow(/subject token/);
    }
  });
});
