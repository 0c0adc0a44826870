import type { NatsConnection } from '@nats-io/transport-node';
import type { PartitionAssigner } from 'kafkajs';
import type { KafkaSecurity, NatsSecurity } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import type { Scheduler, Sink, Store } from '../../core/io.js';
import { ensureTopics } from '../../infra/kafka/ensure-topics.js';
import { connectOnce } from '../../infra/nats/connect.js';
import { changelogTopic, changelogTopicSpec } from '../../infra/topics.js';
import type { Policy } from '../../policies/policy.js';
import type { Decoder } from '../../processors/decode.js';
import { policyStoreName } from '../../processors/policy-state.js';
import { encodeActForNats } from '../../schemas/act-codec.js';
import { createCodec } from '../../schemas/codec.js';
import { engineDecoders } from '../../topology/engine-topology.js';
import type { Encoders } from '../../topology/runtime/stage-builders.js';
import { type RunningTopology, startTopology } from '../../topology/runtime/start-topology.js';
import type { Topology } from '../../topology/types.js';
import { createNatsSink } from '../nats/nats-sink.js';
import { type ChangelogCommitter, createChangelogCommitter } from './changelog-committer.js';
import { type ChangelogStore, createChangelogStore } from './changelog-store.js';
import { createDeadLetterSink } from './dead-letter-sink.js';
import { createKafkaClient, positiveInt } from './kafka-client.js';
import { createKafkaSink, type KafkaSink } from './kafka-sink.js';
import { createKafkaSource, type KafkaSource } from './kafka-source.js';
import { jsonValueCodec, policyStateCodec, type ValueCodec } from './value-codecs.js';
import { wallClockScheduler } from './wall-clock-scheduler.js';

export interface KafkaTopologyOptions {
  brokers: readonly string[];
  /** Consumer group of the processors (every instance of one topology uses the same). */
  groupId: string;
  /** Policy instances the topology's stages name. */
  policies: readonly Policy[];
  /** NATS for the subject sinks (acts): an open connection (left open), or a URL (connected and drained). */
  nc?: NatsConnection;
  natsUrl?: string;
  /** Application id naming the changelog topics `cachesage.<app>.<store>-changelog`; default `groupId`. */
  app?: string;
  clientId?: string;
  /** Where partitions without a committed offset start; default true (earliest). */
  fromBeginning?: boolean;
  maxInFlightBatches?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  maxWaitTimeMs?: number;
  maxBytesPerPartition?: number;
  partitionAssigners?: PartitionAssigner[];
  /** Partitions of changelog topics created here; default 1 (the stores hold one instance's state). */
  changelogPartitions?: number;
  restoreTimeoutMs?: number;
  /** Value codec per store name; default a policy's snapshot/restore, else JSON. */
  valueCodecs?: Readonly<Record<string, ValueCodec<unknown>>>;
  /** Decoders the decode stages name; default the Avro codecs of KvEvent and RequestEvent. */
  decoders?: Readonly<Record<string, Decoder<unknown>>>;
  /** Default: acts as Avro with the schema id in a NATS header (`encodeActForNats`). */
  encoders?: Encoders;
  /** Default the wall clock. */
  scheduler?: Scheduler;
  /** Sinks to use instead of the ones built here, by sink node name (left open: the caller owns them). */
  sinks?: Readonly<Record<string, Sink<unknown>>>;
  /** Where changelog records go instead of the shared Kafka producer (left open). */
  changelogSink?: Sink<Uint8Array | null>;
  /** SASL/TLS of every Kafka client the topology opens; default none. */
  kafkaSecurity?: KafkaSecurity;
  /** Credentials and TLS of the NATS connection opened from `natsUrl`; default none. */
  natsSecurity?: NatsSecurity;
}

/** A topology running on Kafka and NATS. `drain()` and `close()` also leave the group and close the connections. */
export interface KafkaTopology extends RunningTopology {
  readonly sources: Readonly<Record<string, KafkaSource>>;
  readonly stores: Readonly<Record<string, ChangelogStore<unknown>>>;
  /** Changelog topic per store name. */
  readonly changelogTopics: Readonly<Record<string, string>>;
  readonly committer: ChangelogCommitter;
  readonly producer: KafkaSink;
}

