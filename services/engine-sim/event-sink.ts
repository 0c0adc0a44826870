import type { SimEvent } from '../../adapters/engine-sim/engine-sim.js';
import type { KafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { ProgrammerError } from '../../core/errors.js';
import type { Sink, SinkMessage } from '../../core/io.js';
import { KV_EVENTS_TOPIC, REQUESTS_TOPIC } from '../../infra/topics.js';
import { createCodec } from '../../schemas/codec.js';
import type { KvEvent, RequestEvent } from '../../schemas/types.js';

/** Counters of an engine's event sink (a live view). */
export interface EngineEventStats {
  kvEvents: number;
  requestEvents: number;
  /** Writes acknowledged by Kafka. */
  writes: number;
}

export interface EngineEventSink extends Sink<SimEvent> {
  readonly stats: Readonly<EngineEventStats>;
}

export interface EngineEventSinkOptions {
  /** Where the Avro records go (key engineId); left open by `close()`. */
  kafka: KafkaSink;
  kvEventsTopic?: string;
  requestsTopic?: string;
}

/** Event and produce times as whole ms (Avro longs); the simulator's clock has fractions of a ms. */
function wholeMs<E extends { ts: number; producedAt: number }>(event: E): E {
  return Number.isInteger(event.ts) && Number.isInteger(event.producedAt)
    ? event
    : { ...event, ts: Math.round(event.ts), producedAt: Math.round(event.producedAt) };
}

/**
 * The simulated engine's event edge on Kafka: KvEvents and RequestEvents as Avro (Confluent framing), key engineId,
 * to the KV-event and request topics (the registry's, or the names given), times rounded to whole ms. Writes keep
 * their order.
 */
export function createEngineEventSink(options: EngineEventSinkOptions): EngineEventSink {
  const kvCodec = createCodec('KvEvent');
  const requestCodec = createCodec('RequestEvent');
  const kvTopic = options.kvEventsTopic ?? KV_EVENTS_TOPIC;
  const requestsTopic = options.requestsTopic ?? REQUESTS_TOPIC;
  const stats: EngineEventStats = { kvEvents: 0, requestEvents: 0, writes: 0 };
  const encode = (m: SinkMessage<SimEvent>): SinkMessage<Uint8Array> => {
    if (m.destination === KV_EVENTS_TOPIC) {
      stats.kvEvents++;
      return { destination: kvTopic, key: m.key, value: kvCodec.encode(wholeMs(m.value as KvEvent)) };
    }
    if (m.destination === REQUESTS_TOPIC) {
      stats.requestEvents++;
      return { destination: requestsTopic, key: m.key, value: requestCodec.encode(wholeMs(m.value as RequestEvent)) };
    }
    throw new ProgrammerError(`engine event sink: unknown destination ${m.destination}`);
  };
  return {
    name: 'engine-events',
    stats,
    async write(messages) {
      if (messages.length === 0) return;
      await options.kafka.write(messages.map(encode));
      stats.writes++;
    },
    close: async () => {},
  };
}
