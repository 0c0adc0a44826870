import type { OperatorFunction } from 'rxjs';
import { recordOperator } from './record-operator.js';
import { failure, type StageOutput, type StageRecord, withValue } from './stage-record.js';

/** Turns a source value (bytes, or a value on the in-memory bus) into a typed value; throws on bad input. */
export type Decoder<T> = (value: unknown, record: StageRecord<unknown>) => T;

export interface DecodeOptions<T> {
  /** Stage name carried by failures. */
  stage: string;
  /** Injected decoder (an Avro codec's `decode`, or a value validator); its errors become failures. */
  decoder: Decoder<T>;
}

/** Decodes every record's value; a value that does not decode becomes a `StageFailure`, the stream goes on. */
export function decode<T>(options: DecodeOptions<T>): OperatorFunction<StageRecord<unknown>, StageOutput<T>> {
  const { stage, decoder } = options;
  return recordOperator((record: StageRecord<unknown>, emit: (o: StageOutput<T>) => void) => {
    let value: T;
    try {
      value = decoder(record.value, record);
    } catch (err) {
      emit(failure(stage, record, err));
      return;
    }
    emit(withValue(record, value));
  });
}
