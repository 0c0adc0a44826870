import { DecodeError } from '../../core/errors.js';

/** One message of vLLM's KV-event PUB socket: `[topic, seq (8-byte big-endian), msgpack payload]`. */
export interface KvMessage {
  topic: string;
  seq: number;
  payload: Uint8Array;
}

/** Sequence number that ends a replay (`-1` as 8 signed big-endian bytes). */
export const REPLAY_END_SEQ = -1;

/** The 8-byte big-endian form of a sequence number. */
export function encodeSeq(seq: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigInt64BE(BigInt(seq));
  return out;
}

/** A sequence number from its 8-byte big-endian form (signed, so the replay end marker reads as -1). */
export function decodeSeq(bytes: Uint8Array): number {
  if (bytes.length !== 8) {
    throw new DecodeError('DECODE_FAILED', `sequence frame has ${bytes.length} bytes, expected 8`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const value = view.getBigInt64(0);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new DecodeError('DECODE_FAILED', `sequence ${value} exceeds 2^53`);
  }
  return Number(value);
}

/** Parses the parts of one PUB message; DecodeError when it does not have vLLM's three-part shape. */
export function parseKvMessage(parts: readonly Uint8Array[]): KvMessage {
  if (parts.length !== 3) {
    throw new DecodeError('DECODE_FAILED', `message has ${parts.length} parts, expected 3 (topic, seq, payload)`);
  }
  const [topic, seq, payload] = parts as [Uint8Array, Uint8Array, Uint8Array];
  const value = decodeSeq(seq);
  if (value < 0) throw new DecodeError('DECODE_FAILED', `negative sequence ${value} on the PUB socket`);
  return { topic: Buffer.from(topic.buffer, topic.byteOffset, topic.byteLength).toString('utf8'), seq: value, payload };
}
