import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChangelogStore } from '../../adapters/kafka/changelog-store.js';
import { createKafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { type KafkaTopology, startKafkaTopology } from '../../adapters/kafka/start-kafka-topology.js';
import { readTopicToEnd } from '../../adapters/kafka/topic-reader.js';
import { jsonValueCodec } from '../../adapters/kafka/value-codecs.js';
import { partitionOfKey } from '../../adapters/memory/murmur2.js';
import { createNatsSink } from '../../adapters/nats/nats-sink.js';
import { natsSubscribe } from '../../adapters/nats/nats-subscribe.js';
import type { Sink, SinkMessage } from '../../core/io.js';
import { ensureTopics } from '../../infra/kafka/ensure-topics.js';
import { ensureJetStream } from '../../infra/nats/ensure-jetstream.js';
import { ACTS_STREAM } from '../../infra/topics.js';
import type { Policy } from '../../policies/policy.js';
import { POLICY_STATE_KEY } from '../../processors/policy-state.js';
import { createCodec } from '../../schemas/codec.js';
import type { Act, DeadLetter, KvEvent, RequestEvent } from '../../schemas/types.js';
import { engineTopology } from '../../topology/engine-topology.js';
import { createEchoPolicy, type EchoState } from '../support/echo-policy.js';
import { scenario } from '../support/scenario.js';
import { integrationEnv, uniqueName, waitFor } from './helpers.js';

/**
 * Restart on the real Kafka and NATS: a processor is stopped at a seeded random point of the stream, in one of three
 * windows (while its acts are being published; after its state reached the changelog but before the group commit;
 * between batches), and a new one in the same group takes over. The acts observed by a subscriber connected
 * throughout, and the state restored from the changelogs, are compared with an uninterrupted run over the same input.
 */

const { kafkaBrokers, natsUrl } = integrationEnv();
const kafka = new Kafka({ clientId: 'restart-test', brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
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

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Window = 'publishing-acts' | 'after-changelog' | 'between-batches';

interface Input {
  kvTopic: string;
  requestsTopic: string;
  dlqTopic: string;
  /** eventIds of the valid FINISHED request events: each causes one pin act. */
  finished: Set<string>;
  events: number;
  garbage: Set<string>;
  records: number;
}

/** Seeded scenario on fresh topics, produced in small requests so the processor sees many small batches. */
async function produceScenario(seed: number, count: number): Promise<Input> {
  let prefix = uniqueName(`r${seed}`);
  while (new Set(['e1', 'e2', 'e3'].map((e) => partitionOfKey(`${prefix}-${e}`, 2))).size < 2) {
    prefix = uniqueName(`r${seed}`);
  }
  const kvTopic = `cachesage.test.${prefix}.kv`;
  const requestsTopic = `cachesage.test.${prefix}.requests`;
  const dlqTopic = `cachesage.test.${prefix}.dlq`;
  createdTopics.push(kvTopic, requestsTopic, dlqTopic);
  await ensureTopics({
    brokers: kafkaBrokers,
    partitions: 2,
    topics: [kvTopic, requestsTopic, dlqTopic].map((name) => ({
      name,
      partitions: name === dlqTopic ? 1 : 2,
      config: {},
      purpose: 'test',
      retention: 'test',
      internal: true,
    })),
  });
  const input: Input = {
    kvTopic,
    requestsTopic,
    dlqTopic,
    finished: new Set(),
    events: 0,
    garbage: new Set(),
    records: 0,
  };
  const engineOf = (id: string): string => `${prefix}-${id}`;
  const messages = scenario(seed, count, 0.03).map((r) => {
    const topic = r.topic === 'cachesage.kv-events' ? kvTopic : requestsTopic;
    const key = engineOf(r.key);
    if ('garbage' in r.value) return { topic, key, value: Buffer.from(JSON.stringify(r.value)), garbage: true };
    input.events++;
    if (topic === kvTopic) {
      const e = r.value as KvEvent;
      return { topic, key, value: kvCodec.encode({ ...e, engineId: key }), garbage: false };
    }
    const e = r.value as RequestEvent;
    if (e.phase === 'FINISHED') input.finished.add(e.eventId);
    return { topic, key, value: requestCodec.encode({ ...e, engineId: key }), garbage: false };
  });
  input.records = messages.length;
  for (let i = 0; i < messages.length; i += 6) {
    const chunk = messages.slice(i, i + 6);
    await producer.sendBatch({
      topicMessages: [kvTopic, requestsTopic].map((topic) => ({
        topic,
        messages: chunk.filter((m) => m.topic === topic).map(({ key, value }) => ({ key, value })),
      })),
    });
    for (const m of chunk.filter((x) => x.garbage)) input.garbage.add(`${m.topic}|${m.key}|${m.value.toString()}`);
  }
  return input;
}

interface Collected {
  /** Every act received, in order (duplicates included). */
  received: Act[];
}

function actId(a: Act): string {
  return `${a.engineId}.${a.kind}.${a.policy}.${a.seq}`;
}

function actView(a: Act): unknown {
  const { issuedAt: _issued, ...rest } = a;
  return rest;
}

async function start(
  input: Input,
  groupId: string,
  overrides: { sinks?: Record<string, Sink<unknown>>; changelogSink?: Sink<Uint8Array | null> } = {},
  actSubject = 'cachesage.act.{engineId}.{kind}',
): Promise<KafkaTopology> {
  return startKafkaTopology(
    engineTopology({
      policies: ['echo'],
      kvEventsTopic: input.kvTopic,
      requestsTopic: input.requestsTopic,
      deadLetterTopic: input.dlqTopic,
      actSubject,
    }),
    {
      brokers: kafkaBrokers,
      nc,
      groupId,
      policies: [createEchoPolicy() as Policy],
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
      maxBytesPerPartition: 1024,
      ...overrides,
    },
  );
}

async function restoredState(running: KafkaTopology): Promise<{ echo: EchoState; seqs: [string, unknown][] }> {
  const read = async <V>(name: string): Promise<[string, V][]> => {
    const store = createChangelogStore<V>({
      name,
      topic: running.changelogTopics[name]!,
      brokers: kafkaBrokers,
      codec: jsonValueCodec(),
    });
    await store.restore();
    await store.close();
    return [...store.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  };
  const echo = (await read<EchoState>('policy:echo')).find(([k]) => k === POLICY_STATE_KEY)![1];
  return { echo, seqs: await read('act-seq') };
}

async function runToEnd(running: KafkaTopology, input: Input, seen: () => number): Promise<void> {
  await waitFor(() => seen() >= input.finished.size, { timeoutMs: 60_000, what: 'acts of every FINISHED event' });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      async () => {
        const ends = await Promise.all([input.kvTopic, input.requestsTopic].map((t) => admin.fetchTopicOffsets(t)));
        const committed = await admin.fetchOffsets({
          groupId: running.sources.events!.groupId,
          topics: [input.kvTopic, input.requestsTopic],
        });
        return committed.every((t, i) =>
          t.partitions.every((p) => {
            const end = ends[i]!.find((e) => e.partition === p.partition)!;
            return end.high === end.low || p.offset === end.high;
          }),
        );
      },
      { timeoutMs: 60_000, what: 'group offsets at the end of the input' },
    );
  } finally {
    await admin.disconnect();
  }
  await running.drain();
  createdTopics.push(...Object.values(running.changelogTopics));
}

describe('restart on Kafka: stop mid-stream, start a new processor in the same group', () => {
  const cases: [number, Window, 'act' | 'cmd'][] = [
    [101, 'publishing-acts', 'act'],
    [202, 'after-changelog', 'act'],
    [303, 'between-batches', 'act'],
    [404, 'publishing-acts', 'cmd'],
  ];
  it.each(cases)('seed %i, stopped %s, acts on cachesage.%s', async (seed, window, root) => {
    const input = await produceScenario(seed, 180);
    let collected: Collected = { received: [] };
    const subscribe = natsSubscribe(nc);
    const prefix = input.kvTopic.split('.')[2]!;
    const unsubscribers = [...new Set(['act', root])].map((r) =>
      subscribe(`cachesage.${r}.*.*`, (m) => {
        if (m.subject.startsWith(`cachesage.${r}.${prefix}-`)) collected.received.push(m.value as Act);
      }),
    );
    const unsubscribe = (): void => {
      for (const u of unsubscribers) u();
    };
    const actSubject = `cachesage.${root}.{engineId}.{kind}`;
    const jsm = root === 'cmd' ? await jetstreamManager(nc) : undefined;
    if (jsm !== undefined) await ensureJetStream({ natsUrl });
    await nc.flush();
    try {
      const reference = await start(input, uniqueName('reference'));
      await runToEnd(reference, input, () => collected.received.length);
      const clean = collected.received;
      const cleanState = await restoredState(reference);
      expect(new Set(clean.map(actId)).size).toBe(clean.length);
      expect(cleanState.echo.events).toBe(input.events);

      collected = { received: [] };
      const rand = mulberry32(seed);
      const groupId = uniqueName('restart');
      let first: KafkaTopology | undefined;
      let stopped = false;
      const stop = (): void => {
        if (stopped) return;
        stopped = true;
        void first!.close();
      };
      const natsActs = createNatsSink({ nc, name: 'acts-under-test' });
      const changelog = createKafkaSink({ brokers: kafkaBrokers, name: 'changelog-under-test' });
      let actWrites = 0;
      let changelogWrites = 0;
      const targetWrite = 2 + Math.floor(rand() * 6);
      const partial: string[] = [];
      const acts: Sink<unknown> = {
        name: 'acts',
        async write(messages) {
          actWrites++;
          if (window !== 'publishing-acts' || stopped || actWrites < targetWrite || messages.length < 2) {
            await natsActs.write(messages as SinkMessage<Uint8Array>[]);
            return;
          }
          const cut = 1 + Math.floor(rand() * (messages.length - 1));
          const head = messages.slice(0, cut) as SinkMessage<Uint8Array>[];
          await natsActs.write(head);
          partial.push(...head.map((m) => m.messageId!));
          stop();
          await new Promise<void>(() => {});
        },
        close: async () => {},
      };
      const changelogSink: Sink<Uint8Array | null> = {
        name: 'changelog',
        async write(messages) {
          await changelog.write(messages);
          changelogWrites++;
          if (window === 'after-changelog' && changelogWrites === targetWrite) stop();
        },
        close: async () => {},
      };
      first = await start(input, groupId, { sinks: { acts }, changelogSink }, actSubject);
      if (window === 'between-batches') {
        await waitFor(() => first!.stats.commits >= targetWrite + 3 || first!.stats.state !== 'running', {
          timeoutMs: 60_000,
          what: 'commits before the stop',
        });
        stop();
      }
      await waitFor(() => stopped, { timeoutMs: 60_000, what: 'the stop point' });
      await first.closed.catch(() => undefined);
      const firstSource = first.sources.events!.stats;
      expect(first.stats.state).toBe('closed');
      expect(first.stats.records).toBeLessThan(input.records);
      if (window === 'publishing-acts') expect(partial.length).toBeGreaterThan(0);
      const beforeRestart = collected.received.length;

      const second = await start(input, groupId, {}, actSubject);
      await runToEnd(second, input, () => new Set(collected.received.map(actId)).size);
      const state = await restoredState(second);
      await natsActs.close();
      await changelog.close();

      expect(firstSource.records + second.sources.events!.stats.records).toBeGreaterThanOrEqual(input.records);
      const { digest: _d1, ...cleanEcho } = cleanState.echo;
      const { digest: _d2, ...echo } = state.echo;
      expect(echo).toEqual(cleanEcho);
      expect(state.echo.events).toBe(input.events);
      expect(state.seqs).toEqual(cleanState.seqs);

      const byId = new Map<string, unknown>();
      for (const a of collected.received) byId.set(actId(a), actView(a));
      expect([...byId.keys()].sort()).toEqual(clean.map(actId).sort());
      for (const a of clean) expect(byId.get(actId(a))).toEqual(actView(a));
      expect(new Set(collected.received.map((a) => a.causeId))).toEqual(input.finished);
      const counts = new Map<string, number>();
      for (const a of collected.received) counts.set(actId(a), (counts.get(actId(a)) ?? 0) + 1);
      if (window === 'publishing-acts') {
        for (const id of partial) expect(counts.get(id)).toBe(2);
        expect(collected.received.length).toBeGreaterThan(beforeRestart);
      }
      if (window === 'after-changelog') {
        expect(second.sources.events!.stats.skipped).toBeGreaterThan(0);
        expect([...counts.values()].every((n) => n === 1)).toBe(true);
      }

      if (jsm !== undefined) {
        const stored = await jsm.streams.info(ACTS_STREAM, { subjects_filter: 'cachesage.cmd.*.*' });
        const mine = Object.entries(stored.state.subjects ?? {}).filter(([s]) =>
          s.startsWith(`cachesage.cmd.${prefix}-`),
        );
        expect(mine.reduce((n, [, c]) => n + c, 0)).toBe(clean.length);
        expect(collected.received.length).toBeGreaterThan(clean.length);
        for (const [subject] of mine) await jsm.streams.purge(ACTS_STREAM, { filter: subject });
      }

      const letters: DeadLetter[] = [];
      await readTopicToEnd({ brokers: kafkaBrokers, topic: input.dlqTopic }, (r) =>
        letters.push(deadLetterCodec.decode(r.value!)),
      );
      const origins = (from: DeadLetter[]) =>
        new Set(from.map((l) => `${l.originTopic}|${l.key}|${Buffer.from(l.payload).toString()}`));
      expect(origins(letters)).toEqual(input.garbage);
    } finally {
      unsubscribe();
    }
  });
});
