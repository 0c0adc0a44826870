import { afterEach, describe, expect, it } from 'vitest';
import { startVllmBridge, type VllmBridge } from '../../../adapters/vllm/bridge.js';
import { EngineHashMap } from '../../../adapters/vllm/engine-hash-map.js';
import { createKvEventTranslator } from '../../../adapters/vllm/translate.js';
import { parseKvMessage } from '../../../adapters/vllm/zmq-message.js';
import type { Sink, SinkMessage } from '../../../core/io.js';
import type { DeadLetter, KvEvent } from '../../../schemas/types.js';
import { type FakeVllm, startFakeVllm } from '../../fixtures/vllm/fake-vllm.js';
import { loadVllmFixtures, type VllmFixture } from '../../fixtures/vllm/fixtures.js';
import { waitFor } from '../../integration/helpers.js';

type Captured = { destination: string; key: string | null; value: KvEvent | DeadLetter };

/** A sink that records what it is given; values are JSON so the test sees what was encoded. */
function captureSink(): Sink<Uint8Array> & { messages: Captured[] } {
  const messages: Captured[] = [];
  return {
    name: 'capture',
    messages,
    write(batch: readonly SinkMessage<Uint8Array>[]) {
      for (const m of batch) {
        messages.push({ destination: m.destination, key: m.key, value: JSON.parse(Buffer.from(m.value).toString()) });
      }
    },
    async close() {},
  };
}

const json = (value: unknown) =>
  Buffer.from(
    JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? [...v] : v)),
  );

function payloadOf(fx: VllmFixture): Uint8Array {
  return fx.parts[2] as Uint8Array;
}