const TOPIC_TOKEN = /[^a-zA-Z0-9._-]/g;

/** The changelog topic of a store of an app (store names such as `policy:echo` become `policy-echo`). */
export function storeChangelogTopic(app: string, store: string): string {
  return changelogTopic(app, store.replace(TOPIC_TOKEN, '-'));
}

/** The Kafka and Avro defaults of the engine topology's decoders. */
export function avroEngineDecoders(): Record<string, Decoder<unknown>> {
  const kv = createCodec('KvEvent');
  const request = createCodec('RequestEvent');
  return engineDecoders({
    kvEvent: (value) => kv.decode(value as Uint8Array),
    requestEvent: (value) => request.decode(value as Uint8Array),
  });
}

/** The store as the runner sees it: its changes are written by the committer when a batch commits. */
function committedAtCommit<V>(store: ChangelogStore<V>, committer: ChangelogCommitter): Store<V> {
  return {
    name: store.name,
    get: (key) => store.get(key),
    put: (key, value) => store.put(key, value),
    delete: (key) => store.delete(key),
    has: (key) => store.has(key),
    keys: () => store.keys(),
    entries: () => store.entries(),
    get size() {
      return store.size;
    },
    flush: () => undefined,
    async restore() {
      await store.restore();
      committer.restored();
    },
  };
}

/**
 * Runs a topology on the production transports (DESIGN §2, §7): one Kafka source per source node (a consumer group,
 * co-partitioning assigner), the decode stages on the Avro codecs, changelog-backed stores restored before the first
 * batch, acts on NATS (core for `cachesage.act.*`, JetStream for `cachesage.cmd.*`), dead letters encoded to the
 * dead-letter topic, other topic sinks through one idempotent producer. A batch commits only after its acts and dead
 * letters were written; its state changes then go out with a checkpoint of the offsets they cover, and then the
 * group offset is committed. Creates the changelog topics (compacted) when missing; input topics must exist.
 */
