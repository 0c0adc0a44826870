import {
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type Kafka,
  type KafkaMessage,
  type PartitionAssigner,
  PartitionAssigners,
} from 'kafkajs';
import { Observable, type Subscriber } from 'rxjs';
import type { KafkaSecurity } from '../../core/config.js';
import { ConfigError, InfraError, ProgrammerError } from '../../core/errors.js';
import type { Source, SourceBatch, SourceRecord } from '../../core/io.js';
import { createBatchLedger, type FlowChange } from './batch-ledger.js';
import { coPartitionedAssigner } from './co-partitioned-assigner.js';
import { createKafkaClient, kafkaError, positiveInt } from './kafka-client.js';
import { nextOffset, topicPartitionKey } from './offsets.js';

/** Where a committed batch ends: the next offset of its partition. */
export interface CommitPosition {
  topic: string;
  partition: number;
  nextOffset: string;
}

export interface KafkaSourceOptions {
  brokers: readonly string[];
  groupId: string;
  topics: readonly string[];
  /** Source name; default `kafka:<topics>`. */
  name?: string;
  clientId?: string;
  /** Where a partition without a committed offset starts. Default true (earliest), as Kafka Streams does. */
  fromBeginning?: boolean;
  /**
   * Batches handed to the runtime and not yet committed (at most one per partition at a time). Also the number of
   * partitions consumed concurrently. When reached, the consumer pauses its partitions until one commits. Default 4.
   */
  maxInFlightBatches?: number;
  /** Heartbeat period while a batch waits for its commit; default 3000. */
  heartbeatIntervalMs?: number;
  /** Group session timeout (a crashed member is replaced after it); default 10 000. */
  sessionTimeoutMs?: number;
  /** Longest wait of a fetch on an idle partition; default 500 (bounds close time). */
  maxWaitTimeMs?: number;
  /** Most bytes fetched per partition at once, which bounds a batch; default kafkajs's 1 MiB. */
  maxBytesPerPartition?: number;
  /**
   * kafkajs partition assigners, preferred first. Default: the co-partitioning assigner (same partition number of
   * every topic to one member, sticky), then kafkajs's round robin.
   */
  partitionAssigners?: PartitionAssigner[];
  /** Next offset already processed per partition (a restored state checkpoint): records below it are skipped. */
  processedBelow?: (topic: string, partition: number) => string | undefined;
  /** Runs when the runtime commits a batch, before the group commit (e.g. writes a state checkpoint). */
  beforeCommit?: (position: CommitPosition) => Promise<void> | void;
  /**
   * Group commits at most this often, ms: a batch the runtime committed is resolved at once (the consumer fetches on)
   * and its offset goes to the group with the next commit due, with a timer for partitions that fall quiet and a
   * last commit at `close()`. Offsets still never run ahead of the acts a batch caused; a crash replays at most
   * this much more. Default 0: the group commits after every batch.
   */
  commitIntervalMs?: number;
  /** An existing client (shares its connections); default a client of its own. */
  kafka?: Kafka;
  /** SASL/TLS of the client built here when `kafka` is not given. */
  security?: KafkaSecurity;
}

/** Counters of a Kafka source (a live view). */
export interface KafkaSourceStats {
  batches: number;
  records: number;
  /** Records not delivered because they were processed already (below a processed position or checkpoint). */
  skipped: number;
  /** Group commits done (one may cover several partitions' batches when `commitIntervalMs` is set). */
  commits: number;
  /** Group commits refused because the group was rebalancing (the records stay processed locally). */
  commitsLost: number;
  inFlight: number;
  paused: boolean;
  pauses: number;
  /** Group joins seen (the first one included). */
  joins: number;
  /** Topic → partitions assigned at the last join. */
  assignment: Record<string, number[]>;
}

/** A Source over a kafkajs consumer group; batches carry raw bytes. */
export interface KafkaSource extends Source<Uint8Array> {
  readonly groupId: string;
  readonly stats: Readonly<KafkaSourceStats>;
}

const REBALANCE_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'NOT_COORDINATOR',
  'COORDINATOR_NOT_AVAILABLE',
  'FENCED_INSTANCE_ID',
]);