describe('vLLM bridge over real ZMQ sockets', () => {
  let vllm: FakeVllm | undefined;
  let bridge: VllmBridge | undefined;

  afterEach(async () => {
    await bridge?.close();
    await vllm?.close();
    bridge = undefined;
    vllm = undefined;
  });

  it('fills a gap from the replay socket, counts what it cannot recover, and survives garbage', async () => {
    const fixtures = loadVllmFixtures();
    vllm = await startFakeVllm();
    const sink = captureSink();
    bridge = startVllmBridge({
      engineId: 'engine-a',
      endpoint: vllm.endpoint,
      replayEndpoint: vllm.replayEndpoint,
      sink,
      encodeKvEvent: json,
      encodeDeadLetter: json,
      replayTimeoutMs: 3000,
    });
    const fake = vllm;
    await waitFor(() => fake.subscriptions() > 0, { what: 'the bridge to subscribe' });

    // vLLM's buffer holds every well-formed message except 6 (as if the ring buffer had rotated past it).
    for (const fx of fixtures) if (fx.parts.length === 3 && fx.seq !== 6) fake.remember(fx.seq, payloadOf(fx));
    const live = fixtures.filter((fx) => ![3, 4, 6].includes(fx.seq));
    for (const fx of live) await fake.publish(fx.parts);
    const b = bridge;
    await waitFor(() => b.stats.lastSeq === 14, { what: 'the last message to be applied' });

    // What should have been applied, in order: 0..5 (3 and 4 replayed), 7..11, 13, 14; 6 and 12 lost.
    const applied = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 13, 14];
    const translator = createKvEventTranslator({
      engineId: 'engine-a',
      endpoint: fake.endpoint,
      hashMap: new EngineHashMap(),
    });
    const expected = applied.flatMap((seq) => translator.translate(parseKvMessage(fixtures[seq]!.parts), 0).kvEvents);
    const kvEvents = sink.messages.filter((m) => m.destination === 'cachesage.kv-events');
    expect(kvEvents.every((m) => m.key === 'engine-a')).toBe(true);
    expect(kvEvents.map((m) => (m.value as KvEvent).eventId)).toEqual(expected.map((e) => e.eventId));
    expect(kvEvents.map((m) => (m.value as KvEvent).blockHashes)).toEqual(
      expected.map((e) => e.blockHashes.map(String)),
    );

    expect(fake.replayRequests).toEqual([3, 6, 12]);
    const stats = bridge.stats;
    expect(stats.gaps).toBe(3);
    expect(stats.replayedMessages).toBe(2);
    expect(stats.replayFailures).toBe(2);
    expect(stats.missedMessages).toBe(2);
    expect(stats.issues['bad-payload']).toBe(1);
    expect(stats.issues['unknown-tag']).toBe(1);
    expect(stats.issues['unmapped-parent']).toBe(1);
    expect(stats.issues['token-count-mismatch']).toBe(1);
    expect(stats.issues['bad-frames']).toBe(1);
    expect(stats.issues['other-group']).toBe(1);
    expect(stats.issues['unmapped-stored']).toBe(1);

    const letters = sink.messages.filter((m) => m.destination === 'cachesage.dlq').map((m) => m.value as DeadLetter);
    expect(letters.map((l) => [l.originTopic, l.originOffset, l.reason.split(':')[0]])).toEqual([
      [`vllm:${fake.endpoint}`, '7', 'bad-payload'],
      [`vllm:${fake.endpoint}`, '8', 'unknown-tag'],
      [`vllm:${fake.endpoint}`, '9', 'unmapped-parent'],
      [`vllm:${fake.endpoint}`, '10', 'token-count-mismatch'],
      [`vllm:${fake.endpoint}`, '12', 'bad-frames'],
    ]);
    expect(stats.deadLetters).toBe(5);

    const metrics = await bridge.metrics.registry.getSingleMetricAsString(
      'cachesage_vllm_bridge_replay_failures_total',
    );
    expect(metrics).toContain('cachesage_vllm_bridge_replay_failures_total{engine="engine-a"} 2');
  });

  it('reads a sequence restart as an engine restart: clears the cache downstream', async () => {
    const fixtures = loadVllmFixtures();
    vllm = await startFakeVllm();
    const sink = captureSink();
    bridge = startVllmBridge({
      engineId: 'e1',
      endpoint: vllm.endpoint,
      sink,
      encodeKvEvent: json,
      encodeDeadLetter: json,
    });
    const fake = vllm;
    const b = bridge;
    await waitFor(() => fake.subscriptions() > 0, { what: 'the bridge to subscribe' });
    for (const fx of fixtures.slice(0, 3)) await fake.publish(fx.parts);
    await waitFor(() => b.stats.lastSeq === 2);
    await fake.publish(fixtures[0]!.parts);
    await waitFor(() => b.stats.publisherRestarts === 1 && b.stats.lastSeq === 0);
    const kinds = sink.messages.map((m) => [(m.value as KvEvent).kind, (m.value as KvEvent).seq]);
    expect(kinds).toEqual([
      ['BLOCK_STORED', 0],
      ['BLOCK_STORED', 1],
      ['BLOCK_REMOVED', 2],
      ['ALL_CLEARED', 0],
      ['BLOCK_STORED', 0],
    ]);
    expect(b.stats.gaps).toBe(0);
  });

  it('without a replay socket, counts a gap and carries on', async () => {
    const fixtures = loadVllmFixtures();
    vllm = await startFakeVllm();
    const sink = captureSink();
    bridge = startVllmBridge({
      engineId: 'e2',
      endpoint: vllm.endpoint,
      sink,
      encodeKvEvent: json,
      encodeDeadLetter: json,
    });
    const fake = vllm;
    const b = bridge;
    await waitFor(() => fake.subscriptions() > 0, { what: 'the bridge to subscribe' });
    await fake.publish(fixtures[0]!.parts);
    await fake.publish(fixtures[5]!.parts);
    await waitFor(() => b.stats.lastSeq === 5);
    expect(b.stats).toMatchObject({ gaps: 1, missedMessages: 4, replayFailures: 1, replayedMessages: 0 });
    expect(sink.messages.map((m) => (m.value as KvEvent).kind)).toEqual(['BLOCK_STORED', 'ALL_CLEARED']);
  });

  it('reconnects when the engine goes away and comes back', async () => {
    const fixtures = loadVllmFixtures();
    vllm = await startFakeVllm();
    const sink = captureSink();
    bridge = startVllmBridge({
      engineId: 'e3',
      endpoint: vllm.endpoint,
      sink,
      encodeKvEvent: json,
      encodeDeadLetter: json,
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
    });
    const fake = vllm;
    const b = bridge;
    await waitFor(() => fake.subscriptions() > 0 && b.stats.connected, { what: 'the bridge to connect' });
    await fake.publish(fixtures[0]!.parts);
    await waitFor(() => b.stats.lastSeq === 0);
    await fake.closePublisher();
    await waitFor(() => !b.stats.connected, { what: 'the bridge to see the engine go' });
    await fake.reopenPublisher();
    await waitFor(() => fake.subscriptions() > 0 && b.stats.connected, { what: 'the bridge to reconnect' });
    await fake.publish(fixtures[1]!.parts);
    await waitFor(() => b.stats.lastSeq === 1);
    expect(sink.messages.map((m) => (m.value as KvEvent).seq)).toEqual([0, 1]);
  });

  it('validates its options', () => {
    const sink = captureSink();
    const base = { engineId: 'e', sink, encodeKvEvent: json, encodeDeadLetter: json };
    expect(() => startVllmBridge({ ...base, endpoint: 'http://x' })).toThrow(/endpoint/);
    expect(() => startVllmBridge({ ...base, endpoint: 'tcp://127.0.0.1:1', engineId: '' })).toThrow(/engineId/);
    expect(() =>
      startVllmBridge({ ...base, endpoint: 'tcp://127.0.0.1:1', reconnectMinMs: 10, reconnectMaxMs: 5 }),
    ).toThrow(/reconnectMaxMs/);
  });
});
