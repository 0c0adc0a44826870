import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kafka, logLevel } from 'kafkajs';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_KEY } from '../../adapters/kafka/changelog-checkpoint.js';
import { checkpointRecord, createChangelogStore } from '../../adapters/kafka/changelog-store.js';
import { createKafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { createKafkaSource, type KafkaSource } from '../../adapters/kafka/kafka-source.js';
import { type ReadRecord, readTopicToEnd } from '../../adapters/kafka/topic-reader.js';
import { jsonValueCodec } from '../../adapters/kafka/value-codecs.js';
import { createNatsSink } from '../../adapters/nats/nats-sink.js';
import { natsSubscribe } from '../../adapters/nats/nats-subscribe.js';
import type { SourceBatch, SubjectMessage } from '../../core/io.js';
import { ensureTopics } from '../../infra/kafka/ensure-topics.js';
import { ensureJetStream } from '../../infra/nats/ensure-jetstream.js';
import { ACTS_STREAM } from '../../infra/topics.js';
import { encodeActForNats } from '../../schemas/act-codec.js';
import { SCHEMA_ID_HEADER } from '../../schemas/codec.js';
import type { Pin } from '../../schemas/types.js';
import { integrationEnv, uniqueName, waitFor } from './helpers.js';

const { kafkaBrokers, natsUrl } = integrationEnv();
const kafka = new Kafka({ clientId: 'transports-test', brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
const createdTopics: string[] = [];
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connect({ servers: natsUrl });
});

afterAll(async () => {
  await nc?.drain();
  if (createdTopics.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: createdTopics }).catch(() => undefined);
  await admin.disconnect();
});

async function topic(prefix: string, partitions: number, config: Record<string, string> = {}): Promise<string> {
  const name = uniqueName(`cachesage.test.${prefix}`);
  createdTopics.push(name);
  await ensureTopics({
    brokers: kafkaBrokers,
    partitions,
    topics: [{ name, partitions, config, purpose: 'test', retention: 'test', internal: true }],
  });
  return name;
}

async function readAll(name: string): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  await readTopicToEnd({ brokers: kafkaBrokers, topic: name }, (r) => records.push(r));
  return records;
}

async function committedOffsets(groupId: string, name: string): Promise<Record<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [name] });
    return Object.fromEntries(t!.partitions.map((p) => [p.partition, p.offset]));
  } finally {
    await admin.disconnect();
  }
}

function collect(source: KafkaSource): { batches: SourceBatch<Uint8Array>[]; subscription: Subscription } {
  const batches: SourceBatch<Uint8Array>[] = [];
  return { batches, subscription: source.batches().subscribe((b) => batches.push(b)) };
}

const text = (value: Uint8Array): string => Buffer.from(value).toString();

/** Source options of one member of `groupId` on `topic` that holds one batch at a time. */
function oneAtATime(groupId: string, topic: string) {
  return {
    brokers: kafkaBrokers,
    groupId,
    topics: [topic],
    maxInFlightBatches: 1,
    heartbeatIntervalMs: 500,
    sessionTimeoutMs: 6000,
  };
}

