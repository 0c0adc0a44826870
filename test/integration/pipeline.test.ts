import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActFilter } from '../../adapters/hooks/act-filter.js';
import { attachEngineHooks } from '../../adapters/hooks/attach-engine-hooks.js';
import type { EngineHooks } from '../../adapters/hooks/engine-hooks.js';
import { createChangelogStore } from '../../adapters/kafka/changelog-store.js';
import { DEAD_LETTER_HEADERS } from '../../adapters/kafka/dead-letter-sink.js';
import { startKafkaTopology } from '../../adapters/kafka/start-kafka-topology.js';
import { readTopicToEnd } from '../../adapters/kafka/topic-reader.js';
import { jsonValueCodec } from '../../adapters/kafka/value-codecs.js';
import { partitionOfKey } from '../../adapters/memory/murmur2.js';
import { natsSubscribe } from '../../adapters/nats/nats-subscribe.js';
import { ensureTopics } from '../../infra/kafka/ensure-topics.js';
import type { Policy } from '../../policies/policy.js';
import { POLICY_STATE_KEY } from '../../processors/policy-state.js';
import { createCodec } from '../../schemas/codec.js';
import type { Act, DeadLetter, Pin } from '../../schemas/types.js';
import { engineTopology } from '../../topology/engine-topology.js';
import { createEchoPolicy, type EchoState } from '../support/echo-policy.js';
import { kvEvent, requestEvent } from '../support/events.js';
import { integrationEnv, uniqueName, waitFor } from './helpers.js';

