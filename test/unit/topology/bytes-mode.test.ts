import { describe, expect, it } from 'vitest';
import { createActFilter } from '../../../adapters/hooks/act-filter.js';
import { attachEngineHooks } from '../../../adapters/hooks/attach-engine-hooks.js';
import { createMemoryBus, memorySources } from '../../../adapters/memory/memory-bus.js';
import { createMemoryStores } from '../../../adapters/memory/memory-store.js';
import { createVirtualScheduler } from '../../../adapters/memory/virtual-scheduler.js';
import type { Policy } from '../../../policies/policy.js';
import { decodeActFromNats, encodeActForNats } from '../../../schemas/act-codec.js';
import { createCodec } from '../../../schemas/codec.js';
import type { Act } from '../../../schemas/types.js';
import { ENGINE_TOPICS, engineDecoders, engineTopology } from '../../../topology/engine-topology.js';
import { startTopology } from '../../../topology/runtime/start-topology.js';
import { createEchoPolicy } from '../../support/echo-policy.js';
import { kvEvent, requestEvent } from '../../support/events.js';

describe('engine topology over Avro bytes on the in-memory bus', () => {
  it('decodes events, publishes acts with the schema id in headers, dead-letters undecodable bytes', () => {
    const scheduler = createVirtualScheduler({ startMs: 10 });
    const bus = createMemoryBus({ scheduler, mode: 'bytes', actDelayMs: 3 });
    const topology = engineTopology({ policies: ['echo'] });
    const kv = createCodec('KvEvent');
    const requests = createCodec('RequestEvent');
    const letters = createCodec('DeadLetter');
    const run = startTopology(topology, {
      sources: memorySources(bus, topology),
      sinks: { acts: bus.sink(), dlq: bus.sink() },
      stores: createMemoryStores(topology.stores.map((s) => s.name)),
      policies: [createEchoPolicy() as Policy],
      scheduler,
      decoders: engineDecoders({
        kvEvent: (v) => kv.decode(v as Uint8Array),
        requestEvent: (v) => requests.decode(v as Uint8Array),
      }),
      encoders: { act: encodeActForNats, deadLetter: (l) => letters.encode(l) },
    });
    const applied: Act[] = [];
    const filter = createActFilter({ engineId: 'e1', now: () => scheduler.now() });
    attachEngineHooks({
      subscribe: bus.subscribe,
      engineId: 'e1',
      filter,
      decode: (value, message) => decodeActFromNats(value as Uint8Array, message.headers),
      hooks: {
        engineId: 'e1',
        applyEvictionHints: (a) => applied.push(a),
        prefetch: (a) => applied.push(a),
        pin: (a) => applied.push(a),
      },
    });
    const raw: string[] = [];
    bus.subscribe('cachesage.act.e1.pin', (m) => raw.push(Object.keys(m.headers).sort().join(',')));

    bus.publish(ENGINE_TOPICS.kvEvents, 'e1', kv.encode(kvEvent({ eventId: 'k1' })));
    const garbage = new Uint8Array([0, 0, 0, 0, 42, 1, 2, 3]);
    const bad = bus.publish(ENGINE_TOPICS.requests, 'e1', garbage, { headers: { trace: 'abc' } });
    bus.publish(
      ENGINE_TOPICS.requests,
      'e1',
      requests.encode(requestEvent({ eventId: 'r1', blockHashes: [-5n, 2n ** 62n] })),
    );
    scheduler.runAll();

    expect(run.stats).toMatchObject({ records: 3, commits: 3, deadLettered: 1, state: 'running' });
    expect(applied).toEqual([
      {
        kind: 'pin',
        engineId: 'e1',
        seq: 1,
        issuedAt: 10,
        ttlMs: 1000,
        causeId: 'r1',
        causeProducedAt: 1_000,
        policy: 'echo',
        blockHashes: [-5n, 2n ** 62n],
        pinTtlMs: 500,
      },
    ]);
    expect(raw).toHaveLength(1);
    expect(raw[0]).toMatch(/schema/);
    const [letter] = bus.read(ENGINE_TOPICS.deadLetters).map((r) => letters.decode(r.value as Uint8Array));
    expect(letter).toMatchObject({
      originTopic: ENGINE_TOPICS.requests,
      originPartition: bad.partition,
      originOffset: bad.offset,
      stage: 'decode',
      key: 'e1',
      headers: { trace: 'abc' },
    });
    expect(letter!.reason).toMatch(/^UNKNOWN_SCHEMA/);
    expect([...letter!.payload]).toEqual([...garbage]);
  });
});