describe('Kafka sink and reader', () => {
  it('writes every topic of a write in one acknowledged batch, with keys, headers and tombstones', async () => {
    const a = await topic('sink-a', 1);
    const b = await topic('sink-b', 2);
    const sink = createKafkaSink({ brokers: kafkaBrokers, name: 'sink-test' });
    try {
      const writes = [
        sink.write([
          { destination: a, key: 'k1', value: Buffer.from('one'), headers: { h: 'x' } },
          { destination: b, key: 'k2', value: Buffer.from('two') },
          { destination: a, key: 'k1', value: null },
        ]),
        sink.write([{ destination: a, key: 'k3', value: new Uint8Array([7, 8]) }]),
      ];
      await Promise.all(writes);
      expect(sink.stats).toEqual({ sends: 2, merged: 0, messages: 4, tombstones: 1 });
      const inA = await readAll(a);
      expect(inA.map((r) => [r.offset, r.key, r.value === null ? null : [...r.value], r.headers])).toEqual([
        ['0', 'k1', [...Buffer.from('one')], { h: 'x' }],
        ['1', 'k1', null, {}],
        ['2', 'k3', [7, 8], {}],
      ]);
      expect((await readAll(b)).map((r) => r.key)).toEqual(['k2']);
      await expect(async () => sink.write([{ destination: a, key: null, value: 'text' as never }])).rejects.toThrow(
        /neither bytes nor null/,
      );
    } finally {
      await sink.close();
    }
    await expect(sink.write([{ destination: a, key: null, value: null }])).rejects.toThrow(/after close/);
  });

  it('with coalesce, sends the writes queued behind a send in flight together and in order; a failed send rejects all of its writes', async () => {
    const t = await topic('sink-merge', 1);
    const sink = createKafkaSink({ brokers: kafkaBrokers, name: 'sink-merge', coalesce: true });
    try {
      await sink.connect();
      const first = sink.write([{ destination: t, key: 'k', value: Buffer.from('w0') }]);
      await Promise.resolve();
      await Promise.resolve();
      // w0 is in flight: w1..w3 wait behind it and go out as one send
      const rest = [1, 2, 3].map((i) => sink.write([{ destination: t, key: 'k', value: Buffer.from(`w${i}`) }]));
      await Promise.all([first, ...rest]);
      expect(sink.stats).toMatchObject({ sends: 2, merged: 2, messages: 4 });
      expect((await readAll(t)).map((r) => text(r.value!))).toEqual(['w0', 'w1', 'w2', 'w3']);

      const busy = sink.write([{ destination: t, key: 'k', value: Buffer.from('w4') }]);
      await Promise.resolve();
      await Promise.resolve();
      const good = sink.write([{ destination: t, key: 'k', value: Buffer.from('w5') }]);
      // above the broker's message.max.bytes: the broker refuses the whole request (not retriable)
      const bad = sink.write([{ destination: t, key: 'k', value: Buffer.alloc(2_000_000) }]);
      await busy;
      await expect(good).rejects.toThrow(/write of 2 messages failed/);
      await expect(bad).rejects.toThrow(/write of 2 messages failed/);
      await sink.write([{ destination: t, key: 'k', value: Buffer.from('w6') }]);
      expect((await readAll(t)).map((r) => text(r.value!))).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'w6']);
    } finally {
      await sink.close();
    }
  });

  it('a changelog store flushes changed keys and tombstones, and a new store restores them, the checkpoint kept apart', async () => {
    const changelog = await topic('changelog', 1, { 'cleanup.policy': 'compact' });
    const codec = jsonValueCodec<{ n: number; hashes: bigint[] }>();
    const store = createChangelogStore({ name: 'counts', topic: changelog, brokers: kafkaBrokers, codec });
    const empty = createChangelogStore({ name: 'counts', topic: changelog, brokers: kafkaBrokers, codec });
    try {
      await empty.restore();
      expect(empty.size).toBe(0);
      store.put('a', { n: 1, hashes: [-(2n ** 63n)] });
      store.put('b', { n: 2, hashes: [] });
      await store.flush();
      store.put('a', { n: 3, hashes: [5n] });
      store.delete('b');
      store.put('c', { n: 4, hashes: [] });
      await store.flush();
      await store.flush();
      const sink = createKafkaSink({ brokers: kafkaBrokers });
      await sink.write([checkpointRecord(changelog, { in: { '0': '42' } })]);
      await sink.close();
      expect((await readAll(changelog)).map((r) => r.key)).toEqual(['a', 'b', 'a', 'b', 'c', CHECKPOINT_KEY]);

      await empty.restore();
      expect([...empty.entries()].sort()).toEqual([
        ['a', { n: 3, hashes: [5n] }],
        ['c', { n: 4, hashes: [] }],
      ]);
      expect(empty.checkpoint).toEqual({ in: { '0': '42' } });
      expect(empty.restoredRecords).toBe(6);
    } finally {
      await store.close();
      await empty.close();
    }
  });
});

