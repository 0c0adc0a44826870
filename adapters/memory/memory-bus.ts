import { Observable, type Subscriber } from 'rxjs';
import { ConfigError, ProgrammerError } from '../../core/errors.js';
import type {
  Origin,
  Scheduler,
  Sink,
  SinkMessage,
  Source,
  SourceBatch,
  SourceRecord,
  SubjectMessage,
  Unsubscribe,
} from '../../core/io.js';
import { partitionOfKey } from './murmur2.js';
import { compileSubjectPattern, type SubjectMatcher } from './subject-match.js';

/**
 * The in-memory twin of Kafka + NATS (DESIGN §5): Kafka-like topics (key → partition by Kafka's murmur2, offsets per
 * partition, a retained log that a new source can replay, committed offsets per consumer group) and NATS-like
 * subjects for acts, delivered through the scheduler `actDelayMs` after they are written. Everything runs
 * synchronously on the caller's stack: publishing a record runs the consuming topology before `publish` returns.
 * Deterministic: the same calls in the same order give the same deliveries.
 */
export interface MemoryBus {
  readonly mode: 'values' | 'bytes';
  readonly partitions: number;
  /** Appends one record (a producer); returns where it landed. */
  publish(topic: string, key: string | null, value: unknown, options?: PublishOptions): Origin;
  /** A consumer of `topics` in group `groupId`: starts at the group's committed offsets (else beginning or end). */
  source(topics: string | readonly string[], options?: MemorySourceOptions): Source<unknown>;
  /** Writes to topics (appended to the log) and to subjects matching the bus's subject patterns (delivered later). */
  sink(name?: string): Sink<unknown>;
  /** NATS-like subscription; `*` and `>` wildcards. */
  subscribe(pattern: string, handler: (message: SubjectMessage<unknown>) => void): Unsubscribe;
  /** Retained records of a topic, in append order (all partitions, or one). */
  read(topic: string, partition?: number): SourceRecord<unknown>[];
  /** Next offset of every partition of `topic`. */
  endOffsets(topic: string): number[];
  /** Committed next offset of every partition of `topic` for `groupId` (undefined where none). */
  committed(groupId: string, topic: string): (number | undefined)[];
  /** Partition of a key on this bus (Kafka's default partitioner). */
  partitionFor(key: string): number;
}

export interface MemoryBusOptions {
  scheduler: Scheduler;
  /** Delay between writing an act to a subject and delivering it to subscribers, in scheduler ms. Default 0. */
  actDelayMs?: number;
  /** Partitions of every topic. Default 12. */
  partitions?: number;
  /** `values`: records and messages are plain values (no codecs); `bytes`: they must be Uint8Array. */
  mode?: 'values' | 'bytes';
  /** Destinations matching one of these are subjects, the rest topics. Default `['cachesage.act.>']`. */
  subjects?: readonly string[];
  /** Most records per delivered batch when a source catches up on the log. Default 500. */
  maxBatchRecords?: number;
  /**
   * Drop a record from the log once it is delivered (a long simulation with one consumer per topic that never replays
   * keeps memory flat). Such a bus refuses a second source on a topic, and `read` returns only undelivered records.
   * Default false: the whole log is retained.
   */
  releaseDelivered?: boolean;
}

export interface PublishOptions {
  headers?: Record<string, string>;
  /** Record time; default the scheduler's now. */
  timestampMs?: number;
}

export interface MemorySourceOptions {
  /** Consumer group whose committed offsets the source resumes from and commits to. Default `cachesage`. */
  groupId?: string;
  /** Where to start a partition the group has no committed offset for. Default false (the end, as Kafka). */
  fromBeginning?: boolean;
  /** Partitions to read (the same numbers in every topic); default all. */
  partitions?: readonly number[];
  name?: string;
}

interface Entry {
  record: SourceRecord<unknown>;
  /** Bus-wide append order: a source catching up replays topics interleaved as they were written. */
  seq: number;
}

interface Cursor {
  topic: string;
  partition: number;
  log: Entry[];
  next: number;
}

interface Consumer {
  groupId: string;
  topics: ReadonlySet<string>;
  cursors: Cursor[];
  subscriber: Subscriber<SourceBatch<unknown>> | null;
  pumping: boolean;
  dirty: boolean;
}

interface Subscription {
  matches: SubjectMatcher;
  handler: (message: SubjectMessage<unknown>) => void;
  active: boolean;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

const RELEASED: SourceRecord<unknown> = Object.freeze({
  origin: Object.freeze({ topic: '', partition: -1, offset: '-1' }),
  key: null,
  value: undefined,
  timestampMs: 0,
  headers: NO_HEADERS,
});

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(`memory bus: ${name} must be a positive integer`);
  return value;
}