/** True for group errors that mean "the group moved on": the batch is replayed by whoever owns it next. */
export function isRebalanceError(err: unknown): boolean {
  const type = (err as { type?: unknown })?.type;
  return typeof type === 'string' && REBALANCE_ERRORS.has(type);
}

function headerText(value: IHeaders[string]): string | undefined {
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  if (last === undefined) return undefined;
  return typeof last === 'string' ? last : last.toString('utf8');
}

const EMPTY = new Uint8Array(0);

/** kafkajs headers as text (UTF-8; the last value of a repeated header). */
export function headersOf(raw: IHeaders | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw ?? {})) {
    const text = headerText(value);
    if (text !== undefined) headers[name] = text;
  }
  return headers;
}

/** A kafkajs message as a source record: bytes value (a tombstone is empty), utf-8 key and headers. */
export function toSourceRecord(topic: string, partition: number, message: KafkaMessage): SourceRecord<Uint8Array> {
  const headers = headersOf(message.headers);
  return {
    origin: { topic, partition, offset: message.offset },
    key: message.key === null || message.key === undefined ? null : message.key.toString('utf8'),
    value: message.value ?? EMPTY,
    timestampMs: Number(message.timestamp),
    headers,
  };
}

interface Signal {
  promise: Promise<void>;
  fire(): void;
}

function signal(): Signal {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { promise, fire };
}

/**
 * A Kafka source (kafkajs consumer group, `eachBatch` with auto-resolve off and auto-commit off). Each fetched
 * partition batch becomes one `SourceBatch`; `eachBatch` then waits (heartbeating) until the runtime calls
 * `commit()`, which it does once the batch's outputs were written and its stores flushed. Only then is the offset
 * resolved and committed for the group (last offset + 1): offsets never run ahead of the acts a batch caused. While
 * `maxInFlightBatches` batches wait, the consumer's partitions are paused. `close()` abandons waiting batches
 * uncommitted (they are delivered again to the next owner), stops the consumer and leaves the group.
 */