describe('Kafka source', () => {
  it('commits a batch only when the runtime does, pauses at the in-flight limit, and replays abandoned batches', async () => {
    const name = await topic('source', 2);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: name,
      messages: [
        ...['a0', 'a1', 'a2'].map((v) => ({ partition: 0, key: 'k0', value: v, headers: { n: v } })),
        ...['b0', 'b1'].map((v) => ({ partition: 1, key: 'k1', value: v })),
      ],
    });
    await producer.disconnect();
    const groupId = uniqueName('source-group');
    const options = oneAtATime(groupId, name);
    const first = createKafkaSource(options);
    const seen = collect(first);
    try {
      await waitFor(() => seen.batches.length === 1, { timeoutMs: 30_000, what: 'the first batch' });
      const [batch] = seen.batches;
      expect(first.stats).toMatchObject({ inFlight: 1, paused: true, pauses: 1, commits: 0 });
      expect(await committedOffsets(groupId, name)).toEqual({ 0: '-1', 1: '-1' });
      expect(seen.batches).toHaveLength(1);
      const count = batch!.records.length;
      expect(batch!.records.map((r) => r.origin.offset)).toEqual(Array.from({ length: count }, (_, i) => String(i)));
      if (batch!.partition === 0) expect(batch!.records[0]!.headers).toEqual({ n: 'a0' });
      await batch!.commit();
      expect(await committedOffsets(groupId, name)).toMatchObject({ [batch!.partition]: String(count) });
      await waitFor(() => seen.batches.length === 2, { timeoutMs: 30_000, what: 'the second batch, after the commit' });
      expect(seen.batches[1]!.partition).toBe(1 - batch!.partition);
    } finally {
      seen.subscription.unsubscribe();
      await first.close();
    }
    expect(first.stats.commits).toBe(1);
    const abandoned = seen.batches[1]!;
    expect(await committedOffsets(groupId, name)).toMatchObject({ [abandoned.partition]: '-1' });

    const second = createKafkaSource(options);
    const again = collect(second);
    try {
      await waitFor(() => again.batches.length === 1, { timeoutMs: 30_000, what: 'the abandoned batch again' });
      const [replayed] = again.batches;
      expect(replayed!.partition).toBe(abandoned.partition);
      expect(replayed!.records.map((r) => text(r.value))).toEqual(abandoned.records.map((r) => text(r.value)));
      await replayed!.commit();
      expect(await committedOffsets(groupId, name)).toEqual({ 0: '3', 1: '2' });
    } finally {
      again.subscription.unsubscribe();
      await second.close();
    }
  });

  it('with commitIntervalMs, resolves committed batches at once and commits the group on its timer and at close', async () => {
    const name = await topic('source-interval', 1);
    const producer = kafka.producer();
    await producer.connect();
    const send = (values: string[]) =>
      producer.send({ topic: name, messages: values.map((v) => ({ partition: 0, key: 'k', value: v })) });
    await send(['a0', 'a1']);
    const groupId = uniqueName('interval-group');
    const options = { ...oneAtATime(groupId, name), maxWaitTimeMs: 100 };
    expect(() => createKafkaSource({ ...options, commitIntervalMs: -1 })).toThrow(/commitIntervalMs/);
    const timed = createKafkaSource({ ...options, commitIntervalMs: 500 });
    const seen = collect(timed);
    const records = (): string[] => seen.batches.flatMap((b) => b.records.map((r) => text(r.value)));
    try {
      await waitFor(() => seen.batches.length === 1, { timeoutMs: 30_000, what: 'the first batch' });
      await seen.batches[0]!.commit();
      // the timer commits the quiet partition
      await waitFor(async () => (await committedOffsets(groupId, name))[0] === '2', {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: 'the timer commit',
      });
      expect(timed.stats.commits).toBe(1);
    } finally {
      seen.subscription.unsubscribe();
      await timed.close();
    }

    const slow = createKafkaSource({ ...options, commitIntervalMs: 600_000 });
    const again = collect(slow);
    try {
      await send(['b0']);
      await waitFor(() => again.batches.length === 1, { timeoutMs: 30_000, what: 'the batch after the commit' });
      await again.batches[0]!.commit();
      await send(['b1']);
      // resolved without a group commit: the consumer fetches on while the group offset stays
      await waitFor(() => again.batches.length === 2, { timeoutMs: 30_000, what: 'the next batch' });
      expect(await committedOffsets(groupId, name)).toEqual({ 0: '2' });
      await again.batches[1]!.commit();
      expect(slow.stats.commits).toBe(0);
    } finally {
      again.subscription.unsubscribe();
      await slow.close();
      await producer.disconnect();
    }
    expect(records()).toEqual(['a0', 'a1']);
    expect(again.batches.flatMap((b) => b.records.map((r) => text(r.value)))).toEqual(['b0', 'b1']);
    expect(slow.stats.commits).toBe(1);
    expect(await committedOffsets(groupId, name)).toEqual({ 0: '4' });
  });

  it('gives the same partition numbers of co-partitioned topics to one member', async () => {
    const kv = await topic('co-kv', 4);
    const requests = await topic('co-requests', 4);
    const options = {
      brokers: kafkaBrokers,
      groupId: uniqueName('co-group'),
      topics: [kv, requests],
      heartbeatIntervalMs: 300,
      sessionTimeoutMs: 6000,
      maxWaitTimeMs: 100,
    };
    const one = createKafkaSource(options);
    const two = createKafkaSource(options);
    const subscriptions = [one, two].map((s) => s.batches().subscribe());
    try {
      await waitFor(() => one.stats.joins > 0, { timeoutMs: 30_000, what: 'the first member joined' });
      const balanced = (): boolean => {
        const a = one.stats.assignment;
        const b = two.stats.assignment;
        return (
          (a[kv]?.length ?? 0) === 2 &&
          (b[kv]?.length ?? 0) === 2 &&
          JSON.stringify(a[kv]) === JSON.stringify(a[requests]) &&
          JSON.stringify(b[kv]) === JSON.stringify(b[requests])
        );
      };
      await waitFor(balanced, { timeoutMs: 30_000, intervalMs: 100, what: 'both members with 2 co-partitions' });
      const all = [...one.stats.assignment[kv]!, ...two.stats.assignment[kv]!].sort();
      expect(all).toEqual([0, 1, 2, 3]);
    } finally {
      for (const s of subscriptions) s.unsubscribe();
      await Promise.all([one.close(), two.close()]);
    }
  });
});

