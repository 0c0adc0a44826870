import type { OperatorFunction } from 'rxjs';
import type { SinkMessage } from '../../core/io.js';
import type { ObservedEvent } from '../../policies/policy.js';
import { recordOperator } from '../../processors/record-operator.js';
import { type StageOutput, type StageRecord, withValue } from '../../processors/stage-record.js';

export interface RepartitionOptions {
  stage: string;
  /** The session-keyed topic. */
  destination: string;
}

/**
 * The repartition stage (Kafka Streams' `selectKey` + `repartition`): every decoded request event becomes a message
 * to the session-keyed topic, key sessionId, value the record's original bytes (and headers); KV events pass by.
 */
export function repartitionBySession(
  options: RepartitionOptions,
): OperatorFunction<StageRecord<ObservedEvent>, StageOutput<SinkMessage<unknown>>> {
  const { destination } = options;
  return recordOperator((record: StageRecord<ObservedEvent>, emit: (o: StageOutput<SinkMessage<unknown>>) => void) => {
    if (record.value.type !== 'request') return;
    emit(
      withValue(record, {
        destination,
        key: record.value.event.sessionId,
        value: record.raw,
        headers: { ...record.headers },
      }),
    );
  });
}