const { kafkaBrokers, natsUrl } = integrationEnv();
const kafka = new Kafka({ clientId: 'pipeline-test', brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
const kvCodec = createCodec('KvEvent');
const requestCodec = createCodec('RequestEvent');
const deadLetterCodec = createCodec('DeadLetter');
const createdTopics: string[] = [];
let producer: Producer;
let nc: NatsConnection;

beforeAll(async () => {
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  nc = await connect({ servers: natsUrl });
});

afterAll(async () => {
  await producer?.disconnect();
  await nc?.drain();
  if (createdTopics.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: createdTopics }).catch(() => undefined);
  await admin.disconnect();
});

async function topics(specs: { name: string; partitions: number }[]): Promise<void> {
  createdTopics.push(...specs.map((s) => s.name));
  await ensureTopics({
    brokers: kafkaBrokers,
    partitions: 1,
    topics: specs.map((s) => ({ ...s, config: {}, purpose: 'test', retention: 'test', internal: true })),
  });
}

function recordingHooks(engineId: string, applied: Act[]): EngineHooks {
  return {
    engineId,
    applyEvictionHints: (a) => applied.push(a),
    prefetch: (a) => applied.push(a),
    pin: (a) => applied.push(a),
  };
}

describe('engine topology on Kafka and NATS', () => {
  it('turns Kafka events into acts on NATS, dead-letters malformed records with their origin and goes on', async () => {
    const kvTopic = uniqueName('cachesage.test.kv');
    const requestsTopic = uniqueName('cachesage.test.requests');
    const dlqTopic = uniqueName('cachesage.test.dlq');
    await topics([
      { name: kvTopic, partitions: 2 },
      { name: requestsTopic, partitions: 2 },
      { name: dlqTopic, partitions: 1 },
    ]);
    let engines = [uniqueName('eng'), uniqueName('eng')];
    while (partitionOfKey(engines[0]!, 2) === partitionOfKey(engines[1]!, 2))
      engines = [engines[0]!, uniqueName('eng')];
    const received: Pin[] = [];
    const subscribe = natsSubscribe(nc);
    const unsubscribers = engines.map((e) => subscribe(`cachesage.act.${e}.*`, (m) => received.push(m.value as Pin)));
    const applied: Act[] = [];
    const filter = createActFilter({ engineId: engines[0]!, now: () => Date.now() });
    const hooks = attachEngineHooks({
      subscribe,
      engineId: engines[0]!,
      hooks: recordingHooks(engines[0]!, applied),
      filter,
    });
    await nc.flush();

    const finished: string[] = [];
    const produceEvents = async (from: number, to: number): Promise<void> => {
      const kv: { key: string; value: Buffer }[] = [];
      const requests: { key: string; value: Buffer }[] = [];
      for (let i = from; i < to; i++) {
        const engineId = engines[i % 2]!;
        kv.push({
          key: engineId,
          value: kvCodec.encode(kvEvent({ eventId: `kv-${i}`, engineId, seq: i, blockHashes: [BigInt(i), -5n] })),
        });
        const phase = i % 3 === 0 ? 'ARRIVED' : 'FINISHED';
        if (phase === 'FINISHED') finished.push(`rq-${i}`);
        requests.push({
          key: engineId,
          value: requestCodec.encode(
            requestEvent({
              eventId: `rq-${i}`,
              requestId: `q-${i}`,
              engineId,
              sessionId: `s-${i % 4}`,
              agentId: ['Planner', 'Coder', 'Critic'][i % 3]!,
              phase,
              ts: 1000 + i,
              producedAt: Date.now(),
              blockHashes: [BigInt(i), BigInt(i) * 1_000_000_007n, -(2n ** 63n)],
            }),
          ),
        });
      }
      await producer.sendBatch({
        topicMessages: [
          { topic: kvTopic, messages: kv },
          { topic: requestsTopic, messages: requests },
        ],
      });
    };
    await produceEvents(0, 30);
    const unknownSchema = Buffer.from([0, 0, 0, 0x7f, 0x7f, 1, 2, 3]);
    const [garbageMeta] = await producer.send({
      topic: requestsTopic,
      messages: [{ key: engines[0]!, value: Buffer.from('not avro at all'), headers: { origin: 'test' } }],
    });
    const [unknownMeta] = await producer.send({
      topic: kvTopic,
      messages: [{ key: engines[1]!, value: unknownSchema }],
    });
    await produceEvents(30, 60);

    const groupId = uniqueName('pipeline');
    const policy = createEchoPolicy() as Policy;
    const running = await startKafkaTopology(
      engineTopology({ policies: ['echo'], kvEventsTopic: kvTopic, requestsTopic, deadLetterTopic: dlqTopic }),
      {
        brokers: kafkaBrokers,
        natsUrl,
        groupId,
        policies: [policy],
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 1000,
      },
    );
    try {
      await waitFor(() => received.length >= finished.length, { timeoutMs: 60_000, what: 'one pin per FINISHED' });
      await waitFor(() => running.stats.deadLettered >= 2 && running.stats.records >= 122, { what: 'all records' });
      await running.idle();
      expect(received.map((a) => a.causeId).sort()).toEqual([...finished].sort());
      expect(received.every((a) => a.kind === 'pin' && a.policy === 'echo')).toBe(true);
      const late = received.filter((a) => Number(a.causeId.slice(3)) >= 30);
      expect(late.length).toBe(finished.filter((id) => Number(id.slice(3)) >= 30).length);
      const sample = received.find((a) => a.causeId === 'rq-59')!;
      expect(sample.blockHashes).toEqual([59n, 59n * 1_000_000_007n, -(2n ** 63n)]);
      await waitFor(() => applied.length === received.filter((a) => a.engineId === engines[0]).length);
      expect(hooks.counters.rejected).toEqual({ foreign: 0, 'stale-ttl': 0, 'stale-seq': 0, malformed: 0 });

      const bad = headers();
      bad.set('cachesage-schema-id', '5');
      nc.publish(`cachesage.act.${engines[0]}.pin`, Buffer.from([1, 2, 3]), { headers: bad });
      nc.publish(`cachesage.act.${engines[0]}.pin`, Buffer.from('no header'));
      await waitFor(() => hooks.counters.rejected.malformed === 2, { what: 'two malformed acts counted' });

      const letters: { letter: DeadLetter }[] = [];
      await readTopicToEnd({ brokers: kafkaBrokers, topic: dlqTopic }, (r) => {
        letters.push({ letter: deadLetterCodec.decode(r.value!) });
      });
      expect(letters).toHaveLength(2);
      const byTopic = new Map(letters.map((l) => [l.letter.originTopic, l.letter]));
      const garbage = byTopic.get(requestsTopic)!;
      expect(garbage).toMatchObject({
        originPartition: garbageMeta!.partition,
        originOffset: garbageMeta!.baseOffset,
        stage: 'decode',
        key: engines[0],
        headers: { origin: 'test' },
      });
      expect(Buffer.from(garbage.payload).toString()).toBe('not avro at all');
      expect(garbage.reason).toMatch(/^DECODE_FAILED/);
      const unknown = byTopic.get(kvTopic)!;
      expect(unknown).toMatchObject({
        originPartition: unknownMeta!.partition,
        originOffset: unknownMeta!.baseOffset,
        stage: 'decode',
      });
      expect(unknown.reason).toMatch(/^UNKNOWN_SCHEMA/);
      expect(Buffer.from(unknown.payload)).toEqual(unknownSchema);

      const admin = kafka.admin();
      await admin.connect();
      const dlqRaw = await new Promise<Record<string, string>>((resolve, reject) => {
        const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
        void consumer
          .connect()
          .then(() => consumer.subscribe({ topics: [dlqTopic], fromBeginning: true }))
          .then(() =>
            consumer.run({
              eachMessage: async ({ message }) => {
                const h = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
                if (h[DEAD_LETTER_HEADERS.originTopic] === requestsTopic) {
                  resolve(h);
                  void consumer.disconnect();
                }
              },
            }),
          )
          .catch(reject);
      });
      expect(dlqRaw).toMatchObject({
        [DEAD_LETTER_HEADERS.originTopic]: requestsTopic,
        [DEAD_LETTER_HEADERS.originPartition]: String(garbageMeta!.partition),
        [DEAD_LETTER_HEADERS.originOffset]: garbageMeta!.baseOffset,
        [DEAD_LETTER_HEADERS.stage]: 'decode',
      });
      const committed = await admin.fetchOffsets({ groupId, topics: [kvTopic, requestsTopic] });
      const ends = await Promise.all([kvTopic, requestsTopic].map((t) => admin.fetchTopicOffsets(t)));
      await admin.disconnect();
      const endOf = new Map(
        ends.flatMap((e, i) => e.map((p) => [`${[kvTopic, requestsTopic][i]}/${p.partition}`, p.high])),
      );
      for (const t of committed) {
        for (const p of t.partitions) expect(p.offset).toBe(endOf.get(`${t.topic}/${p.partition}`));
      }
      const live = running.stores['policy:echo']!.get(POLICY_STATE_KEY) as EchoState;
      expect(live.events).toBe(120);
      await running.drain();
      expect(running.stats.state).toBe('closed');

      const restored = createChangelogStore<EchoState>({
        name: 'policy:echo',
        topic: running.changelogTopics['policy:echo']!,
        brokers: kafkaBrokers,
        codec: jsonValueCodec(),
      });
      await restored.restore();
      expect(restored.get(POLICY_STATE_KEY)).toEqual(live);
      await restored.close();
      createdTopics.push(...Object.values(running.changelogTopics));
    } finally {
      for (const u of unsubscribers) u();
      hooks.detach();
      await running.close();
    }
  });
});
