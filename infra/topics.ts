/**
 * The registry of every Kafka topic, JetStream stream and KV bucket the layer uses. `cachesage topics create`
 * creates them all; modules that need another topic add an entry here (or, for a state store, use
 * `changelogTopic`). Pure data: no client imports.
 */

import { ConfigError } from '../core/errors.js';

/** One Kafka topic. */
export interface TopicSpec {
  name: string;
  /** A fixed count, or `default`: the configured partition count (co-partitioned topics use it). */
  partitions: number | 'default';
  /** Topic-level configs passed to CreateTopics. */
  config: Readonly<Record<string, string>>;
  /** What the topic carries and how it is keyed. */
  purpose: string;
  /** Retention in words (README table). */
  retention: string;
  /** True for topics only the runtime reads and writes (repartition, changelog). */
  internal: boolean;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const GIB = 1024 ** 3;

const compacted = {
  'cleanup.policy': 'compact',
  'segment.ms': String(HOUR_MS),
  'min.cleanable.dirty.ratio': '0.1',
  'delete.retention.ms': String(DAY_MS),
} as const;

export const KV_EVENTS_TOPIC = 'cachesage.kv-events';
export const REQUESTS_TOPIC = 'cachesage.requests';
export const MODEL_TOPIC = 'cachesage.model';
export const SESSIONS_TOPIC = 'cachesage.sessions';
export const DLQ_TOPIC = 'cachesage.dlq';
export const SESSIONS_REPARTITION_TOPIC = 'cachesage.sessions-repartition';

/** Every Kafka topic `topics create` makes. */
export const topics: readonly TopicSpec[] = [
  {
    name: KV_EVENTS_TOPIC,
    partitions: 'default',
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS), 'retention.bytes': String(GIB) },
    purpose: 'engine KV-cache events (BlockStored/BlockRemoved/AllBlocksCleared), key engineId',
    retention: '7 days or 1 GiB per partition',
    internal: false,
  },
  {
    name: REQUESTS_TOPIC,
    partitions: 'default',
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS), 'retention.bytes': String(GIB) },
    purpose: 'request lifecycle events tagged with agent/session, key engineId; co-partitioned with kv-events',
    retention: '7 days or 1 GiB per partition',
    internal: false,
  },
  {
    name: MODEL_TOPIC,
    partitions: 'default',
    config: compacted,
    purpose: 'learned transition counts, key (workloadId, source partition), with the offset they cover',
    retention: 'compacted: latest value per key kept forever',
    internal: false,
  },
  {
    name: SESSIONS_TOPIC,
    partitions: 'default',
    config: compacted,
    purpose: 'session positions (current agent, step end), key sessionId; tombstones expire idle sessions',
    retention: 'compacted: latest value per key; tombstones kept 1 day',
    internal: false,
  },
  {
    name: DLQ_TOPIC,
    partitions: 1,
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(14 * DAY_MS) },
    purpose: 'dead letters: records a stage could not process, with the reason and origin in headers',
    retention: '14 days',
    internal: false,
  },
  {
    name: SESSIONS_REPARTITION_TOPIC,
    partitions: 'default',
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(DAY_MS) },
    purpose: 'request events re-keyed by sessionId for the session sub-topology',
    retention: '1 day',
    internal: true,
  },
];

/** Topics that must have the same partition count (same key, same partitioner): engine sub-topology inputs. */
export const coPartitionedTopics: readonly (readonly string[])[] = [[KV_EVENTS_TOPIC, REQUESTS_TOPIC]];

const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Name of a state store's changelog topic: `cachesage.<app>.<store>-changelog`. */
export function changelogTopic(app: string, store: string): string {
  for (const [what, part] of [
    ['app', app],
    ['store', store],
  ] as const) {
    if (!LEGAL.test(part))
      throw new ConfigError(`changelog ${what} name must match ${LEGAL}, got ${JSON.stringify(part)}`);
  }
  const name = `cachesage.${app}.${store}-changelog`;
  if (name.length > 249) throw new ConfigError(`changelog topic name is longer than 249 characters: ${name}`);
  return name;
}

/** A compacted changelog topic for a state store (co-partitioned with the store's input by default). */
export function changelogTopicSpec(
  app: string,
  store: string,
  partitions: TopicSpec['partitions'] = 'default',
): TopicSpec {
  return {
    name: changelogTopic(app, store),
    partitions,
    config: compacted,
    purpose: `changelog of state store ${store} of ${app}`,
    retention: 'compacted: latest value per key kept forever',
    internal: true,
  };
}

/** One JetStream stream. */
export interface StreamSpec {
  name: string;
  /** One subject filter per stream keeps it NATS 2.9 compatible. */
  subjects: string[];
  /** Window in which a repeated `Nats-Msg-Id` is dropped. */
  duplicateWindowMs: number;
  /** Messages older than this are removed. */
  maxAgeMs: number;
  purpose: string;
}

/** One JetStream KV bucket. */
export interface KvBucketSpec {
  name: string;
  /** Values kept per key. */
  history: number;
  /** Entry lifetime; 0 keeps entries until deleted. */
  ttlMs: number;
  purpose: string;
}

export const ACTS_STREAM = 'CACHESAGE_ACTS';
export const OWNERS_BUCKET = 'cachesage-owners';

/** Every JetStream stream `topics create` makes. */
export const streams: readonly StreamSpec[] = [
  {
    name: ACTS_STREAM,
    subjects: ['cachesage.cmd.>'],
    duplicateWindowMs: 2 * 60_000,
    maxAgeMs: DAY_MS,
    purpose: 'commands that must not be lost (at-least-once, deduplicated by Nats-Msg-Id)',
  },
];

/** Every JetStream KV bucket `topics create` makes. */
export const kvBuckets: readonly KvBucketSpec[] = [
  {
    name: OWNERS_BUCKET,
    history: 1,
    ttlMs: 0,
    purpose: 'ownership of engines/sessions and checkpoints (compare-and-set)',
  },
];
