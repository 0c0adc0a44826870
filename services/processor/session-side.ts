import type { Kafka } from 'kafkajs';
import { createDeadLetterSink } from '../../adapters/kafka/dead-letter-sink.js';
import type { KafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { createKafkaSource, type KafkaSource } from '../../adapters/kafka/kafka-source.js';
import { avroEngineDecoders } from '../../adapters/kafka/start-kafka-topology.js';
import { wallClockScheduler } from '../../adapters/kafka/wall-clock-scheduler.js';
import { partitionOfKey } from '../../adapters/memory/murmur2.js';
import type { Logger } from '../../adapters/ops/logger.js';
import type { ProcessorMetrics } from '../../adapters/ops/processor-metrics.js';
import { ConfigError } from '../../core/errors.js';
import type { Sink, Store } from '../../core/io.js';
import { createCodec } from '../../schemas/codec.js';
import type { ModelUpdate, SessionPosition } from '../../schemas/types.js';
import type { StageContext } from '../../topology/runtime/stage-builders.js';
import { type RunningTopology, startTopology } from '../../topology/runtime/start-topology.js';
import {
  COUNTS_STORE,
  POSITIONS_STORE,
  sessionTopology,
  TRACK_SESSIONS_STAGE,
} from '../../topology/session-topology.js';
import { createGuardedSource, ownedPartitions } from './guarded-source.js';
import type { ProcessorTopics } from './processor-topics.js';
import { createStreamClock } from './stream-clock.js';
import type { TableReader } from './table-reader.js';
import { createTableStoreGroup, type TableStore } from './table-stores.js';
import { expireIdleSessions, type SessionStores, trackSessions } from './track-sessions.js';

export interface SessionSideOptions {
  kafka: Kafka;
  brokers: readonly string[];
  /** The processor's idempotent producer (model, sessions, dead letters); left open. */
  producer: KafkaSink;
  /** The processor group; the session sub-topology's consumer group is `<groupId>.sessions`. */
  groupId: string;
  topics: ProcessorTopics;
  /** Partition count of the session-keyed topic (a session's partition is murmur2(sessionId) mod it). */
  partitions: number;
  /** Global tables the processor reads (state of a newly owned partition is loaded from them). */
  modelTable: TableReader<ModelUpdate>;
  sessionsTable: TableReader<SessionPosition>;
  /** Sessions idle this long (event time) end: END is counted, the position removed. */
  sessionIdleMs: number;
  /** How often idle sessions are looked for; default min(1000, sessionIdleMs / 4). */
  expiryIntervalMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  metrics: ProcessorMetrics;
  logger: Logger;
}

export interface SessionSideStatus {
  state: string;
  owned: number[];
  sessions: number;
  countKeys: string[];
  assignedAt: number | null;
  preparedAt: number | null;
  preparedJoins: number;
  joins: number;
  records: number;
  expired: number;
}

export interface SessionSide {
  readonly running: RunningTopology;
  readonly source: KafkaSource;
  status(): SessionSideStatus;
  drain(): Promise<void>;
  close(): Promise<void>;
}

function copyUpdate(u: ModelUpdate): ModelUpdate {
  return { ...u, agents: [...u.agents], counts: [...u.counts], buckets: [...(u.buckets ?? [])] };
}

/** Group commits of the session partitions at most this often. */
const SESSION_COMMIT_INTERVAL_MS = 1000;

/**
 * Starts the session sub-topology of a processor (DESIGN §7): the session-keyed topic in the consumer group
 * `<groupId>.sessions`; every owned partition's positions and counts live in stores whose changes go, in one write
 * per commit, to the compacted model topic (key `${workloadId}:${partition}`, with the offset covered) and sessions
 * topic. After every rebalance it reloads the owned partitions' state from the global tables, caught up to their
 * end, so a new owner resumes exactly where the last one stopped. Idle sessions end on a timer (END counted).
 */
export function startSessionSide(options: SessionSideOptions): SessionSide {
  const { kafka, brokers, producer, groupId, topics, partitions, modelTable, sessionsTable, metrics, logger } = options;
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new ConfigError(`session side: bad partitions ${partitions}`);
  const idleMs = options.sessionIdleMs;
  const topology = sessionTopology({
    repartitionTopic: topics.sessionsRepartition,
    deadLetterTopic: topics.deadLetters,
    sessionIdleMs: idleMs,
  });
  const modelCodec = createCodec('ModelUpdate');
  const positionCodec = createCodec('SessionPosition');
  const tableWrites = (sink: string) => (messages: number) => metrics.eventsOut.inc({ sink }, messages);
  const modelWritten = tableWrites('model');
  const sessionsWritten = tableWrites('sessions');
  const group = createTableStoreGroup({
    sink: {
      name: `${groupId}-tables`,
      write: async (messages) => {
        await producer.write(messages);
        const model = messages.filter((m) => m.destination === topics.model).length;
        modelWritten(model);
        sessionsWritten(messages.length - model);
      },
      close: async () => {},
    },
    stores: [
      { name: COUNTS_STORE, topic: topics.model, encode: (v: ModelUpdate) => modelCodec.encode(v) },
      { name: POSITIONS_STORE, topic: topics.sessions, encode: (v: SessionPosition) => positionCodec.encode(v) },
    ] as never,
  });
  const counts = group.stores[0] as TableStore<ModelUpdate>;
  const positions = group.stores[1] as TableStore<SessionPosition>;
  const sessionStores: SessionStores = { counts, positions };
  const partitionOf = (sessionId: string): number => partitionOfKey(sessionId, partitions);
  const clock = createStreamClock();
  let owned = new Set<number>();
  let preparing = false;
  let preparedAt: number | null = null;
  let assignedAt: number | null = null;
  let expired = 0;
  let running: RunningTopology | undefined;

  const kafkaSource = createKafkaSource({
    brokers,
    kafka,
    groupId: `${groupId}.sessions`,
    topics: [topics.sessionsRepartition],
    name: `${groupId}-sessions`,
    fromBeginning: true,
    // the counts carry the offset they cover and positions the last call's time: replayed records count nothing
    commitIntervalMs: SESSION_COMMIT_INTERVAL_MS,
    ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
    ...(options.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
  });

  const prepare = async (next: readonly number[]): Promise<void> => {
    preparing = true;
    assignedAt = Date.now();
    try {
      await running?.idle();
      await group.settled();
      await Promise.all([modelTable.caughtUp(), sessionsTable.caughtUp()]);
      for (const key of [...counts.keys()]) counts.forget(key);
      for (const key of [...positions.keys()]) positions.forget(key);
      clock.reset();
      owned = new Set(next);
      for (const [key, row] of modelTable.rows) {
        if (owned.has(row.value.partition)) counts.load(key, copyUpdate(row.value));
      }
      for (const [sessionId, row] of sessionsTable.rows) {
        if (!owned.has(partitionOf(sessionId))) continue;
        positions.load(sessionId, { ...row.value });
        clock.observe(partitionOf(sessionId), row.value.lastTs);
      }
      preparedAt = Date.now();
      metrics.ownedPartitions.set({ side: 'session' }, owned.size);
      logger.info(
        { owned: [...owned], sessions: positions.size, countKeys: counts.size },
        'session partitions assigned, state loaded',
      );
    } finally {
      preparing = false;
    }
  };

  const source = createGuardedSource({
    source: kafkaSource,
    prepare,
    onDelivered: (batch) => metrics.eventsIn.inc({ topic: batch.topic }, batch.records.length),
  });
  const dlq = createDeadLetterSink({ sink: producer, name: `${groupId}-session-dead-letters` });
  running = startTopology(topology, {
    sources: { repartitioned: source },
    sinks: {
      dlq: {
        name: dlq.name,
        write: async (messages) => {
          await dlq.write(messages);
          metrics.deadLetters.inc(messages.length);
          metrics.eventsOut.inc({ sink: 'dlq' }, messages.length);
        },
        close: () => dlq.close(),
      } satisfies Sink<unknown>,
    },
    stores: { [COUNTS_STORE]: counts as Store<unknown>, [POSITIONS_STORE]: positions as Store<unknown> },
    scheduler: wallClockScheduler(),
    decoders: avroEngineDecoders(),
    stageBuilders: {
      [TRACK_SESSIONS_STAGE]: (ctx: StageContext) =>
        trackSessions({
          stage: ctx.stage.name,
          stores: sessionStores,
          onOutcome: (outcome, event, partition) => {
            metrics.sessionEvents.inc({ outcome });
            clock.observe(partition, event.ts);
          },
        }),
    },
  });
  const topologyRun = running;

  const expiryMs = options.expiryIntervalMs ?? Math.max(50, Math.min(1000, idleMs / 4));
  const expiryTimer = setInterval(() => {
    if (preparing || owned.size === 0 || topologyRun.stats.state !== 'running') return;
    const ended = expireIdleSessions(sessionStores, (p) => clock.now(p), idleMs, partitionOf);
    if (ended.length === 0) return;
    expired += ended.length;
    metrics.sessionsExpired.inc(ended.length);
    logger.debug({ sessions: ended }, 'idle sessions ended');
    group.flush()?.catch((err: unknown) => logger.error({ err }, 'writing expired sessions failed'));
  }, expiryMs);
  const stopExpiry = (): void => clearInterval(expiryTimer);
  topologyRun.closed.then(stopExpiry, stopExpiry);

  return {
    running: topologyRun,
    source: kafkaSource,
    status: () => ({
      state: topologyRun.stats.state,
      owned: ownedPartitions(kafkaSource),
      sessions: positions.size,
      countKeys: [...counts.keys()].sort(),
      assignedAt,
      preparedAt,
      preparedJoins: source.preparedJoins,
      joins: kafkaSource.stats.joins,
      records: topologyRun.stats.records,
      expired,
    }),
    drain: async () => {
      stopExpiry();
      await topologyRun.drain();
      await group.settled();
    },
    close: async () => {
      stopExpiry();
      await topologyRun.close();
    },
  };
}
