import type { OperatorFunction } from 'rxjs';
import type { SinkMessage } from '../../core/io.js';
import type { ObservedEvent } from '../../policies/policy.js';
import { recordOperator } from '../../processors/record-operator.js';
import { type StageOutput, type StageRecord, withValue } from '../../processors/stage-record.js';
import type { RequestEvent } from '../../schemas/types.js';

export interface RepartitionOptions {
  stage: string;
  /** The session-keyed topic. */
  destination: string;
  /**
   * Writes the slim request event to the topic's wire format (a processor: the RequestEvent codec with Confluent
   * framing); default: the event object itself (the in-memory bus).
   */
  encode?: (event: RequestEvent) => unknown;
}

/** A request event without its block hashes: all the session side reads (who spoke, when, where). */
export function slimRequestEvent(event: RequestEvent): RequestEvent {
  return { ...event, blockHashes: [], outputBlockHashes: [] };
}

/**
 * The repartition stage (Kafka Streams' `selectKey` + `repartition`): every decoded request event becomes a message
 * to the session-keyed topic, key sessionId, value the event without its block hashes (the session side tracks
 * agents and times; a request event's hundreds of 64-bit hashes would cost a produce, a fetch and a decode each for
 * nothing), headers kept; KV events pass by.
 */
export function repartitionBySession(
  options: RepartitionOptions,
): OperatorFunction<StageRecord<ObservedEvent>, StageOutput<SinkMessage<unknown>>> {
  const { destination } = options;
  const encode = options.encode ?? ((event: RequestEvent) => event);
  return recordOperator((record: StageRecord<ObservedEvent>, emit: (o: StageOutput<SinkMessage<unknown>>) => void) => {
    if (record.value.type !== 'request') return;
    emit(
      withValue(record, {
        destination,
        key: record.value.event.sessionId,
        value: encode(slimRequestEvent(record.value.event)),
        headers: { ...record.headers },
      }),
    );
  });
}
