import { ProgrammerError } from '../../core/errors.js';
import type { Sink, SinkMessage } from '../../core/io.js';
import { type Codec, createCodec } from '../../schemas/codec.js';
import type { DeadLetter } from '../../schemas/types.js';

/** Kafka headers every dead letter carries, so tools can filter without decoding the envelope. */
export const DEAD_LETTER_HEADERS = Object.freeze({
  originTopic: 'cachesage-origin-topic',
  originPartition: 'cachesage-origin-partition',
  originOffset: 'cachesage-origin-offset',
  stage: 'cachesage-stage',
  reason: 'cachesage-reason',
});

const MAX_REASON_HEADER = 512;

export interface DeadLetterSinkOptions {
  /** Where the encoded letters go (a Kafka sink); shared, so `close()` leaves it open. */
  sink: Sink<Uint8Array | null>;
  name?: string;
  /** DeadLetter codec; default the package registry's. */
  codec?: Codec<DeadLetter>;
}

function isDeadLetter(value: unknown): value is DeadLetter {
  const v = value as Partial<DeadLetter> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.originTopic === 'string' &&
    typeof v.originOffset === 'string' &&
    v.payload instanceof Uint8Array
  );
}

/** The Kafka record of one dead letter: the Avro envelope (Confluent framing) and its origin in headers. */
export function deadLetterRecord(
  message: SinkMessage<unknown>,
  codec: Codec<DeadLetter>,
): SinkMessage<Uint8Array | null> {
  if (message.value instanceof Uint8Array) return message as SinkMessage<Uint8Array>;
  if (!isDeadLetter(message.value)) {
    throw new ProgrammerError(`dead-letter sink: message for ${message.destination} is not a DeadLetter`);
  }
  const letter: DeadLetter = {
    ...message.value,
    key: message.value.key ?? message.key ?? null,
    headers: message.value.headers ?? {},
  };
  return {
    destination: message.destination,
    key: message.key,
    value: codec.encode(letter),
    headers: {
      ...message.headers,
      [DEAD_LETTER_HEADERS.originTopic]: letter.originTopic,
      [DEAD_LETTER_HEADERS.originPartition]: String(letter.originPartition),
      [DEAD_LETTER_HEADERS.originOffset]: letter.originOffset,
      [DEAD_LETTER_HEADERS.stage]: letter.stage,
      [DEAD_LETTER_HEADERS.reason]: letter.reason.slice(0, MAX_REASON_HEADER),
    },
  };
}

/**
 * The dead-letter edge (`cachesage.dlq`): takes the runner's DeadLetter envelopes (origin topic/partition/offset,
 * stage, reason, failure time, raw payload, key, headers), encodes them with the DeadLetter codec and writes them
 * through a Kafka sink with the origin, stage and reason also in Kafka headers. Already encoded values pass as they are.
 */
export function createDeadLetterSink(options: DeadLetterSinkOptions): Sink<unknown> {
  const codec = options.codec ?? createCodec('DeadLetter');
  const { sink } = options;
  return {
    name: options.name ?? 'dead-letters',
    write(messages) {
      if (messages.length === 0) return;
      return sink.write(messages.map((m) => deadLetterRecord(m, codec)));
    },
    close: async () => {},
  };
}