export function createMemoryBus(options: MemoryBusOptions): MemoryBus {
  const { scheduler } = options;
  if (typeof scheduler?.now !== 'function' || typeof scheduler.schedule !== 'function') {
    throw new ConfigError('memory bus: a scheduler is required');
  }
  const actDelayMs = options.actDelayMs ?? 0;
  if (!(Number.isFinite(actDelayMs) && actDelayMs >= 0)) throw new ConfigError('memory bus: actDelayMs must be >= 0');
  const partitions = positiveInt(options.partitions ?? 12, 'partitions');
  const maxBatchRecords = positiveInt(options.maxBatchRecords ?? 500, 'maxBatchRecords');
  const releaseDelivered = options.releaseDelivered ?? false;
  const mode = options.mode ?? 'values';
  if (mode !== 'values' && mode !== 'bytes') throw new ConfigError('memory bus: mode must be values or bytes');
  const subjectMatchers = (options.subjects ?? ['cachesage.act.>']).map(compileSubjectPattern);

  const topics = new Map<string, Entry[][]>();
  const roundRobin = new Map<string, number>();
  const keyPartition = new Map<string, number>();
  const committedOffsets = new Map<string, Map<string, (number | undefined)[]>>();
  const consumers = new Set<Consumer>();
  const subscriptions: Subscription[] = [];
  let seq = 0;

  const logOf = (topic: string): Entry[][] => {
    let log = topics.get(topic);
    if (log === undefined) {
      if (typeof topic !== 'string' || topic.length === 0) throw new ProgrammerError('memory bus: empty topic name');
      log = Array.from({ length: partitions }, () => []);
      topics.set(topic, log);
    }
    return log;
  };
  const partitionFor = (key: string): number => {
    let p = keyPartition.get(key);
    if (p === undefined) {
      p = partitionOfKey(key, partitions);
      keyPartition.set(key, p);
    }
    return p;
  };
  const checkValue = (value: unknown, where: string): void => {
    if (mode === 'bytes' && !(value instanceof Uint8Array)) {
      throw new ProgrammerError(`memory bus (bytes mode): value for ${where} is not a Uint8Array`);
    }
  };
  const committedOf = (groupId: string, topic: string): (number | undefined)[] => {
    let group = committedOffsets.get(groupId);
    if (group === undefined) {
      group = new Map();
      committedOffsets.set(groupId, group);
    }
    let offsets = group.get(topic);
    if (offsets === undefined) {
      offsets = new Array(partitions).fill(undefined);
      group.set(topic, offsets);
    }
    return offsets;
  };

  const pump = (consumer: Consumer): void => {
    consumer.dirty = true;
    if (consumer.pumping) return;
    consumer.pumping = true;
    try {
      while (consumer.dirty && consumer.subscriber !== null) {
        consumer.dirty = false;
        deliverBacklog(consumer);
      }
    } finally {
      consumer.pumping = false;
    }
  };

  const deliverBacklog = (consumer: Consumer): void => {
    for (;;) {
      let first: Cursor | undefined;
      let firstSeq = Number.POSITIVE_INFINITY;
      let secondSeq = Number.POSITIVE_INFINITY;
      for (const c of consumer.cursors) {
        const entry = c.log[c.next];
        if (entry === undefined) continue;
        if (entry.seq < firstSeq) {
          secondSeq = firstSeq;
          firstSeq = entry.seq;
          first = c;
        } else if (entry.seq < secondSeq) secondSeq = entry.seq;
      }
      const subscriber = consumer.subscriber;
      if (first === undefined || subscriber === null) return;
      const records: SourceRecord<unknown>[] = [];
      const from = first.next;
      while (records.length < maxBatchRecords) {
        const entry = first.log[first.next];
        if (entry === undefined || entry.seq > secondSeq) break;
        records.push(entry.record);
        first.next++;
      }
      if (releaseDelivered) {
        for (let k = from; k < first.next; k++) first.log[k] = { seq: first.log[k]!.seq, record: RELEASED };
      }
      subscriber.next(batchOf(consumer, first, records));
    }
  };

  const batchOf = (consumer: Consumer, cursor: Cursor, records: SourceRecord<unknown>[]): SourceBatch<unknown> => {
    const last = Number(records[records.length - 1]!.origin.offset);
    const { groupId } = consumer;
    return {
      topic: cursor.topic,
      partition: cursor.partition,
      records,
      commit: () => {
        const offsets = committedOf(groupId, cursor.topic);
        const current = offsets[cursor.partition];
        if (current === undefined || current < last + 1) offsets[cursor.partition] = last + 1;
      },
    };
  };

  const append = (topic: string, key: string | null, value: unknown, publish: PublishOptions = {}): Origin => {
    const log = logOf(topic);
    let partition: number;
    if (key === null) {
      partition = roundRobin.get(topic) ?? 0;
      roundRobin.set(topic, (partition + 1) % partitions);
    } else partition = partitionFor(key);
    const entries = log[partition]!;
    const origin: Origin = { topic, partition, offset: String(entries.length) };
    entries.push({
      record: {
        origin,
        key,
        value,
        timestampMs: publish.timestampMs ?? scheduler.now(),
        headers: publish.headers ?? NO_HEADERS,
      },
      seq: seq++,
    });
    for (const consumer of consumers) {
      if (consumer.subscriber !== null && consumer.topics.has(topic)) pump(consumer);
    }
    return origin;
  };

  const deliverSubject = (message: SinkMessage<unknown>): void => {
    const delivered: SubjectMessage<unknown> = {
      subject: message.destination,
      value: message.value,
      headers: message.headers ?? NO_HEADERS,
    };
    scheduler.schedule(scheduler.now() + actDelayMs, () => {
      for (const s of subscriptions.slice()) {
        if (s.active && s.matches(delivered.subject)) s.handler(delivered);
      }
    });
  };

  const isSubject = (destination: string): boolean => subjectMatchers.some((m) => m(destination));

  return {
    mode,
    partitions,
    partitionFor,
    publish(topic, key, value, publishOptions) {
      checkValue(value, topic);
      return append(topic, key, value, publishOptions);
    },
    source(topicList, sourceOptions = {}) {
      const names = typeof topicList === 'string' ? [topicList] : [...topicList];
      if (names.length === 0) throw new ConfigError('memory source: no topics');
      const groupId = sourceOptions.groupId ?? 'cachesage';
      const assigned = sourceOptions.partitions ?? Array.from({ length: partitions }, (_, i) => i);
      for (const p of assigned) {
        if (!Number.isInteger(p) || p < 0 || p >= partitions) throw new ConfigError(`memory source: no partition ${p}`);
      }
      if (releaseDelivered) {
        for (const c of consumers) {
          if (names.some((t) => c.topics.has(t))) {
            throw new ConfigError('memory bus (releaseDelivered): one consumer per topic');
          }
        }
      }
      const consumer: Consumer = {
        groupId,
        topics: new Set(names),
        cursors: [],
        subscriber: null,
        pumping: false,
        dirty: false,
      };
      const name = sourceOptions.name ?? `memory:${names.join(',')}`;
      let closed = false;
      const batches = new Observable<SourceBatch<unknown>>((subscriber) => {
        if (closed) {
          subscriber.complete();
          return;
        }
        if (consumer.subscriber !== null) {
          subscriber.error(new ProgrammerError(`${name}: batches() already has a subscriber`));
          return;
        }
        consumer.cursors = names.flatMap((topic) => {
          const log = logOf(topic);
          const offsets = committedOf(groupId, topic);
          return assigned.map((partition) => ({
            topic,
            partition,
            log: log[partition]!,
            next: offsets[partition] ?? (sourceOptions.fromBeginning ? 0 : log[partition]!.length),
          }));
        });
        consumer.subscriber = subscriber;
        consumers.add(consumer);
        pump(consumer);
        return () => {
          consumer.subscriber = null;
          consumers.delete(consumer);
        };
      });
      return {
        name,
        batches: () => batches,
        close: async () => {
          closed = true;
          const subscriber = consumer.subscriber;
          consumer.subscriber = null;
          consumers.delete(consumer);
          subscriber?.complete();
        },
      };
    },
    sink(name = 'memory') {
      return {
        name,
        write(messages) {
          for (const m of messages) {
            checkValue(m.value, m.destination);
            if (isSubject(m.destination)) deliverSubject(m);
            else append(m.destination, m.key, m.value, m.headers === undefined ? {} : { headers: m.headers });
          }
        },
        close: async () => {},
      };
    },
    subscribe(pattern, handler) {
      const s: Subscription = { matches: compileSubjectPattern(pattern), handler, active: true };
      subscriptions.push(s);
      return () => {
        if (!s.active) return;
        s.active = false;
        subscriptions.splice(subscriptions.indexOf(s), 1);
      };
    },
    read(topic, partition) {
      const log = topics.get(topic);
      if (log === undefined) return [];
      const entries = partition === undefined ? log.flat().sort((a, b) => a.seq - b.seq) : (log[partition] ?? []);
      return entries.filter((e) => e.record !== RELEASED).map((e) => e.record);
    },
    endOffsets: (topic) => (topics.get(topic) ?? Array.from({ length: partitions }, () => [])).map((p) => p.length),
    committed: (groupId, topic) => [...committedOf(groupId, topic)],
  };
}

/** One bus source per source node of a topology, reading that node's topics: `startTopology`'s `sources`. */
export function memorySources(
  bus: MemoryBus,
  topology: { sources: readonly { name: string; topics: readonly string[] }[] },
  options: MemorySourceOptions = {},
): Record<string, Source<unknown>> {
  return Object.fromEntries(
    topology.sources.map((s) => [s.name, bus.source(s.topics, { ...options, name: `${s.name}@memory` })]),
  );
}
