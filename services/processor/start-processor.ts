import type { NatsConnection } from '@nats-io/transport-node';
import type { Kafka } from 'kafkajs';
import { createKafkaClient, kafkaError } from '../../adapters/kafka/kafka-client.js';
import { createKafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { connectNats } from '../../adapters/nats/connect.js';
import type { Logger } from '../../adapters/ops/logger.js';
import type { Health } from '../../adapters/ops/ops-server.js';
import type { ProcessorMetrics } from '../../adapters/ops/processor-metrics.js';
import type { KafkaSecurity, NatsSecurity } from '../../core/config.js';
import { ConfigError, InfraError } from '../../core/errors.js';
import { installSharedCounts } from '../../policies/cachesage/shared-model.js';
import type { CacheSageState } from '../../policies/cachesage/state.js';
import type { Policy } from '../../policies/policy.js';
import { POLICY_STATE_KEY, policyStoreName } from '../../processors/policy-state.js';
import { createCodec } from '../../schemas/codec.js';
import type { ModelUpdate, SessionPosition } from '../../schemas/types.js';
import { type EngineSide, type EngineSideStatus, startEngineSide } from './engine-side.js';
import { type ProcessorTopics, resolveProcessorTopics } from './processor-topics.js';
import { type SessionSide, type SessionSideStatus, startSessionSide } from './session-side.js';
import { createSharedModel, type SharedModel } from './shared-model.js';
import { createTableReader, type TableReader } from './table-reader.js';
import type { SummedCounts } from './transition-counts.js';

export interface ProcessorOptions {
  brokers: readonly string[];
  natsUrl: string;
  kafkaSecurity?: KafkaSecurity;
  natsSecurity?: NatsSecurity;
  /** Consumer group of the processors; every instance uses the same. */
  groupId: string;
  /** Policy instances the engine sub-topology runs. */
  policies: readonly Policy[];
  topics?: Partial<ProcessorTopics>;
  /** Subject template of acts; default `cachesage.act.{engineId}.{kind}`. */
  actSubject?: string;
  /** Sessions idle this long (event time) end. */
  sessionIdleMs: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  rebuildTimeoutMs?: number;
  /** Name shown by Kafka and NATS; default `cachesage-processor`. */
  clientId?: string;
  metrics: ProcessorMetrics;
  logger: Logger;
}

/** What `/status` serves: both sub-topologies and the shared model's sums. */
export interface ProcessorStatus {
  groupId: string;
  topics: ProcessorTopics;
  engine: EngineSideStatus;
  session: SessionSideStatus;
  /** Summed transition counts per workload, as installed into the policies. */
  model: Record<string, SummedCounts>;
  tables: { model: number; sessions: number };
}

/** One processor of the group, running both sub-topologies (DESIGN §7). */
export interface RunningProcessor {
  readonly topics: ProcessorTopics;
  status(): ProcessorStatus;
  health(): Health;
  /** Resolves when the processor stopped; rejects with the error that failed it. */
  readonly closed: Promise<void>;
  /** Finishes and commits what was received, leaves the groups, drains NATS. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

async function partitionCounts(kafka: Kafka, topics: readonly string[]): Promise<Map<string, number>> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      throw new InfraError(
        'NOT_FOUND',
        `topics ${missing.join(', ')} do not exist (create them: cachesage topics create)`,
        { retriable: true },
      );
    }
    const meta = await admin.fetchTopicMetadata({ topics: [...topics] });
    return new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
  } catch (err) {
    if (err instanceof InfraError) throw err;
    throw kafkaError('cannot read topic metadata', err);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function installer(engine: () => EngineSide | undefined, policies: readonly Policy[]) {
  const cachesage = policies.find((p) => p.name === 'cachesage');
  return (workloadId: string, sums: SummedCounts): void => {
    const store = cachesage === undefined ? undefined : engine()?.stores[policyStoreName(cachesage.name)];
    if (store === undefined || cachesage === undefined) return;
    let state = store.get(POLICY_STATE_KEY) as CacheSageState | undefined;
    if (state === undefined) {
      state = cachesage.createState() as CacheSageState;
      store.put(POLICY_STATE_KEY, state);
    }
    installSharedCounts(state, workloadId, sums.agents, sums.counts);
  };
}

/**
 * Starts one processor: checks the topics (co-partitioned pairs must match), opens one Kafka client, one idempotent
 * producer and one NATS connection, starts the global tables (model, sessions), the engine sub-topology and the
 * session sub-topology. The shared model's sums are installed into the CacheSage policy's state whenever they change
 * and after every rebuild.
 */
export async function startProcessor(options: ProcessorOptions): Promise<RunningProcessor> {
  const { brokers, groupId, policies, metrics, logger } = options;
  if (typeof groupId !== 'string' || groupId.length === 0) throw new ConfigError('processor: groupId is required');
  if (policies.length === 0) throw new ConfigError('processor: at least one policy is required');
  const topics = resolveProcessorTopics(options.topics);
  const clientId = options.clientId ?? 'cachesage-processor';
  const kafka = createKafkaClient({
    brokers,
    clientId,
    ...(options.kafkaSecurity === undefined ? {} : { security: options.kafkaSecurity }),
  });
  const counts = await partitionCounts(kafka, Object.values(topics));
  const pairs: [string, string][] = [
    [topics.kvEvents, topics.requests],
    [topics.sessionsRepartition, topics.sessions],
  ];
  for (const [a, b] of pairs) {
    if (counts.get(a) !== counts.get(b)) {
      throw new ConfigError(`${a} has ${counts.get(a)} partitions and ${b} ${counts.get(b)}: they must be equal`);
    }
  }
  // repartitioned requests, table changes and dead letters are independent outputs: queued writes share a request
  const producer = createKafkaSink({ brokers, kafka, name: `${clientId}-producer`, coalesce: true });
  await producer.connect();
  let nc: NatsConnection;
  try {
    nc = await connectNats({
      servers: options.natsUrl,
      name: clientId,
      reconnect: true,
      ...(options.natsSecurity === undefined ? {} : { security: options.natsSecurity }),
    });
  } catch (err) {
    await producer.close();
    throw err;
  }

  const shared: SharedModel = createSharedModel();
  const modelCodec = createCodec('ModelUpdate');
  const positionCodec = createCodec('SessionPosition');
  const modelTable: TableReader<ModelUpdate> = createTableReader({
    kafka,
    topic: topics.model,
    decode: (bytes) => modelCodec.decode(bytes),
    onChange: (key, row) => shared.update(key, row),
    onUndecodable: (key, err) => logger.warn({ key, err }, 'model record does not decode'),
    groupPrefix: `${groupId}.table`,
  });
  const sessionsTable: TableReader<SessionPosition> = createTableReader({
    kafka,
    topic: topics.sessions,
    decode: (bytes) => positionCodec.decode(bytes),
    onUndecodable: (key, err) => logger.warn({ key, err }, 'session record does not decode'),
    groupPrefix: `${groupId}.table`,
  });

  let engine: EngineSide | undefined;
  const install = installer(() => engine, policies);
  const installAll = (): void => {
    for (const w of shared.workloads()) {
      const sums = shared.sums(w);
      if (sums !== undefined) install(w, sums);
    }
  };
  shared.onChange(install);
  const common = {
    kafka,
    brokers,
    producer,
    groupId,
    topics,
    metrics,
    logger,
    ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
    ...(options.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
  };
  let session: SessionSide;
  try {
    await Promise.all([modelTable.start(), sessionsTable.start()]);
    engine = startEngineSide({
      ...common,
      nc,
      policies,
      afterRebuild: installAll,
      ...(options.actSubject === undefined ? {} : { actSubject: options.actSubject }),
      ...(options.rebuildTimeoutMs === undefined ? {} : { rebuildTimeoutMs: options.rebuildTimeoutMs }),
    });
    session = startSessionSide({
      ...common,
      partitions: counts.get(topics.sessionsRepartition) as number,
      modelTable,
      sessionsTable,
      sessionIdleMs: options.sessionIdleMs,
    });
  } catch (err) {
    await engine?.close();
    await Promise.allSettled([modelTable.close(), sessionsTable.close(), producer.close(), nc.drain()]);
    throw err;
  }
  const engineSide = engine;

  let teardown: Promise<void> | undefined;
  const tearDown = (): Promise<void> => {
    teardown ??= (async () => {
      await Promise.allSettled([modelTable.close(), sessionsTable.close()]);
      await producer.close().catch(() => undefined);
      await nc.drain().catch(() => undefined);
    })();
    return teardown;
  };
  const failOther = (err: unknown): Promise<never> => {
    logger.error({ err }, 'a sub-topology failed; stopping the processor');
    return Promise.allSettled([engineSide.close(), session.close()]).then(() => Promise.reject(err));
  };
  const closed = Promise.all([
    engineSide.running.closed.catch(failOther),
    session.running.closed.catch(failOther),
  ]).then(tearDown, async (err: unknown) => {
    await tearDown();
    throw err;
  });
  closed.catch(() => undefined);

  return {
    topics,
    status: () => ({
      groupId,
      topics,
      engine: engineSide.status(),
      session: session.status(),
      model: Object.fromEntries(shared.workloads().map((w) => [w, shared.sums(w) as SummedCounts])),
      tables: { model: modelTable.rows.size, sessions: sessionsTable.rows.size },
    }),
    health: () => {
      const e = engineSide.running.stats.state;
      const s = session.running.stats.state;
      return { ok: e === 'running' && s === 'running', detail: { engine: e, session: s } };
    },
    closed,
    drain: async () => {
      await Promise.allSettled([engineSide.drain(), session.drain()]);
      await closed;
    },
    close: async () => {
      await Promise.allSettled([engineSide.close(), session.close()]);
      await closed.catch(() => undefined);
    },
  };
}
