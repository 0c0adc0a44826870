import { DecodeError, EncodeError } from '../../core/errors.js';
import type { Policy } from '../../policies/policy.js';

/** Turns a store value into changelog bytes and back. `decode` throws DecodeError on bytes it cannot read. */
export interface ValueCodec<V> {
  encode(value: V): Uint8Array;
  decode(bytes: Uint8Array): V;
}

const BIGINT_TAG = '$bigint';
const BYTES_TAG = '$bytes';

function replacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (typeof raw === 'bigint') return { [BIGINT_TAG]: raw.toString() };
  if (raw instanceof Uint8Array)
    return { [BYTES_TAG]: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
  if (raw instanceof Map || raw instanceof Set || typeof raw === 'function' || typeof raw === 'symbol') {
    throw new EncodeError(
      `JSON value codec: ${key === '' ? 'the value' : `field ${key}`} is a ${raw?.constructor?.name ?? typeof raw}; give the store a codec of its own (a policy: snapshot/restore)`,
    );
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  if (keys.length !== 1) return value;
  const tagged = (value as Record<string, unknown>)[keys[0]!];
  if (keys[0] === BIGINT_TAG && typeof tagged === 'string') return BigInt(tagged);
  if (keys[0] === BYTES_TAG && typeof tagged === 'string') return new Uint8Array(Buffer.from(tagged, 'base64'));
  return value;
}

/**
 * Plain data as UTF-8 JSON, with bigints (`{"$bigint": "..."}`) and byte arrays (`{"$bytes": base64}`) kept. Maps,
 * sets and functions are refused with an EncodeError rather than silently dropped.
 */
export function jsonValueCodec<V>(): ValueCodec<V> {
  return {
    encode(value) {
      const text = JSON.stringify(value, replacer);
      if (text === undefined) throw new EncodeError('JSON value codec: the value has no JSON form');
      return Buffer.from(text, 'utf8');
    },
    decode(bytes) {
      try {
        return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), reviver) as V;
      } catch (err) {
        throw new DecodeError('DECODE_FAILED', `JSON value codec: unreadable value (${(err as Error).message})`, {
          cause: err,
        });
      }
    },
  };
}

/** A policy's state: its own `snapshot`/`restore` when it has both, else JSON. */
export function policyStateCodec<S>(policy: Policy<S>): ValueCodec<S> {
  const { snapshot, restore } = policy;
  if (typeof snapshot === 'function' && typeof restore === 'function') {
    return {
      encode: (state) => snapshot.call(policy, state),
      decode: (bytes) => restore.call(policy, bytes),
    };
  }
  return jsonValueCodec<S>();
}
