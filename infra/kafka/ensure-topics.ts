import { type Admin, Kafka, logLevel } from 'kafkajs';
import { kafkaSecurityConfig } from '../../adapters/kafka/kafka-client.js';
import type { KafkaSecurity } from '../../core/config.js';
import { CacheSageError, ConfigError, InfraError } from '../../core/errors.js';
import { coPartitionedTopics, topics as registry, type TopicSpec } from '../topics.js';

export interface EnsureTopicsOptions {
  brokers: string[];
  /** Partition count of `default` topics (the co-partitioned event topics). */
  partitions: number;
  /** Topics to ensure; default the registry (`infra/topics.ts`). */
  topics?: readonly TopicSpec[];
  /** Connection and request timeout; default 10 000. */
  timeoutMs?: number;
  /** SASL/TLS; default none. */
  security?: KafkaSecurity;
}

/** A topic that exists with another partition count than asked; left as it is (more partitions would remap keys). */
export interface PartitionMismatch {
  topic: string;
  actual: number;
  wanted: number;
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  partitionMismatches: PartitionMismatch[];
}

/** Errors a broker gives while a just-created topic's metadata is still spreading. */
const NOT_YET_KNOWN = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/** The topics' metadata, asked again (25 ms, doubling to 1 s) while the broker does not know them yet. */
async function metadataOnceKnown(
  admin: Admin,
  topics: string[],
  timeoutMs: number,
): Promise<Awaited<ReturnType<Admin['fetchTopicMetadata']>>> {
  const deadline = Date.now() + timeoutMs;
  for (let waitMs = 25; ; waitMs = Math.min(1000, waitMs * 2)) {
    try {
      return await admin.fetchTopicMetadata({ topics });
    } catch (err) {
      const type = (err as { type?: string }).type;
      if (type === undefined || !NOT_YET_KNOWN.has(type) || Date.now() + waitMs > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}

/**
 * Creates the topics that do not exist yet; existing topics are left untouched. Idempotent and safe to run
 * concurrently. Fails when co-partitioned topics (kv-events and requests) end up with different partition counts.
 */
export async function ensureTopics(options: EnsureTopicsOptions): Promise<EnsureTopicsResult> {
  const { brokers, partitions } = options;
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new ConfigError(`ensureTopics: partitions must be an integer >= 1, got ${partitions}`);
  }
  if (brokers.length === 0) throw new ConfigError('ensureTopics: at least one broker is required');
  const specs = options.topics ?? registry;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const wanted = new Map(
    specs.map((spec) => [spec.name, spec.partitions === 'default' ? partitions : spec.partitions]),
  );
  const admin = new Kafka({
    clientId: 'cachesage-topics',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 3 },
    ...kafkaSecurityConfig(options.security),
  }).admin();
  try {
    await admin.connect();
    const before = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !before.has(spec.name));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        timeout: timeoutMs,
        topics: missing.map((spec) => ({
          topic: spec.name,
          numPartitions: wanted.get(spec.name),
          configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    const names = specs.map((spec) => spec.name);
    const grouped = coPartitionedTopics.map((group) => group.filter((name) => wanted.has(name)));
    const metadata = await metadataOnceKnown(admin, [...new Set([...names, ...grouped.flat()])], timeoutMs);
    const actual = new Map(metadata.topics.map((topic) => [topic.name, topic.partitions.length]));
    for (const group of grouped) {
      const counts = new Set(group.map((name) => actual.get(name)));
      if (counts.size > 1) {
        throw new InfraError(
          'TOPOLOGY_INVALID',
          `co-partitioned topics have different partition counts: ${group.map((n) => `${n}=${actual.get(n)}`).join(', ')}; ` +
            'delete them (or recreate them with the same count) so that one engine maps to one partition number',
        );
      }
    }
    return {
      created: missing.map((spec) => spec.name),
      existing: names.filter((name) => before.has(name)),
      partitionMismatches: names
        .map((topic) => ({ topic, actual: actual.get(topic) ?? 0, wanted: wanted.get(topic) ?? 0 }))
        .filter((m) => m.actual !== m.wanted),
    };
  } catch (err) {
    if (err instanceof CacheSageError) throw err;
    throw new InfraError(
      'CONNECTION_FAILED',
      `could not ensure topics on ${brokers.join(',')}: ${(err as Error).message}`,
      {
        retriable: true,
        cause: err,
      },
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
