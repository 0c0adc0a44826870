import { Dealer } from 'zeromq';
import { ConfigError, InfraError } from '../../core/errors.js';
import { decodeSeq, encodeSeq, REPLAY_END_SEQ } from './zmq-message.js';

/** One message replayed from vLLM's buffer. */
export interface ReplayedMessage {
  seq: number;
  payload: Uint8Array;
}

export interface ReplayRequest {
  /** vLLM's replay ROUTER endpoint, e.g. `tcp://engine:5558`. */
  endpoint: string;
  /** First sequence number wanted. */
  fromSeq: number;
  /** Stop once every number below this one was received (exclusive); default: until the end marker. */
  untilSeq?: number;
  /** Give up after this long in total. */
  timeoutMs: number;
}

export interface ReplayResult {
  /** Messages received, in the order the publisher sent them (ascending sequence numbers). */
  messages: ReplayedMessage[];
  /** True when the publisher's end marker (seq -1) arrived or `untilSeq` was reached. */
  complete: boolean;
}

/**
 * Asks vLLM's replay socket for buffered messages from `fromSeq` on. vLLM's ROUTER expects a REQ-style request
 * (`[empty delimiter, seq as 8 bytes big-endian]`) and answers each buffered message as `[empty, seq, payload]`,
 * then `[empty, -1, empty]`. A fresh DEALER is used per request so a late answer never mixes with the next one.
 * Throws InfraError (retriable) when nothing arrived in time; a partial answer is returned with `complete: false`.
 */
export async function requestReplay(request: ReplayRequest): Promise<ReplayResult> {
  const { endpoint, fromSeq, untilSeq, timeoutMs } = request;
  if (!Number.isInteger(fromSeq) || fromSeq < 0) throw new ConfigError(`replay fromSeq must be >= 0, got ${fromSeq}`);
  if (!(timeoutMs > 0)) throw new ConfigError(`replay timeoutMs must be positive, got ${timeoutMs}`);
  const dealer = new Dealer({ linger: 0, receiveTimeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  const messages: ReplayedMessage[] = [];
  try {
    dealer.connect(endpoint);
    await dealer.send([Buffer.alloc(0), encodeSeq(fromSeq)]);
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return { messages, complete: false };
      dealer.receiveTimeout = remaining;
      let parts: Buffer[];
      try {
        parts = await dealer.receive();
      } catch (err) {
        if (messages.length > 0) return { messages, complete: false };
        throw new InfraError('TIMEOUT', `no replay answer from ${endpoint} within ${timeoutMs} ms`, {
          retriable: true,
          cause: err,
        });
      }
      const frames = parts.length > 0 && parts[0]?.length === 0 ? parts.slice(1) : parts;
      if (frames.length < 1) continue;
      const seq = decodeSeq(frames[0] as Buffer);
      if (seq === REPLAY_END_SEQ) return { messages, complete: true };
      messages.push({ seq, payload: frames[1] ?? Buffer.alloc(0) });
      if (untilSeq !== undefined && seq + 1 >= untilSeq) return { messages, complete: true };
    }
  } finally {
    dealer.close();
  }
}
