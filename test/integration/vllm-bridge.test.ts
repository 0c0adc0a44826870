import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaSink, type KafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { startVllmBridge, type VllmBridge } from '../../adapters/vllm/bridge.js';
import { ensureTopics } from '../../infra/kafka/ensure-topics.js';
import type { TopicSpec } from '../../infra/topics.js';
import { blockHashes, hashBlock } from '../../schemas/block-hash.js';
import { createCodec } from '../../schemas/codec.js';
import type { DeadLetter, KvEvent } from '../../schemas/types.js';
import { type FakeVllm, startFakeVllm } from '../fixtures/vllm/fake-vllm.js';
import { loadVllmFixtures, type VllmFixture } from '../fixtures/vllm/fixtures.js';
import { integrationEnv, uniqueName, waitFor } from './helpers.js';

const { kafkaBrokers } = integrationEnv();
const kafka = new Kafka({ clientId: 'vllm-bridge-test', brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
const kvTopic = uniqueName('cachesage.test.kv-events');
const dlqTopic = uniqueName('cachesage.test.dlq');
const spec = (name: string): TopicSpec => ({
  name,
  partitions: 3,
  config: {},
  purpose: 'test',
  retention: 'test',
  internal: true,
});

function tokensOf(fx: VllmFixture, index = 0): number[] {
  const event = fx.expect.events?.[index];
  if (event?.type !== 'BlockStored') throw new Error(`${fx.name}: no BlockStored at ${index}`);
  return event.tokenIds;
}

describe('vLLM bridge -> real Kafka', () => {
  const kvCodec = createCodec('KvEvent');
  const dlqCodec = createCodec('DeadLetter');
  const received: { topic: string; key: string | null; partition: number; value: Buffer }[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('vllm-bridge-test') });
  let vllm: FakeVllm;
  let sink: KafkaSink;
  let bridge: VllmBridge;

  beforeAll(async () => {
    await ensureTopics({ brokers: kafkaBrokers, partitions: 3, topics: [spec(kvTopic), spec(dlqTopic)] });
    await consumer.connect();
    await consumer.subscribe({ topics: [kvTopic, dlqTopic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        received.push({ topic, partition, key: message.key?.toString() ?? null, value: message.value as Buffer });
      },
    });
    vllm = await startFakeVllm();
    sink = createKafkaSink({ brokers: kafkaBrokers, clientId: 'vllm-bridge-test' });
    await sink.connect();
    bridge = startVllmBridge({
      engineId: 'vllm-0',
      endpoint: vllm.endpoint,
      replayEndpoint: vllm.replayEndpoint,
      sink,
      encodeKvEvent: (e) => kvCodec.encode(e),
      encodeDeadLetter: (d) => dlqCodec.encode(d),
      kvEventsTopic: kvTopic,
      deadLetterTopic: dlqTopic,
    });
  });

  afterAll(async () => {
    await bridge?.close();
    await sink?.close();
    await vllm?.close();
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [kvTopic, dlqTopic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('publishes the KvEvents of byte-exact vLLM frames, filling a gap from the replay socket', async () => {
    const fixtures = loadVllmFixtures();
    const fake = vllm;
    await waitFor(() => fake.subscriptions() > 0, { what: 'the bridge to subscribe' });
    for (const fx of fixtures) if (fx.parts.length === 3) fake.remember(fx.seq, fx.parts[2] as Buffer);
    // 3 and 4 never reach the subscriber: the bridge sees 2 then 5 and must ask the replay socket.
    for (const seq of [0, 1, 2, 5, 6, 7, 8]) await fake.publish((fixtures[seq] as VllmFixture).parts);
    await waitFor(() => received.filter((r) => r.topic === kvTopic).length >= 11, {
      what: 'eleven KvEvents on Kafka',
      timeoutMs: 30_000,
    });
    await waitFor(() => received.filter((r) => r.topic === dlqTopic).length >= 2, { what: 'two dead letters' });

    const events = received
      .filter((r) => r.topic === kvTopic)
      .map((r) => ({ ...r, event: kvCodec.decode(r.value) as KvEvent }));
    expect(new Set(events.map((e) => e.key))).toEqual(new Set(['vllm-0']));
    expect(new Set(events.map((e) => e.partition)).size).toBe(1);
    expect(events.map((e) => e.event.eventId)).toEqual([
      'vllm-0:0:0',
      'vllm-0:1:0',
      'vllm-0:2:0',
      'vllm-0:3:0',
      'vllm-0:3:1',
      'vllm-0:4:0',
      'vllm-0:4:1',
      'vllm-0:5:0',
      'vllm-0:6:0',
      'vllm-0:6:1',
      'vllm-0:8:1',
    ]);
    expect(fake.replayRequests).toEqual([3]);

    const root = blockHashes(tokensOf(fixtures[0]!));
    const child = hashBlock(root[1]!, tokensOf(fixtures[1]!));
    const legacy = hashBlock(root[1]!, tokensOf(fixtures[3]!));
    const mapped = hashBlock(root[0]!, tokensOf(fixtures[4]!));
    const wide = blockHashes(tokensOf(fixtures[6]!));
    expect(events.map((e) => [e.event.kind, e.event.medium, e.event.blockHashes, e.event.parentHash])).toEqual([
      ['BLOCK_STORED', 'GPU', root, null],
      ['BLOCK_STORED', 'GPU', [child], root[1]],
      ['BLOCK_REMOVED', 'GPU', [child], null],
      ['BLOCK_STORED', 'GPU', [legacy], root[1]],
      ['BLOCK_REMOVED', 'GPU', [legacy], null],
      ['BLOCK_STORED', 'CPU', [mapped], root[0]],
      ['BLOCK_REMOVED', 'CPU', [mapped], null],
      ['ALL_CLEARED', 'GPU', [], null],
      ['BLOCK_STORED', 'GPU', wide, null],
      ['BLOCK_REMOVED', 'GPU', wide, null],
      ['BLOCK_REMOVED', 'GPU', [root[0]], null],
    ]);
    expect(events[0]?.event.tokenIds).toEqual(tokensOf(fixtures[0]!));
    expect(events[0]?.event.ts).toBe(1_767_225_600_250);
    expect(root[0]! > 2n ** 53n || root[0]! < -(2n ** 53n) || root[1]! > 2n ** 53n).toBe(true);

    const letters = received.filter((r) => r.topic === dlqTopic).map((r) => dlqCodec.decode(r.value) as DeadLetter);
    expect(
      letters.map((l) => [l.originTopic, l.originPartition, l.originOffset, l.stage, l.reason.split(':')[0]]),
    ).toEqual([
      [`vllm:${fake.endpoint}`, 0, '7', 'vllm-bridge', 'bad-payload'],
      [`vllm:${fake.endpoint}`, 0, '8', 'vllm-bridge', 'unknown-tag'],
    ]);
    expect(Buffer.from(letters[0]!.payload)).toEqual(fixtures[7]!.parts[2]);
    expect(bridge.stats).toMatchObject({ gaps: 1, replayedMessages: 2, missedMessages: 0, replayFailures: 0 });
    expect(bridge.stats.issues['bad-payload'] + bridge.stats.issues['unknown-tag']).toBe(2);
  });
});
