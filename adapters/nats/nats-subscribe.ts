import type { NatsConnection } from '@nats-io/transport-node';
import type { SubjectMessage, SubscribeFn } from '../../core/io.js';
import { decodeActFromNats } from '../../schemas/act-codec.js';
import { fromMsgHdrs } from './subject-routing.js';

export interface NatsSubscribeOptions {
  /**
   * Turns a message into the delivered value; default the act codec (`decodeActFromNats`: Avro body, schema id in
   * the `cachesage-schema-id` header). `null` delivers the raw bytes.
   */
  decode?: ((data: Uint8Array, headers: Readonly<Record<string, string>>) => unknown) | null;
  /** Told about every message that did not decode (it is still delivered, with value `undefined`). */
  onDecodeError?: (error: unknown, subject: string) => void;
  /** Told about a handler that threw (the subscription goes on). */
  onHandlerError?: (error: unknown, subject: string) => void;
  /** NATS queue group: messages are shared among the subscribers of the group. */
  queue?: string;
}

/**
 * The subscribe function engine hooks take (`attachEngineHooks({ subscribe })`), over a NATS connection. Each message
 * is decoded with the act codec; one that does not decode is delivered with value `undefined`, which the act filter
 * counts as malformed: bad bytes never throw into the connection.
 */
export function natsSubscribe(nc: NatsConnection, options: NatsSubscribeOptions = {}): SubscribeFn<unknown> {
  const decode = options.decode === undefined ? decodeActFromNats : options.decode;
  return (pattern, handler) => {
    const sub = nc.subscribe(pattern, {
      ...(options.queue === undefined ? {} : { queue: options.queue }),
      callback: (err, msg) => {
        if (err !== null) return;
        const headers = fromMsgHdrs(msg.headers);
        let value: unknown = msg.data;
        if (decode !== null) {
          try {
            value = decode(msg.data, headers);
          } catch (decodeError) {
            value = undefined;
            options.onDecodeError?.(decodeError, msg.subject);
          }
        }
        const message: SubjectMessage<unknown> = { subject: msg.subject, value, headers };
        try {
          handler(message);
        } catch (handlerError) {
          options.onHandlerError?.(handlerError, msg.subject);
        }
      },
    });
    return () => {
      if (!sub.isClosed()) sub.unsubscribe();
    };
  };
}