export function createKafkaSource(options: KafkaSourceOptions): KafkaSource {
  const topics = [...(options.topics ?? [])];
  if (topics.length === 0 || !topics.every((t) => typeof t === 'string' && t.length > 0)) {
    throw new ConfigError('Kafka source: at least one topic is required');
  }
  const groupId = options.groupId;
  if (typeof groupId !== 'string' || groupId.length === 0) throw new ConfigError('Kafka source: groupId is required');
  const name = options.name ?? `kafka:${topics.join(',')}`;
  const ledger = createBatchLedger({
    maxInFlightBatches: positiveInt(options.maxInFlightBatches ?? 4, 'Kafka source maxInFlightBatches'),
  });
  const heartbeatIntervalMs = positiveInt(options.heartbeatIntervalMs ?? 3000, 'Kafka source heartbeatIntervalMs');
  const commitIntervalMs = options.commitIntervalMs ?? 0;
  if (!Number.isInteger(commitIntervalMs) || commitIntervalMs < 0) {
    throw new ConfigError(`Kafka source: commitIntervalMs must be an integer >= 0, got ${commitIntervalMs}`);
  }
  const sessionTimeoutMs = positiveInt(options.sessionTimeoutMs ?? 10_000, 'Kafka source sessionTimeoutMs');
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new ConfigError('Kafka source: heartbeatIntervalMs must be below sessionTimeoutMs');
  }
  const kafka =
    options.kafka ??
    createKafkaClient({
      brokers: options.brokers,
      clientId: options.clientId ?? name,
      ...(options.security === undefined ? {} : { security: options.security }),
    });
  const stats: KafkaSourceStats = {
    batches: 0,
    records: 0,
    skipped: 0,
    commits: 0,
    commitsLost: 0,
    inFlight: 0,
    paused: false,
    pauses: 0,
    joins: 0,
    assignment: {},
  };
  const owned = (): number[] => [...new Set(Object.values(stats.assignment).flat())].sort((a, b) => a - b);
  const consumer: Consumer = kafka.consumer({
    groupId,
    partitionAssigners: options.partitionAssigners ?? [coPartitionedAssigner({ owned }), PartitionAssigners.roundRobin],
    sessionTimeout: sessionTimeoutMs,
    heartbeatInterval: heartbeatIntervalMs,
    maxWaitTimeInMs: positiveInt(options.maxWaitTimeMs ?? 500, 'Kafka source maxWaitTimeMs'),
    maxBytesPerPartition: positiveInt(options.maxBytesPerPartition ?? 1_048_576, 'Kafka source maxBytesPerPartition'),
    allowAutoTopicCreation: false,
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    stats.joins++;
    stats.assignment = Object.fromEntries(
      Object.entries(event.payload.memberAssignment).map(([t, ps]) => [t, [...ps].sort((a, b) => a - b)]),
    );
    // a position of a partition given up is the new owner's to commit: committing it later could move the group back
    for (const [key, { topic, partition }] of uncommitted) {
      if (!stats.assignment[topic]?.includes(partition)) uncommitted.delete(key);
    }
  });
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) fail(kafkaError(`Kafka source ${name}: consumer stopped`, event.payload.error));
  });

  let subscriber: Subscriber<SourceBatch<Uint8Array>> | null = null;
  let subscribed = signal();
  const closing = signal();
  let isClosing = false;
  let started: Promise<void> | undefined;
  let closed: Promise<void> | undefined;

  const fail = (err: unknown): void => {
    const s = subscriber;
    subscriber = null;
    s?.error(err);
  };

  const flow = (change: FlowChange): void => {
    stats.inFlight = ledger.inFlight;
    stats.paused = ledger.paused;
    if (change === undefined) return;
    const partitions = Object.entries(stats.assignment).map(([topic, ps]) => ({ topic, partitions: ps }));
    if (partitions.length === 0) return;
    try {
      if (change === 'pause') {
        stats.pauses++;
        consumer.pause(partitions);
      } else consumer.resume(partitions);
    } catch {
      // the consumer is stopping; nothing left to pause or resume
    }
  };

  const wait = async (until: Promise<void>, payload: EachBatchPayload): Promise<boolean> => {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<'tick'>((resolve) => {
        timer = setTimeout(() => resolve('tick'), heartbeatIntervalMs);
      });
      const outcome = await Promise.race([
        until.then(() => 'done' as const),
        closing.promise.then(() => 'closed' as const),
        tick,
      ]);
      clearTimeout(timer);
      if (outcome === 'closed') return false;
      if (outcome === 'done') return true;
      await payload.heartbeat().catch(() => undefined);
    }
  };

  /** Positions resolved and not yet committed for the group, by topic-partition (with `commitIntervalMs`). */
  const uncommitted = new Map<string, CommitPosition>();
  let lastCommitAt = Date.now();
  let commitTimer: NodeJS.Timeout | undefined;

  type CommitFn = (offsets: {
    topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
  }) => Promise<unknown> | unknown;

  const commitGroup = async (commit: CommitFn, positions: readonly CommitPosition[]): Promise<void> => {
    if (positions.length === 0) return;
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const { topic, partition, nextOffset: offset } of positions) {
      const list = byTopic.get(topic);
      if (list === undefined) byTopic.set(topic, [{ partition, offset }]);
      else list.push({ partition, offset });
    }
    lastCommitAt = Date.now();
    try {
      await commit({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
      stats.commits++;
    } catch (err) {
      const where = positions.map((p) => `${p.topic}/${p.partition}`).join(', ');
      if (!isRebalanceError(err)) throw kafkaError(`Kafka source ${name}: commit of ${where} failed`, err);
      stats.commitsLost++;
    }
  };

  /** Commits every resolved position waiting for the group (the map is emptied first: a later batch re-adds). */
  const commitUncommitted = (commit: CommitFn): Promise<void> => {
    const positions = [...uncommitted.values()];
    uncommitted.clear();
    return commitGroup(commit, positions);
  };

  const consumerCommit: CommitFn = (offsets) =>
    consumer.commitOffsets(offsets.topics.flatMap(({ topic, partitions }) => partitions.map((p) => ({ topic, ...p }))));

  const scheduleCommit = (): void => {
    if (commitTimer !== undefined || isClosing) return;
    commitTimer = setTimeout(() => {
      commitTimer = undefined;
      if (isClosing || uncommitted.size === 0) return;
      if (Date.now() - lastCommitAt < commitIntervalMs) {
        scheduleCommit();
        return;
      }
      commitUncommitted(consumerCommit).catch((err: unknown) => fail(err));
    }, commitIntervalMs);
    commitTimer.unref?.();
  };

  /** After a batch is resolved: commit now (no interval, or the interval is up) or leave it to the next commit. */
  const afterResolve = async (payload: EachBatchPayload, position: CommitPosition): Promise<void> => {
    if (commitIntervalMs === 0) return commitGroup(payload.commitOffsetsIfNecessary, [position]);
    uncommitted.set(topicPartitionKey(position.topic, position.partition), position);
    if (Date.now() - lastCommitAt >= commitIntervalMs) return commitUncommitted(payload.commitOffsetsIfNecessary);
    scheduleCommit();
  };

  const eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch } = payload;
    const { topic, partition } = batch;
    if (isClosing) return;
    const fresh = ledger.unprocessed(topic, partition, batch.messages, options.processedBelow?.(topic, partition));
    const position: CommitPosition = { topic, partition, nextOffset: nextOffset(batch.lastOffset()) };
    stats.skipped += batch.messages.length - fresh.length;
    if (fresh.length === 0) {
      payload.resolveOffset(batch.lastOffset());
      await afterResolve(payload, position);
      return;
    }
    while (subscriber === null) {
      if (!(await wait(subscribed.promise, payload))) return;
    }
    const target = subscriber;
    const requested = signal();
    const done = signal();
    let outcome: { error: unknown } | undefined;
    const committed = done.promise.then(() => {
      if (outcome !== undefined) throw outcome.error;
    });
    committed.catch(() => undefined);
    const records = fresh.map((m) => toSourceRecord(topic, partition, m));
    flow(ledger.open());
    try {
      stats.batches++;
      stats.records += records.length;
      target.next({
        topic,
        partition,
        records,
        commit: () => {
          requested.fire();
          return committed;
        },
      });
      if (!(await wait(requested.promise, payload))) {
        outcome = { error: new InfraError('CONNECTION_FAILED', `Kafka source ${name}: closed before the commit`) };
        return;
      }
      await options.beforeCommit?.(position);
      ledger.markProcessed(topic, partition, position.nextOffset);
      payload.resolveOffset(batch.lastOffset());
      if (isClosing) {
        if (commitIntervalMs > 0) uncommitted.set(topicPartitionKey(topic, partition), position);
        return;
      }
      await afterResolve(payload, position);
    } catch (err) {
      outcome = { error: err };
    } finally {
      done.fire();
      flow(ledger.settle());
    }
  };

  const start = async (): Promise<void> => {
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: options.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: ledger.maxInFlightBatches,
        eachBatch,
      });
    } catch (err) {
      fail(kafkaError(`Kafka source ${name}: cannot start consumer group ${groupId}`, err));
    }
  };

  const batches = new Observable<SourceBatch<Uint8Array>>((s) => {
    if (isClosing) {
      s.complete();
      return;
    }
    if (subscriber !== null) {
      s.error(new ProgrammerError(`${name}: batches() already has a subscriber`));
      return;
    }
    subscriber = s;
    subscribed.fire();
    started ??= start();
    return () => {
      if (subscriber !== s) return;
      subscriber = null;
      subscribed = signal();
    };
  });

  return {
    name,
    groupId,
    stats,
    batches: () => batches,
    close() {
      closed ??= (async () => {
        isClosing = true;
        closing.fire();
        if (commitTimer !== undefined) clearTimeout(commitTimer);
        await started;
        // the last commit of batches resolved since the previous one (best effort: the group may have moved on)
        await commitUncommitted(consumerCommit).catch(() => undefined);
        await consumer.disconnect().catch(() => undefined);
        const s = subscriber;
        subscriber = null;
        s?.complete();
      })();
      return closed;
    },
  };
}
