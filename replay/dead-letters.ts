import { createKafkaSink } from '../adapters/kafka/kafka-sink.js';
import { readTopicToEnd } from '../adapters/kafka/topic-reader.js';
import type { KafkaSecurity } from '../core/config.js';
import { ConfigError, reasonOf } from '../core/errors.js';
import type { Sink, SinkMessage } from '../core/io.js';
import { createCodec, readFramedId, type SchemaName } from '../schemas/codec.js';
import { defaultSchemaRegistry } from '../schemas/registry.js';
import type { DeadLetter } from '../schemas/types.js';

/** Headers a requeued record carries (besides the original record's own headers). */
export const REQUEUE_HEADERS = Object.freeze({
  /** `<dlq topic>/<partition>/<offset>` of the dead letter it came from. */
  from: 'cachesage-requeued-from',
  /** ISO time of the requeue. */
  at: 'cachesage-requeued-at',
});

/** Where a dead letter sits in the dead-letter topic. */
export interface DeadLetterPosition {
  partition: number;
  offset: string;
}

/** One record of the dead-letter topic: the decoded envelope, or why it does not decode. */
export interface DeadLetterEntry extends DeadLetterPosition {
  timestampMs: number;
  key: string | null;
  headers: Record<string, string>;
  letter: DeadLetter | null;
  /** Set when the record is not a DeadLetter envelope. */
  error?: string;
}

export interface ReadDeadLettersOptions {
  brokers: readonly string[];
  topic: string;
  security?: KafkaSecurity;
  timeoutMs?: number;
}

/** Reads the whole dead-letter topic (beginning to its end offsets now), in partition and offset order. */
export async function readDeadLetters(options: ReadDeadLettersOptions): Promise<DeadLetterEntry[]> {
  const codec = createCodec('DeadLetter');
  const entries: DeadLetterEntry[] = [];
  await readTopicToEnd(
    {
      brokers: options.brokers,
      topic: options.topic,
      clientId: 'cachesage-dlq',
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.security === undefined ? {} : { security: options.security }),
    },
    (r) => {
      const entry: DeadLetterEntry = {
        partition: r.partition,
        offset: r.offset,
        timestampMs: 0,
        key: r.key,
        headers: r.headers,
        letter: null,
      };
      try {
        if (r.value === null) throw new ConfigError('a tombstone');
        entry.letter = codec.decode(r.value);
        entry.timestampMs = entry.letter.failedAt;
      } catch (err) {
        entry.error = reasonOf(err);
      }
      entries.push(entry);
    },
  );
  return entries.sort((a, b) =>
    a.partition !== b.partition ? a.partition - b.partition : Number(BigInt(a.offset) - BigInt(b.offset)),
  );
}

/** Parses `<partition>:<offset>`; ConfigError otherwise. */
export function parsePosition(text: string): DeadLetterPosition {
  const m = /^\s*(\d+):(0|[1-9]\d*)\s*$/.exec(text);
  if (m === null) {
    throw new ConfigError(`expected a dead letter as <partition>:<offset> (e.g. 0:42), got ${JSON.stringify(text)}`);
  }
  return { partition: Number(m[1]), offset: m[2] as string };
}

/** The entries at `positions`; a ConfigError names every position the topic does not hold. */
export function pickDeadLetters(
  entries: readonly DeadLetterEntry[],
  positions: readonly DeadLetterPosition[],
): DeadLetterEntry[] {
  const byKey = new Map(entries.map((e) => [`${e.partition}:${e.offset}`, e]));
  const missing = positions.filter((p) => !byKey.has(`${p.partition}:${p.offset}`));
  if (missing.length > 0) {
    throw new ConfigError(
      `no dead letter at ${missing.map((p) => `${p.partition}:${p.offset}`).join(', ')} (the topic holds ${entries.length})`,
    );
  }
  return positions.map((p) => byKey.get(`${p.partition}:${p.offset}`) as DeadLetterEntry);
}

/** A dead letter's payload decoded by the schema id it carries, when it has one the registry knows. */
export interface DecodedPayload {
  /** Record name of the schema id in the payload, null when there is none. */
  schema: string | null;
  value: unknown;
  error?: string;
}

export function decodePayload(payload: Uint8Array): DecodedPayload {
  let id: number;
  try {
    id = readFramedId(payload, 'payload');
  } catch (err) {
    return { schema: null, value: null, error: reasonOf(err) };
  }
  const entry = defaultSchemaRegistry().byId(id);
  if (entry === undefined) return { schema: null, value: null, error: `unknown schema id ${id}` };
  const short = entry.name.slice(entry.name.lastIndexOf('.') + 1) as SchemaName;
  try {
    return { schema: entry.name, value: createCodec(short).decode(payload) };
  } catch (err) {
    return { schema: entry.name, value: null, error: reasonOf(err) };
  }
}

/** The record that requeues a dead letter: its original payload, key and headers, back on its origin topic. */
export function requeueRecord(
  dlqTopic: string,
  entry: DeadLetterEntry,
  now: Date = new Date(),
): SinkMessage<Uint8Array | null> {
  const letter = entry.letter;
  if (letter === null) {
    throw new ConfigError(
      `dead letter ${entry.partition}:${entry.offset} is not a DeadLetter envelope (${entry.error}); it cannot be requeued`,
    );
  }
  return {
    destination: letter.originTopic,
    key: letter.key ?? null,
    value: letter.payload,
    headers: {
      ...(letter.headers ?? {}),
      [REQUEUE_HEADERS.from]: `${dlqTopic}/${entry.partition}/${entry.offset}`,
      [REQUEUE_HEADERS.at]: now.toISOString(),
    },
  };
}

export interface RequeueOptions {
  brokers: readonly string[];
  dlqTopic: string;
  entries: readonly DeadLetterEntry[];
  security?: KafkaSecurity;
  /** Where to produce; default an idempotent Kafka sink of its own (closed at the end). */
  sink?: Sink<Uint8Array | null>;
}

/**
 * Re-processes dead letters: produces each one's original payload (with its key and headers, plus
 * `cachesage-requeued-from` and `cachesage-requeued-at`) to its origin topic, in one acknowledged write. Processors
 * then read it like any new record. Letters that are not DeadLetter envelopes are refused before anything is sent.
 */
export async function requeueDeadLetters(options: RequeueOptions): Promise<SinkMessage<Uint8Array | null>[]> {
  const now = new Date();
  const messages = options.entries.map((e) => requeueRecord(options.dlqTopic, e, now));
  if (messages.length === 0) return messages;
  const sink =
    options.sink ??
    createKafkaSink({
      brokers: options.brokers,
      name: 'cachesage-dlq-requeue',
      ...(options.security === undefined ? {} : { security: options.security }),
    });
  try {
    await sink.write(messages);
  } finally {
    if (options.sink === undefined) await sink.close();
  }
  return messages;
}
