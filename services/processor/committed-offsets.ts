import type { Kafka } from 'kafkajs';
import { kafkaError } from '../../adapters/kafka/kafka-client.js';

/** Offsets by `topic|partition`. */
export type OffsetTable = Map<string, bigint>;

export function offsetKey(topic: string, partition: number): string {
  return `${topic}|${partition}`;
}

/** The group's committed offsets (next offset to read) of every partition that has one. */
export async function fetchCommittedOffsets(
  kafka: Kafka,
  groupId: string,
  topics: readonly string[],
): Promise<OffsetTable> {
  const admin = kafka.admin();
  const out: OffsetTable = new Map();
  try {
    await admin.connect();
    const list = await admin.fetchOffsets({ groupId, topics: [...topics] });
    for (const { topic, partitions } of list) {
      for (const { partition, offset } of partitions) {
        const n = BigInt(offset);
        if (n >= 0n) out.set(offsetKey(topic, partition), n);
      }
    }
    return out;
  } catch (err) {
    throw kafkaError(`cannot fetch the committed offsets of group ${groupId}`, err);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** End offsets (high watermarks) of every partition of the topics. */
export async function fetchEndOffsets(kafka: Kafka, topics: readonly string[]): Promise<OffsetTable> {
  const admin = kafka.admin();
  const out: OffsetTable = new Map();
  try {
    await admin.connect();
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) out.set(offsetKey(topic, o.partition), BigInt(o.high));
    }
    return out;
  } catch (err) {
    throw kafkaError(`cannot fetch the end offsets of ${topics.join(', ')}`, err);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