describe('NATS act sink and subscriber', () => {
  it('publishes hints on core NATS with the schema id header; the subscriber decodes them and flags bad bytes', async () => {
    const engineId = uniqueName('eng');
    const subject = `cachesage.act.${engineId}.pin`;
    const decoded: SubjectMessage<unknown>[] = [];
    const raw: SubjectMessage<unknown>[] = [];
    const decodeErrors: unknown[] = [];
    const off = [
      natsSubscribe(nc, { onDecodeError: (err) => decodeErrors.push(err) })(`cachesage.act.${engineId}.*`, (m) =>
        decoded.push(m),
      ),
      natsSubscribe(nc, { decode: null })(subject, (m) => raw.push(m)),
    ];
    await nc.flush();
    const act: Pin = {
      kind: 'pin',
      engineId,
      seq: 1,
      issuedAt: 10,
      ttlMs: 1000,
      causeId: 'rq-1',
      causeProducedAt: 5,
      policy: 'echo',
      blockHashes: [1n, -(2n ** 63n)],
      pinTtlMs: 500,
    };
    const sink = createNatsSink({ natsUrl, name: 'acts-test' });
    try {
      const encoded = encodeActForNats(act);
      await sink.write([
        { destination: subject, key: engineId, value: encoded.data, headers: encoded.headers, messageId: 'x.1' },
        { destination: subject, key: engineId, value: Buffer.from('garbage'), headers: { [SCHEMA_ID_HEADER]: '5' } },
      ]);
      await waitFor(() => decoded.length === 2 && raw.length === 2, { what: 'both messages' });
      expect(decoded[0]!.value).toEqual(act);
      expect(decoded[0]!.headers[SCHEMA_ID_HEADER]).toBe(encoded.headers[SCHEMA_ID_HEADER]);
      expect(decoded[1]!.value).toBeUndefined();
      expect(decodeErrors).toHaveLength(1);
      expect(Buffer.from(raw[1]!.value as Uint8Array).toString()).toBe('garbage');
      expect(sink.stats).toEqual({ core: 2, jetstream: 0, duplicates: 0 });
    } finally {
      for (const u of off) u();
      await sink.close();
    }
  });

  it('publishes commands on JetStream with the message id, so a replayed command is stored once', async () => {
    await ensureJetStream({ natsUrl });
    const engineId = uniqueName('eng');
    const subject = `cachesage.cmd.${engineId}.evict`;
    const sink = createNatsSink({ nc, name: 'commands-test' });
    const jsm = await jetstreamManager(nc);
    try {
      await sink.write([
        {
          destination: subject,
          key: null,
          value: Buffer.from('first'),
          messageId: `${engineId}.evict.echo.1`,
          headers: { a: '1' },
        },
        { destination: subject, key: null, value: Buffer.from('second'), messageId: `${engineId}.evict.echo.2` },
      ]);
      await sink.write([
        { destination: subject, key: null, value: Buffer.from('first again'), messageId: `${engineId}.evict.echo.1` },
      ]);
      expect(sink.stats).toEqual({ core: 0, jetstream: 2, duplicates: 1 });
      const info = await jsm.streams.info(ACTS_STREAM, { subjects_filter: subject });
      expect(info.state.subjects?.[subject]).toBe(2);
      const last = await jsm.streams.getMessage(ACTS_STREAM, { last_by_subj: subject });
      expect(Buffer.from(last!.data).toString()).toBe('second');
    } finally {
      await jsm.streams.purge(ACTS_STREAM, { filter: subject }).catch(() => undefined);
      await sink.close();
    }
    expect(nc.isClosed()).toBe(false);
  });
});
