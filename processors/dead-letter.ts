import type { OperatorFunction } from 'rxjs';
import { ConfigError, reasonOf } from '../core/errors.js';
import type { SinkMessage } from '../core/io.js';
import type { DeadLetter } from '../schemas/types.js';
import { recordOperator } from './record-operator.js';
import type { StageFailure } from './stage-record.js';

export interface DeadLetterOptions {
  /** Topic of the dead letters, e.g. `cachesage.dlq`. */
  destination: string;
  /** Failure time (the injected scheduler's clock). */
  now: () => number;
  /** Encodes the envelope for the wire (an Avro codec's `encode`); without it the envelope is the value. */
  encode?: (letter: DeadLetter) => Uint8Array;
}

const utf8 = new TextEncoder();

/**
 * The raw bytes of a failed record, as a Buffer view (what Avro `bytes` fields take) over the same memory; a value
 * (in-memory bus) is rendered as JSON, bigints as decimal strings.
 */
export function payloadBytes(raw: unknown): Uint8Array {
  if (raw instanceof Uint8Array)
    return Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  let text: string | undefined;
  try {
    text = JSON.stringify(raw, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    text = undefined;
  }
  const bytes = utf8.encode(text ?? String(raw));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Builds the dead-letter envelope of each failure: origin (topic, partition, offset), stage, reason, failure time,
 * the raw payload, and the record's key and headers.
 */
export function deadLetter(options: DeadLetterOptions): OperatorFunction<StageFailure, SinkMessage<unknown>> {
  const { destination, now, encode } = options;
  if (typeof destination !== 'string' || destination.length === 0) throw new ConfigError('dead-letter: no destination');
  return recordOperator((f: StageFailure, emit: (o: SinkMessage<unknown>) => void) => {
    const { origin } = f.record;
    const letter: DeadLetter = {
      originTopic: origin.topic,
      originPartition: origin.partition,
      originOffset: origin.offset,
      stage: f.stage,
      reason: f.policy === undefined ? reasonOf(f.error) : `policy ${f.policy}: ${reasonOf(f.error)}`,
      failedAt: now(),
      payload: payloadBytes(f.record.raw),
      key: f.record.key,
      headers: { ...f.record.headers },
    };
    emit({ destination, key: f.record.key, value: encode === undefined ? letter : encode(letter) });
  });
}
