import type { Kafka, Message, Producer } from 'kafkajs';
import type { KafkaSecurity } from '../../core/config.js';
import { ProgrammerError } from '../../core/errors.js';
import type { Sink, SinkMessage } from '../../core/io.js';
import { createKafkaClient, kafkaError, positiveInt } from './kafka-client.js';

export interface KafkaSinkOptions {
  brokers: readonly string[];
  clientId?: string;
  /** Sink name (logs, stats); default `kafka`. */
  name?: string;
  /** Idempotent producer (acks from all in-sync replicas, one request in flight). Default true. */
  idempotent?: boolean;
  /** Broker-side wait for acks, ms. Default 30 000. */
  ackTimeoutMs?: number;
  /**
   * Writes that queue up while a send is in flight go out together, in order, in the next send (one produce request
   * for many writes under load; a failed send rejects all of them). Default false: one send per write. For a
   * producer whose writes are independent outputs (a processor's repartition and table writes); an engine's event
   * producer keeps one send per write, so the spacing of its events on the wire stays as the engine made it.
   */
  coalesce?: boolean;
  /** An existing client to build the producer from (shares its connections); default a client of its own. */
  kafka?: Kafka;
  /** SASL/TLS of the client built here when `kafka` is not given. */
  security?: KafkaSecurity;
}

/** Counters of a Kafka sink (a live view). */
export interface KafkaSinkStats {
  /** Completed `sendBatch` calls. */
  sends: number;
  /** Writes that went out merged into the `sendBatch` of an earlier write waiting with them. */
  merged: number;
  messages: number;
  tombstones: number;
}

/** A Sink writing Kafka records; a `null` value is a tombstone (compacted topics). */
export interface KafkaSink extends Sink<Uint8Array | null> {
  readonly stats: Readonly<KafkaSinkStats>;
  /** Connects the producer (otherwise the first write does). */
  connect(): Promise<void>;
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Groups messages by topic, keeping their order: one `sendBatch` carries them all. */
export function topicMessagesOf(messages: readonly SinkMessage<Uint8Array | null>[]): {
  topic: string;
  messages: Message[];
}[] {
  const byTopic = new Map<string, Message[]>();
  for (const m of messages) {
    if (m.value !== null && !(m.value instanceof Uint8Array)) {
      throw new ProgrammerError(`Kafka sink: value for ${m.destination} is neither bytes nor null (a tombstone)`);
    }
    let list = byTopic.get(m.destination);
    if (list === undefined) {
      list = [];
      byTopic.set(m.destination, list);
    }
    list.push({
      key: m.key,
      value: m.value === null ? null : toBuffer(m.value),
      ...(m.headers === undefined ? {} : { headers: { ...m.headers } }),
    });
  }
  return [...byTopic].map(([topic, list]) => ({ topic, messages: list }));
}

/**
 * A Kafka sink over one producer, idempotent by default (`maxInFlightRequests: 1`, acks from all in-sync replicas).
 * Writes are serialized: a write is sent once the previous one was acknowledged (concurrent sends on an idempotent
 * producer fail with out-of-order sequence errors), as one `sendBatch` grouping its messages by topic; with `coalesce`,
 * the writes that queued up while a send was in flight go out together, in order, in the next one. `write` resolves
 * once the broker acknowledged every message; a failure rejects every write of that send with an InfraError carrying
 * kafkajs's retriable verdict and does not block later writes.
 */
export function createKafkaSink(options: KafkaSinkOptions): KafkaSink {
  const idempotent = options.idempotent ?? true;
  const ackTimeoutMs = positiveInt(options.ackTimeoutMs ?? 30_000, 'Kafka sink ackTimeoutMs');
  const name = options.name ?? 'kafka';
  const coalesce = options.coalesce ?? false;
  const kafka =
    options.kafka ??
    createKafkaClient({
      brokers: options.brokers,
      clientId: options.clientId ?? name,
      ...(options.security === undefined ? {} : { security: options.security }),
    });
  const producer: Producer = kafka.producer(
    idempotent ? { idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false } : {},
  );
  const stats: KafkaSinkStats = { sends: 0, merged: 0, messages: 0, tombstones: 0 };
  let connecting: Promise<void> | undefined;
  let closed = false;
  let tail: Promise<unknown> = Promise.resolve();

  const connect = (): Promise<void> => {
    connecting ??= producer.connect().catch((err: unknown) => {
      connecting = undefined;
      throw kafkaError(`Kafka sink ${name}: cannot connect`, err);
    });
    return connecting;
  };

  const send = async (messages: readonly SinkMessage<Uint8Array | null>[]): Promise<void> => {
    const topicMessages = topicMessagesOf(messages);
    await connect();
    try {
      await producer.sendBatch({ topicMessages, acks: -1, timeout: ackTimeoutMs });
    } catch (err) {
      throw kafkaError(`Kafka sink ${name}: write of ${messages.length} messages failed`, err);
    }
    stats.sends++;
    stats.messages += messages.length;
    for (const m of messages) if (m.value === null) stats.tombstones++;
  };

  /** With `coalesce`: the write waiting for the send in flight, which later writes join. */
  let waiting: { messages: SinkMessage<Uint8Array | null>[]; done: Promise<void> } | null = null;

  return {
    name,
    stats,
    connect,
    write(messages) {
      if (closed) return Promise.reject(new ProgrammerError(`Kafka sink ${name}: write after close`));
      if (messages.length === 0) return Promise.resolve();
      if (waiting !== null) {
        waiting.messages.push(...messages);
        stats.merged++;
        return waiting.done;
      }
      const batch = [...messages];
      const done = tail.then(() => {
        if (waiting?.messages === batch) waiting = null;
        return send(batch);
      });
      if (coalesce) waiting = { messages: batch, done };
      tail = done.catch(() => undefined);
      return done;
    },
    async close() {
      if (closed) return;
      closed = true;
      await tail;
      if (connecting !== undefined) await producer.disconnect().catch(() => undefined);
    },
  };
}
