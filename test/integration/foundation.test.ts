import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, nanos } from '@nats-io/transport-node';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../infra/kafka/ensure-topics.js';
import { ensureJetStream } from '../../infra/nats/ensure-jetstream.js';
import { ACTS_STREAM, OWNERS_BUCKET, topics as registry, type TopicSpec } from '../../infra/topics.js';
import { integrationEnv, uniqueName, waitFor } from './helpers.js';

const { kafkaBrokers, natsUrl } = integrationEnv();
const kafka = new Kafka({ clientId: 'foundation-test', brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
const createdTopics: string[] = [];

afterAll(async () => {
  if (createdTopics.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: createdTopics }).catch(() => undefined);
  await admin.disconnect();
});

function testTopic(name: string, partitions: number, config: Record<string, string> = {}): TopicSpec {
  createdTopics.push(name);
  return { name, partitions, config, purpose: 'test', retention: 'test', internal: true };
}

describe('Kafka', () => {
  it('consumes back what it produced, per key and in order', async () => {
    const topic = testTopic(uniqueName('cachesage.test.roundtrip'), 3);
    await ensureTopics({ brokers: kafkaBrokers, partitions: 1, topics: [topic] });
    const sent = Array.from({ length: 30 }, (_, i) => ({ key: `engine-${i % 3}`, value: `event-${i}` }));
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: topic.name, messages: sent });
    await producer.disconnect();

    const received: { key: string; value: string; partition: number }[] = [];
    const consumer = kafka.consumer({ groupId: uniqueName('foundation-group') });
    await consumer.connect();
    await consumer.subscribe({ topic: topic.name, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        received.push({ key: String(message.key), value: String(message.value), partition });
      },
    });
    try {
      await waitFor(() => received.length >= sent.length, { timeoutMs: 60_000, what: 'all 30 records' });
    } finally {
      await consumer.disconnect();
    }

    expect(received).toHaveLength(sent.length);
    expect(received.map((r) => r.value).sort()).toEqual(sent.map((s) => s.value).sort());
    for (const key of ['engine-0', 'engine-1', 'engine-2']) {
      const ofKey = received.filter((r) => r.key === key);
      expect(new Set(ofKey.map((r) => r.partition)).size).toBe(1);
      expect(ofKey.map((r) => r.value)).toEqual(sent.filter((s) => s.key === key).map((s) => s.value));
    }
  });

  it('ensureTopics creates once, then finds the topics existing, with their partitions and configs', async () => {
    const events = testTopic(uniqueName('cachesage.test.events'), 4);
    const compacted = testTopic(uniqueName('cachesage.test.table'), 2, { 'cleanup.policy': 'compact' });
    const specs = [events, compacted];
    const first = await ensureTopics({ brokers: kafkaBrokers, partitions: 4, topics: specs });
    const second = await ensureTopics({ brokers: kafkaBrokers, partitions: 4, topics: specs });
    expect(first.created).toEqual([events.name, compacted.name]);
    expect(first.existing).toEqual([]);
    expect(second.created).toEqual([]);
    expect(second.existing).toEqual([events.name, compacted.name]);
    expect(second.partitionMismatches).toEqual([]);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [events.name, compacted.name] });
      expect(Object.fromEntries(metadata.topics.map((t) => [t.name, t.partitions.length]))).toEqual({
        [events.name]: 4,
        [compacted.name]: 2,
      });
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: compacted.name, configNames: ['cleanup.policy'] }],
      });
      expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('compact');
    } finally {
      await admin.disconnect();
    }
  });

  it('ensureTopics on the registry is idempotent', async () => {
    await ensureTopics({ brokers: kafkaBrokers, partitions: 12 });
    const again = await ensureTopics({ brokers: kafkaBrokers, partitions: 12 });
    expect(again.created).toEqual([]);
    expect(again.existing).toEqual(registry.map((t) => t.name));
  });
});

describe('NATS', () => {
  it('delivers a published message with its headers to a subscriber', async () => {
    const nc = await connect({ servers: natsUrl });
    try {
      const subject = uniqueName('cachesage.test.hint');
      const received: { data: string; header: string | undefined }[] = [];
      const sub = nc.subscribe(subject, {
        callback: (_err, msg) => {
          received.push({ data: msg.string(), header: msg.headers?.get('schema-id') });
        },
      });
      await nc.flush();
      for (const n of [1, 2, 3]) {
        const h = headers();
        h.set('schema-id', String(n));
        nc.publish(subject, `hint-${n}`, { headers: h });
      }
      await waitFor(() => received.length === 3, { what: '3 messages' });
      expect(received).toEqual([1, 2, 3].map((n) => ({ data: `hint-${n}`, header: String(n) })));
      sub.unsubscribe();
    } finally {
      await nc.close();
    }
  });

  it('JetStream drops a second publish with the same message id', async () => {
    const nc = await connect({ servers: natsUrl });
    const jsm = await jetstreamManager(nc);
    const stream = uniqueName('TEST_DEDUP');
    const subject = uniqueName('cachesage.test.cmd');
    try {
      await jsm.streams.add({ name: stream, subjects: [subject], duplicate_window: nanos(60_000) });
      const js = jetstream(nc);
      const first = await js.publish(subject, 'evict', { msgID: 'act-1' });
      const repeat = await js.publish(subject, 'evict', { msgID: 'act-1' });
      const other = await js.publish(subject, 'prefetch', { msgID: 'act-2' });
      expect(first.duplicate).toBe(false);
      expect(repeat.duplicate).toBe(true);
      expect(repeat.seq).toBe(first.seq);
      expect(other.duplicate).toBe(false);
      expect((await jsm.streams.info(stream)).state.messages).toBe(2);
    } finally {
      await jsm.streams.delete(stream).catch(() => undefined);
      await nc.close();
    }
  });

  it('ensureJetStream creates streams and buckets once, and the registry ones exist', async () => {
    const nc = await connect({ servers: natsUrl });
    const jsm = await jetstreamManager(nc);
    const stream = uniqueName('TEST_ENSURE');
    const bucket = uniqueName('test-owners');
    const specs = {
      natsUrl,
      streams: [
        {
          name: stream,
          subjects: [`${uniqueName('cachesage.test')}.>`],
          duplicateWindowMs: 30_000,
          maxAgeMs: 60_000,
          purpose: 'test',
        },
      ],
      kvBuckets: [{ name: bucket, history: 1, ttlMs: 0, purpose: 'test' }],
    };
    try {
      const first = await ensureJetStream(specs);
      const second = await ensureJetStream(specs);
      expect(first).toEqual({ created: [`stream ${stream}`, `kv ${bucket}`], existing: [] });
      expect(second).toEqual({ created: [], existing: [`stream ${stream}`, `kv ${bucket}`] });
      expect((await jsm.streams.info(stream)).config.duplicate_window).toBe(nanos(30_000));

      await ensureJetStream({ natsUrl });
      const acts = await jsm.streams.info(ACTS_STREAM);
      expect(acts.config.subjects).toEqual(['cachesage.cmd.>']);
      expect(acts.config.duplicate_window).toBe(nanos(120_000));
      expect((await jsm.streams.info(`KV_${OWNERS_BUCKET}`)).config.max_msgs_per_subject).toBe(1);
    } finally {
      await jsm.streams.delete(stream).catch(() => undefined);
      await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
      await nc.close();
    }
  });
});
