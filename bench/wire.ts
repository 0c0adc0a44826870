import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import type { SimEvent } from '../adapters/engine-sim/engine-sim.js';
import { partitionOfKey } from '../adapters/memory/murmur2.js';
import { ensureTopics } from '../infra/kafka/ensure-topics.js';
import type { TopicSpec } from '../infra/topics.js';
import { createCodec } from '../schemas/codec.js';

/**
 * The topics of one measurement: the co-partitioned event topics (keyed by engineId), the dead-letter topic, and the
 * processor's session-keyed topics (requests repartitioned by session, positions, the shared model).
 */
export interface EventTopics {
  kv: string;
  requests: string;
  dlq: string;
  sessionsRepartition: string;
  sessions: string;
  model: string;
  partitions: number;
}

/** Every topic name of a measurement. */
export function topicNames(t: EventTopics): string[] {
  return [t.kv, t.requests, t.dlq, t.sessionsRepartition, t.sessions, t.model];
}

/** One encoded event as an engine publishes it. */
export interface WireEvent {
  topic: 'kv' | 'requests';
  key: string;
  value: Buffer;
  /** Blocks the event carries (a KvEvent's hashes; 0 for request events). */
  blocks: number;
  /** Event time (ms). */
  ts: number;
  eventId: string;
}

/** A recorded stream, Avro-encoded (Confluent framing), in publish order. */
export interface WireStream {
  events: WireEvent[];
  kvEvents: number;
  requestEvents: number;
  kvBlocks: number;
  meanKvBytes: number;
  meanRequestBytes: number;
  engineIds: string[];
}

/** A name no earlier measurement used: `<prefix>-<time>-<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * `count` engine ids spread evenly over `partitions` (engine i on partition i mod partitions), so that processors
 * sharing the partitions get equal work.
 */
export function spreadEngineIds(count: number, partitions: number, prefix = 'engine'): string[] {
  const ids: string[] = [];
  for (let i = 0, n = 0; ids.length < count; n++) {
    const id = `${prefix}-${n}`;
    if (partitionOfKey(id, partitions) === i % partitions) {
      ids.push(id);
      i++;
    }
  }
  return ids;
}

/** Encoded events are packed into slabs of this size (one small buffer each would waste much of a pool slab). */
const SLAB_BYTES = 32 * 1024 * 1024;

/** Encodes events one at a time into a wire stream (the events themselves are not kept). */
export interface StreamEncoder {
  add(event: SimEvent): void;
  finish(): WireStream;
}

export function createStreamEncoder(): StreamEncoder {
  const kvCodec = createCodec('KvEvent');
  const requestCodec = createCodec('RequestEvent');
  const out: WireEvent[] = [];
  let kvBytes = 0;
  let requestBytes = 0;
  let kvBlocks = 0;
  let kvEvents = 0;
  const engines = new Set<string>();
  let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  let used = 0;
  const keep = (encoded: Buffer): Buffer => {
    if (used + encoded.length > slab.length) {
      slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, encoded.length));
      used = 0;
    }
    encoded.copy(slab, used);
    used += encoded.length;
    return slab.subarray(used - encoded.length, used);
  };
  return {
    add(e) {
      engines.add(e.engineId);
      if ('kind' in e) {
        const value = keep(kvCodec.encode(e));
        kvBytes += value.length;
        kvBlocks += e.blockHashes.length;
        kvEvents++;
        out.push({ topic: 'kv', key: e.engineId, value, blocks: e.blockHashes.length, ts: e.ts, eventId: e.eventId });
      } else {
        const value = keep(requestCodec.encode(e));
        requestBytes += value.length;
        out.push({ topic: 'requests', key: e.engineId, value, blocks: 0, ts: e.ts, eventId: e.eventId });
      }
    },
    finish() {
      const requestEvents = out.length - kvEvents;
      return {
        events: out,
        kvEvents,
        requestEvents,
        kvBlocks,
        meanKvBytes: kvEvents === 0 ? 0 : kvBytes / kvEvents,
        meanRequestBytes: requestEvents === 0 ? 0 : requestBytes / requestEvents,
        engineIds: [...engines],
      };
    },
  };
}

/** Encodes a recorded stream with the layer's Avro codecs. */
export function encodeStream(events: readonly SimEvent[]): WireStream {
  const encoder = createStreamEncoder();
  for (const e of events) encoder.add(e);
  return encoder.finish();
}

export function kafkaClient(brokers: readonly string[], clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING });
}

/** Creates fresh topics for one measurement. */
export async function createEventTopics(
  brokers: readonly string[],
  prefix: string,
  partitions: number,
): Promise<EventTopics> {
  const topics: EventTopics = {
    kv: uniqueName(`${prefix}.kv-events`),
    requests: uniqueName(`${prefix}.requests`),
    dlq: uniqueName(`${prefix}.dlq`),
    sessionsRepartition: uniqueName(`${prefix}.sessions-repartition`),
    sessions: uniqueName(`${prefix}.sessions`),
    model: uniqueName(`${prefix}.model`),
    partitions,
  };
  const spec = (name: string, n: number, compact = false): TopicSpec => ({
    name,
    partitions: n,
    config: compact
      ? { 'cleanup.policy': 'compact' }
      : ({ 'cleanup.policy': 'delete', 'retention.ms': '3600000' } as Record<string, string>),
    purpose: 'benchmark',
    retention: '1 hour',
    internal: true,
  });
  await ensureTopics({
    brokers: [...brokers],
    partitions,
    topics: [
      spec(topics.kv, partitions),
      spec(topics.requests, partitions),
      spec(topics.dlq, 1),
      spec(topics.sessionsRepartition, partitions),
      spec(topics.sessions, partitions, true),
      spec(topics.model, partitions, true),
    ],
  });
  return topics;
}

/** Deletes topics a measurement created (missing ones are ignored). */
export async function deleteTopics(brokers: readonly string[], names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const admin = kafkaClient(brokers, 'cachesage-bench-admin').admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const topics = names.filter((n) => existing.has(n));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  } catch {
    // cleanup is best effort: a leftover topic only costs disk until its retention
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The producer engines publish with (the Kafka sink's settings: idempotent, one request in flight, acks all). */
export async function connectProducer(brokers: readonly string[], clientId: string): Promise<Producer> {
  const producer = kafkaClient(brokers, clientId).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  return producer;
}

/** Sends events in order, `chunk` messages per `sendBatch`, waiting for each acknowledgement. */
export async function produceAll(
  producer: Producer,
  topics: EventTopics,
  events: readonly WireEvent[],
  chunk = 500,
): Promise<void> {
  for (let i = 0; i < events.length; i += chunk) {
    await producer.sendBatch({ topicMessages: topicMessagesOf(topics, events.slice(i, i + chunk)), acks: -1 });
  }
}

/** Events grouped by topic, order kept within each. */
export function topicMessagesOf(
  topics: EventTopics,
  events: readonly { topic: 'kv' | 'requests'; key: string; value: Buffer }[],
): { topic: string; messages: Message[] }[] {
  const kv: Message[] = [];
  const requests: Message[] = [];
  for (const e of events) (e.topic === 'kv' ? kv : requests).push({ key: e.key, value: e.value });
  const out: { topic: string; messages: Message[] }[] = [];
  if (kv.length > 0) out.push({ topic: topics.kv, messages: kv });
  if (requests.length > 0) out.push({ topic: topics.requests, messages: requests });
  return out;
}
