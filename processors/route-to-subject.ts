import type { OperatorFunction } from 'rxjs';
import type { SinkMessage } from '../core/io.js';
import type { Act } from '../schemas/types.js';
import { compileDestination } from './destination-template.js';
import { recordOperator } from './record-operator.js';
import { failure, type StageOutput, type StageRecord, withValue } from './stage-record.js';

export interface RouteToSubjectOptions {
  stage: string;
  /** Subject template filled from the act, e.g. `cachesage.act.{engineId}.{kind}`. */
  destination: string;
  /**
   * Encodes the act for the wire: bytes, or bytes and headers (the act codec's `encodeForNats`, which names the
   * schema in a header). Without it the act itself is the message value.
   */
  encode?: ActEncoder;
}

/** Act → wire bytes, optionally with message headers. */
export type ActEncoder = (act: Act) => Uint8Array | { data: Uint8Array; headers: Record<string, string> };

/**
 * Turns each act into a sink message on its subject, keyed by engine, with a deterministic message id
 * (`<engineId>.<kind>.<policy>.<seq>`) so a transport with de-duplication drops an act replayed after a restart.
 */
export function routeToSubject(
  options: RouteToSubjectOptions,
): OperatorFunction<StageRecord<Act>, StageOutput<SinkMessage<unknown>>> {
  const { stage, encode } = options;
  const subjectOf = compileDestination(options.destination);
  return recordOperator((record: StageRecord<Act>, emit: (o: StageOutput<SinkMessage<unknown>>) => void) => {
    const act = record.value;
    try {
      const message: SinkMessage<unknown> = {
        destination: subjectOf(act),
        key: act.engineId,
        value: act,
        messageId: `${act.engineId}.${act.kind}.${act.policy}.${act.seq}`,
      };
      if (encode !== undefined) {
        const encoded = encode(act);
        if (encoded instanceof Uint8Array) message.value = encoded;
        else {
          message.value = encoded.data;
          message.headers = encoded.headers;
        }
      }
      emit(withValue(record, message));
    } catch (err) {
      emit(failure(stage, record, err, act.policy));
    }
  });
}