export async function startKafkaTopology(topology: Topology, options: KafkaTopologyOptions): Promise<KafkaTopology> {
  const { brokers, groupId } = options;
  if (typeof groupId !== 'string' || groupId.length === 0) throw new ConfigError('Kafka topology: groupId is required');
  const app = options.app ?? groupId;
  const clientId = options.clientId ?? `cachesage-${topology.name}`;
  const changelogPartitions = positiveInt(options.changelogPartitions ?? 1, 'Kafka topology changelogPartitions');
  const policies = options.policies ?? [];
  const changelogTopics: Record<string, string> = {};
  const seenTopics = new Map<string, string>();
  for (const { name } of topology.stores) {
    const topic = storeChangelogTopic(app, name);
    const other = seenTopics.get(topic);
    if (other !== undefined) throw new ConfigError(`stores ${other} and ${name} map to one changelog topic ${topic}`);
    seenTopics.set(topic, name);
    changelogTopics[name] = topic;
  }
  const subjectSinks = topology.sinks.filter((s) => s.transport === 'subject' && options.sinks?.[s.name] === undefined);
  if (subjectSinks.length > 0 && options.nc === undefined && options.natsUrl === undefined) {
    throw new ConfigError(`Kafka topology: sinks ${subjectSinks.map((s) => s.name).join(', ')} need nc or natsUrl`);
  }

  await ensureTopics({
    brokers: [...brokers],
    partitions: changelogPartitions,
    ...(options.kafkaSecurity === undefined ? {} : { security: options.kafkaSecurity }),
    topics: topology.stores.map((s) => changelogTopicSpec(app, s.name.replace(TOPIC_TOKEN, '-'), 'default')),
  });

  const security = options.kafkaSecurity;
  const kafka = createKafkaClient({ brokers, clientId, ...(security === undefined ? {} : { security }) });
  const producer = createKafkaSink({ brokers, kafka, name: `${clientId}-producer` });
  const changelogSink = options.changelogSink ?? producer;
  const policyOfStore = new Map(policies.map((p) => [policyStoreName(p.name), p]));
  const stores: Record<string, ChangelogStore<unknown>> = {};
  for (const { name } of topology.stores) {
    const policy = policyOfStore.get(name);
    stores[name] = createChangelogStore({
      name,
      topic: changelogTopics[name]!,
      brokers,
      sink: changelogSink,
      ...(security === undefined ? {} : { security }),
      codec: options.valueCodecs?.[name] ?? (policy === undefined ? jsonValueCodec() : policyStateCodec(policy)),
      ...(options.restoreTimeoutMs === undefined ? {} : { restoreTimeoutMs: options.restoreTimeoutMs }),
    });
  }
  const committer = createChangelogCommitter({ stores: Object.values(stores), sink: changelogSink });

  let nc: NatsConnection | undefined = options.nc;
  const ownsNc = subjectSinks.length > 0 && nc === undefined;
  const teardowns: (() => Promise<unknown>)[] = [];
  try {
    if (ownsNc) nc = await connectOnce(options.natsUrl!, 5000, clientId, options.natsSecurity);
    const natsSink = nc === undefined ? undefined : createNatsSink({ nc, name: `${clientId}-acts` });
    teardowns.push(async () => {
      await natsSink?.close();
      if (ownsNc) await nc?.drain().catch(() => undefined);
    });
    teardowns.push(() => producer.close());
    const dlq = createDeadLetterSink({ sink: producer, name: `${clientId}-dead-letters` });
    const sinks: Record<string, Sink<unknown>> = {};
    for (const node of topology.sinks) {
      const given = options.sinks?.[node.name];
      if (given !== undefined) sinks[node.name] = given;
      else if (node.transport === 'subject') sinks[node.name] = natsSink!;
      else if (node.name === topology.deadLetterSink) sinks[node.name] = dlq;
      else sinks[node.name] = producer as Sink<unknown>;
    }
    const sources: Record<string, KafkaSource> = {};
    for (const node of topology.sources) {
      sources[node.name] = createKafkaSource({
        brokers,
        kafka,
        groupId: topology.sources.length === 1 ? groupId : `${groupId}.${node.name}`,
        topics: node.topics,
        name: `${node.name}@kafka`,
        fromBeginning: options.fromBeginning ?? true,
        processedBelow: committer.processedBelow,
        beforeCommit: committer.commit,
        ...(options.maxInFlightBatches === undefined ? {} : { maxInFlightBatches: options.maxInFlightBatches }),
        ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
        ...(options.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
        ...(options.maxWaitTimeMs === undefined ? {} : { maxWaitTimeMs: options.maxWaitTimeMs }),
        ...(options.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: options.maxBytesPerPartition }),
        ...(options.partitionAssigners === undefined ? {} : { partitionAssigners: options.partitionAssigners }),
      });
    }
    const running = startTopology(topology, {
      sources,
      sinks,
      stores: Object.fromEntries(Object.entries(stores).map(([n, s]) => [n, committedAtCommit(s, committer)])),
      policies,
      scheduler: options.scheduler ?? wallClockScheduler(),
      decoders: options.decoders ?? avroEngineDecoders(),
      encoders: options.encoders ?? { act: encodeActForNats },
    });
    let teardown: Promise<void> | undefined;
    const tearDown = (): Promise<void> => {
      teardown ??= (async () => {
        for (const t of teardowns) await t().catch(() => undefined);
      })();
      return teardown;
    };
    const closed = running.closed.then(tearDown, async (err: unknown) => {
      await tearDown();
      throw err;
    });
    closed.catch(() => undefined);
    return {
      topology,
      stats: running.stats,
      sources,
      stores,
      changelogTopics,
      committer,
      producer,
      closed,
      idle: () => running.idle(),
      drain: async () => {
        await running.drain().finally(tearDown);
      },
      close: async () => {
        await running.close();
        await tearDown();
      },
    };
  } catch (err) {
    for (const t of teardowns) await t().catch(() => undefined);
    if (ownsNc) await nc?.close().catch(() => undefined);
    await producer.close().catch(() => undefined);
    throw err;
  }
}
