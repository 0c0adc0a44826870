import type { NatsConnection } from '@nats-io/transport-node';
import type { Kafka } from 'kafkajs';
import { createDeadLetterSink } from '../../adapters/kafka/dead-letter-sink.js';
import type { KafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { createKafkaSource, type KafkaSource } from '../../adapters/kafka/kafka-source.js';
import { avroEngineDecoders } from '../../adapters/kafka/start-kafka-topology.js';
import { readTopicToEnd } from '../../adapters/kafka/topic-reader.js';
import { wallClockScheduler } from '../../adapters/kafka/wall-clock-scheduler.js';
import { createMemoryStore } from '../../adapters/memory/memory-store.js';
import { createNatsSink } from '../../adapters/nats/nats-sink.js';
import type { Logger } from '../../adapters/ops/logger.js';
import type { ProcessorMetrics } from '../../adapters/ops/processor-metrics.js';
import type { Sink, SinkMessage, SourceBatch, Store } from '../../core/io.js';
import type { ObservedEvent, Policy } from '../../policies/policy.js';
import type { Decoder } from '../../processors/decode.js';
import { POLICY_STATE_KEY, policyStoreName } from '../../processors/policy-state.js';
import { stampActs } from '../../processors/stamp-acts.js';
import { encodeActForNats } from '../../schemas/act-codec.js';
import { createCodec } from '../../schemas/codec.js';
import type { Act } from '../../schemas/types.js';
import { ACT_SEQ_STORE, ENGINE_DECODERS } from '../../topology/engine-topology.js';
import type { StageBuilder, StageContext } from '../../topology/runtime/stage-builders.js';
import { type RunningTopology, startTopology } from '../../topology/runtime/start-topology.js';
import { processorEngineTopology, REPARTITION_STAGE } from '../../topology/session-topology.js';
import { createActSeqStore, seqFloorAt } from './act-seq-store.js';
import { fetchCommittedOffsets, fetchEndOffsets, type OffsetTable, offsetKey } from './committed-offsets.js';
import { createGuardedSource, ownedPartitions } from './guarded-source.js';
import type { ProcessorTopics } from './processor-topics.js';
import { rebuildPolicyState } from './rebuild-policy-state.js';
import { repartitionBySession } from './repartition.js';
import { replayOrder } from './replay-order.js';

export interface EngineSideOptions {
  kafka: Kafka;
  brokers: readonly string[];
  /** The processor's idempotent producer (repartitioned requests, dead letters); left open. */
  producer: KafkaSink;
  /** Acts go out on it; left open. */
  nc: NatsConnection;
  groupId: string;
  policies: readonly Policy[];
  topics: ProcessorTopics;
  /** Subject template of acts; default `cachesage.act.{engineId}.{kind}`. */
  actSubject?: string;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Longest read-back of a rebuild; default 60 000. */
  rebuildTimeoutMs?: number;
  /** How often consumer lag is measured; default 5000 (0: never). */
  lagIntervalMs?: number;
  metrics: ProcessorMetrics;
  logger: Logger;
  /** Runs after every rebuild and whenever the shared model changes: installs shared counts into policy states. */
  afterRebuild?: () => void;
}

/** One rebuild of engine state after a rebalance. */
export interface RebuildRecord {
  at: number;
  owned: number[];
  cold: number[];
  events: number;
  ms: number;
  policyFailures: number;
}

export interface EngineSideStatus {
  state: string;
  owned: number[];
  warm: number[];
  /** Next offset to deliver per `topic|partition`. */
  delivered: Record<string, string>;
  /** Wall time the current assignment was taken up (preparation started). */
  assignedAt: number | null;
  /** Wall time the current assignment was prepared (state ready, acts may flow). */
  preparedAt: number | null;
  preparedJoins: number;
  joins: number;
  rebuilds: RebuildRecord[];
  records: number;
  batches: number;
  emitted: Record<string, number>;
  failures: Record<string, number>;
  deadLettered: number;
}

/** The engine sub-topology of one processor, running. */
export interface EngineSide {
  readonly running: RunningTopology;
  readonly source: KafkaSource;
  /** The stores of the policies' states (`policy:<name>`). */
  readonly stores: Readonly<Record<string, Store<unknown>>>;
  status(): EngineSideStatus;
  drain(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Engine partitions consumed at once, and batches processed ahead of their commits: the state is rebuilt from the
 * input after a rebalance (no checkpoint), so a batch may be processed while earlier ones wait for their writes.
 */
const ENGINE_BATCHES_IN_FLIGHT = 4;

/** Group commits of the engine partitions at most this often (a crash replays at most about this much). */
const ENGINE_COMMIT_INTERVAL_MS = 1000;

/**
 * Most bytes fetched per engine partition at once (kafkajs's default is 1 MiB; a fetch stays within kafkajs's 10 MiB
 * in all). At live load a fetch holds a few events whatever this is; behind a backlog a bigger batch leaves more of
 * its decisions to the engine's last event in it (`conflateDecisions`), so the processor catches up faster: draining
 * 40,000 events with CacheSage, 10.3-12.0k events/s at 1 MiB (median 10.9k of 5 runs) against 9.4-15.2k at 4 MiB
 * (median 13.4k of 6), alternated on one machine.
 */
const ENGINE_FETCH_BYTES_PER_PARTITION = 4 * 1024 * 1024;

/** Act bytes → the cause's production time and the act's kind, for the latency histogram at publication. */
type CauseTimes = WeakMap<Uint8Array, { at: number; kind: string }>;

function trackingEncoder(causeTimes: CauseTimes): (act: Act) => { data: Uint8Array; headers: Record<string, string> } {
  return (act) => {
    const encoded = encodeActForNats(act);
    causeTimes.set(encoded.data, { at: act.causeProducedAt, kind: act.kind });
    return encoded;
  };
}

function countingSink(
  sink: Sink<unknown>,
  onWritten: (messages: readonly SinkMessage<unknown>[]) => void,
): Sink<unknown> {
  return {
    name: sink.name,
    write(messages) {
      const r = sink.write(messages);
      if (r === undefined) {
        onWritten(messages);
        return undefined;
      }
      return Promise.resolve(r).then(() => onWritten(messages));
    },
    close: () => sink.close(),
  };
}

/**
 * Starts the engine sub-topology of a processor (DESIGN §7): the co-partitioned KV-event and request topics in the
 * processor group (co-partitioning, sticky assigner), the policies' observe → decide → stamp → route stages, acts on
 * NATS, request events repartitioned by session. After every rebalance that gives it an engine partition it did
 * not hold (or that another member advanced), it rebuilds its policy state by replaying the owned partitions of
 * both topics from their beginning up to where live processing resumes, before it acts again. Acts are stamped with
 * the causing event's time (the engine's clock) and a seq above every earlier owner's.
 */
export function startEngineSide(options: EngineSideOptions): EngineSide {
  const { kafka, brokers, producer, nc, groupId, policies, topics, metrics, logger } = options;
  const topicNames = [topics.kvEvents, topics.requests];
  const topology = processorEngineTopology({
    policies: policies.map((p) => p.name),
    kvEventsTopic: topics.kvEvents,
    requestsTopic: topics.requests,
    deadLetterTopic: topics.deadLetters,
    repartitionTopic: topics.sessionsRepartition,
    conflateDecisions: true,
    ...(options.actSubject === undefined ? {} : { actSubject: options.actSubject }),
  });
  const actSeq = createActSeqStore(ACT_SEQ_STORE, seqFloorAt(Date.now()));
  const stores: Record<string, Store<unknown>> = { [ACT_SEQ_STORE]: actSeq as Store<unknown> };
  for (const p of policies) stores[policyStoreName(p.name)] = createMemoryStore({ name: policyStoreName(p.name) });

  const base = avroEngineDecoders();
  const kvDecoder = base[ENGINE_DECODERS.kvEvent] as Decoder<ObservedEvent>;
  const requestDecoder = base[ENGINE_DECODERS.requestEvent] as Decoder<ObservedEvent>;
  const decoders: Record<string, Decoder<unknown>> = {
    [ENGINE_DECODERS.kvEvent]: kvDecoder,
    [ENGINE_DECODERS.requestEvent]: (value, record) => {
      const observed = requestDecoder(value, record);
      if (observed.type === 'request') metrics.finished(observed.event);
      return observed;
    },
  };

  const delivered: OffsetTable = new Map();
  const folded: OffsetTable = new Map();
  let warm = new Set<number>();
  let preparedAt: number | null = null;
  let assignedAt: number | null = null;
  const rebuilds: RebuildRecord[] = [];
  let running: RunningTopology | undefined;

  const kafkaSource = createKafkaSource({
    brokers,
    kafka,
    groupId,
    topics: topicNames,
    name: `${groupId}-engines`,
    fromBeginning: true,
    maxInFlightBatches: ENGINE_BATCHES_IN_FLIGHT,
    commitIntervalMs: ENGINE_COMMIT_INTERVAL_MS,
    maxBytesPerPartition: ENGINE_FETCH_BYTES_PER_PARTITION,
    ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
    ...(options.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
  });

  const readBack = async (owned: readonly number[], ends: OffsetTable): Promise<ObservedEvent[]> => {
    const events: ObservedEvent[] = [];
    const decoderOf = (topic: string): Decoder<ObservedEvent> =>
      topic === topics.kvEvents ? kvDecoder : requestDecoder;
    await Promise.all(
      topicNames.map(async (topic) => {
        const partitions = owned.filter((q) => (ends.get(offsetKey(topic, q)) ?? 0n) > 0n);
        if (partitions.length === 0) return;
        const decodeRecord = decoderOf(topic);
        let count = 0;
        await readTopicToEnd(
          {
            brokers,
            kafka,
            topic,
            partitions,
            clientId: `${groupId}-rebuild`,
            timeoutMs: options.rebuildTimeoutMs ?? 60_000,
          },
          (record) => {
            if (record.value === null) return;
            if (BigInt(record.offset) >= (ends.get(offsetKey(topic, record.partition)) ?? 0n)) return;
            try {
              events.push(
                decodeRecord(record.value, {
                  origin: { topic, partition: record.partition, offset: record.offset },
                  key: record.key,
                  timestampMs: 0,
                  headers: record.headers,
                  raw: record.value,
                  value: record.value,
                }),
              );
              count++;
            } catch {
              // dead-lettered when it was processed live
            }
          },
        );
        metrics.eventsReplayed.inc({ topic }, count);
      }),
    );
    return replayOrder(events);
  };

  const rebuild = async (owned: readonly number[], cold: readonly number[], committed: OffsetTable): Promise<void> => {
    const started = Date.now();
    const ends: OffsetTable = new Map();
    for (const topic of topicNames) {
      for (const q of owned) {
        const key = offsetKey(topic, q);
        const c = committed.get(key) ?? 0n;
        const d = delivered.get(key) ?? 0n;
        ends.set(key, c > d ? c : d);
      }
    }
    const events = await readBack(owned, ends);
    let policyFailures = 0;
    for (const policy of policies) {
      const { state, failures } = rebuildPolicyState(policy, events);
      policyFailures += failures;
      stores[policyStoreName(policy.name)]?.put(POLICY_STATE_KEY, state);
    }
    actSeq.restart(seqFloorAt(Date.now()));
    for (const [key, end] of ends) {
      folded.set(key, end);
      delivered.set(key, end);
    }
    options.afterRebuild?.();
    const record: RebuildRecord = {
      at: started,
      owned: [...owned],
      cold: [...cold],
      events: events.length,
      ms: Date.now() - started,
      policyFailures,
    };
    rebuilds.push(record);
    metrics.rebuilds.inc();
    metrics.rebuildSeconds.observe(record.ms / 1000);
    logger.info(record, 'engine state rebuilt');
  };

  const prepare = async (owned: readonly number[]): Promise<void> => {
    assignedAt = Date.now();
    await running?.idle();
    metrics.ownedPartitions.set({ side: 'engine' }, owned.length);
    metrics.consumerLag.reset();
    const committed = await fetchCommittedOffsets(kafka, groupId, topicNames);
    const cold = owned.filter(
      (q) =>
        !warm.has(q) ||
        topicNames.some((t) => (committed.get(offsetKey(t, q)) ?? -1n) > (delivered.get(offsetKey(t, q)) ?? 0n)),
    );
    warm = new Set(owned);
    logger.info({ owned, cold, joins: kafkaSource.stats.joins }, 'engine partitions assigned');
    if (cold.length > 0) await rebuild(owned, cold, committed);
    preparedAt = Date.now();
  };

  const admit = (batch: SourceBatch<Uint8Array>): SourceBatch<Uint8Array> => {
    const key = offsetKey(batch.topic, batch.partition);
    const floor = folded.get(key) ?? 0n;
    const records = batch.records.filter((r) => BigInt(r.origin.offset) >= floor);
    const last = records[records.length - 1];
    if (last !== undefined) {
      const next = BigInt(last.origin.offset) + 1n;
      if (next > (delivered.get(key) ?? 0n)) delivered.set(key, next);
    }
    return records.length === batch.records.length ? batch : { ...batch, records };
  };

  const source = createGuardedSource({
    source: kafkaSource,
    prepare,
    admit,
    onDelivered: (batch) => metrics.eventsIn.inc({ topic: batch.topic }, batch.records.length),
  });

  const causeTimes: CauseTimes = new WeakMap();
  const natsSink = createNatsSink({ nc, name: `${groupId}-acts` });
  const acts = countingSink(natsSink as Sink<unknown>, (messages) => {
    metrics.eventsOut.inc({ sink: 'acts' }, messages.length);
    const now = Date.now();
    for (const m of messages) {
      const cause = causeTimes.get(m.value as Uint8Array);
      if (cause !== undefined) metrics.actLatency.observe({ kind: cause.kind }, Math.max(0, now - cause.at) / 1000);
    }
  });
  const dlq = countingSink(createDeadLetterSink({ sink: producer, name: `${groupId}-dead-letters` }), (messages) => {
    metrics.eventsOut.inc({ sink: 'dlq' }, messages.length);
    metrics.deadLetters.inc(messages.length);
  });
  const repartitioned = countingSink(producer as Sink<unknown>, (messages) =>
    metrics.eventsOut.inc({ sink: 'sessions-repartition' }, messages.length),
  );

  const stageBuilders: Record<string, StageBuilder> = {
    'stamp-acts': (ctx: StageContext) =>
      stampActs({
        stage: ctx.stage.name,
        seqStore: ctx.store<number>(ACT_SEQ_STORE),
        defaultTtlMs: ctx.stage.options?.defaultTtlMs as number,
      }),
    [REPARTITION_STAGE]: (ctx: StageContext) => {
      const requests = createCodec('RequestEvent');
      return repartitionBySession({
        stage: ctx.stage.name,
        destination: topics.sessionsRepartition,
        encode: (event) => requests.encode(event),
      });
    },
  };

  running = startTopology(topology, {
    sources: { events: source },
    sinks: { acts, dlq, 'sessions-repartition': repartitioned },
    stores,
    policies,
    scheduler: wallClockScheduler(),
    decoders,
    encoders: { act: trackingEncoder(causeTimes) },
    stageBuilders,
    maxUncommittedBatches: ENGINE_BATCHES_IN_FLIGHT,
  });
  const topologyRun = running;

  const lagMs = options.lagIntervalMs ?? 5000;
  const lagTimer =
    lagMs > 0
      ? setInterval(() => {
          const owned = ownedPartitions(kafkaSource);
          if (owned.length === 0) return;
          fetchEndOffsets(kafka, topicNames).then(
            (ends) => {
              for (const topic of topicNames) {
                for (const q of owned) {
                  const key = offsetKey(topic, q);
                  const lag = (ends.get(key) ?? 0n) - (delivered.get(key) ?? 0n);
                  metrics.consumerLag.set({ topic, partition: String(q) }, Number(lag > 0n ? lag : 0n));
                }
              }
            },
            (err: unknown) => logger.debug({ err }, 'consumer lag not measured'),
          );
        }, lagMs)
      : undefined;
  const stopLag = (): void => {
    if (lagTimer !== undefined) clearInterval(lagTimer);
  };
  topologyRun.closed.then(stopLag, stopLag);

  return {
    running: topologyRun,
    source: kafkaSource,
    stores,
    status: () => ({
      state: topologyRun.stats.state,
      owned: ownedPartitions(kafkaSource),
      warm: [...warm].sort((a, b) => a - b),
      delivered: Object.fromEntries([...delivered].map(([k, v]) => [k, v.toString()])),
      assignedAt,
      preparedAt,
      preparedJoins: source.preparedJoins,
      joins: kafkaSource.stats.joins,
      rebuilds,
      records: topologyRun.stats.records,
      batches: topologyRun.stats.batches,
      emitted: { ...topologyRun.stats.emitted },
      failures: { ...topologyRun.stats.failures },
      deadLettered: topologyRun.stats.deadLettered,
    }),
    drain: async () => {
      stopLag();
      await topologyRun.drain();
      await natsSink.close();
    },
    close: async () => {
      stopLag();
      await topologyRun.close();
      await natsSink.close();
    },
  };
}
