import type avro from 'avsc';
import { ConfigError, DecodeError, EncodeError } from '../core/errors.js';
import { defaultSchemaRegistry, type ReadPlan, type SchemaEntry, type SchemaRegistry } from './registry.js';
import type {
  DeadLetter,
  EvictionHints,
  KvEvent,
  ModelUpdate,
  Pin,
  Prefetch,
  RequestEvent,
  SessionPosition,
} from './types.js';

/** Record name (short) -> the TypeScript type its codec reads and writes. */
export interface SchemaTypes {
  RequestEvent: RequestEvent;
  KvEvent: KvEvent;
  EvictionHints: EvictionHints;
  Prefetch: Prefetch;
  Pin: Pin;
  ModelUpdate: ModelUpdate;
  SessionPosition: SessionPosition;
  DeadLetter: DeadLetter;
}
export type SchemaName = keyof SchemaTypes;
export const SCHEMA_NAMES: readonly SchemaName[] = [
  'RequestEvent',
  'KvEvent',
  'EvictionHints',
  'Prefetch',
  'Pin',
  'ModelUpdate',
  'SessionPosition',
  'DeadLetter',
];

/** Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro body. */
export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;
/** NATS header carrying the decimal schema id of an Avro body. */
export const SCHEMA_ID_HEADER = 'cachesage-schema-id';
/** NATS header carrying the full record name (informational: decoders rely on the id). */
export const TYPE_HEADER = 'cachesage-type';

/** An Avro body with its NATS headers. */
export interface NatsEncoded {
  data: Buffer;
  headers: Record<string, string>;
}

/** NATS headers as a plain record, or anything with `get` (nats.js `MsgHdrs`). */
export type NatsHeaderSource = Readonly<Record<string, string | undefined>> | { get(name: string): string };

/**
 * Encodes and decodes one record type. `encode` writes the latest version of the schema; `decode` reads any version
 * of the same record that the registry knows, resolved into the latest. Decoding throws only `DecodeError`
 * (UNKNOWN_SCHEMA for an id not in the registry, DECODE_FAILED for anything else); encoding throws only
 * `EncodeError` with the path of the offending field in `details.path`.
 */
export interface Codec<T> {
  /** Full record name, e.g. `dev.cachesage.KvEvent`. */
  readonly name: string;
  /** Id of the schema `encode` writes. */
  readonly schemaId: number;
  readonly type: avro.Type;
  /** Confluent-framed bytes (Kafka record value). */
  encode(value: T): Buffer;
  decode(bytes: Uint8Array): T;
  /** Bare Avro body and the headers that name its schema (NATS message). */
  encodeForNats(value: T): NatsEncoded;
  decodeFromNats(data: Uint8Array, headers: NatsHeaderSource): T;
  /** Decodes a bare Avro body written with schema `schemaId`. */
  decodeBody(body: Uint8Array, schemaId: number): T;
}

export interface CodecOptions {
  /** Registry to read schemas from; the package's own by default. */
  registry?: SchemaRegistry;
  /** Initial size of the reusable encode buffer in bytes (grows on demand). Default 16 KiB. */
  initialBufferBytes?: number;
}

function asBuffer(bytes: Uint8Array, what: string): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (bytes instanceof Uint8Array) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new DecodeError('DECODE_FAILED', `${what}: expected bytes, got ${bytes === null ? 'null' : typeof bytes}`);
}

function describeValue(val: unknown): string {
  if (typeof val === 'bigint') return `${val}n`;
  if (typeof val === 'string') return JSON.stringify(val.length > 40 ? `${val.slice(0, 40)}...` : val);
  if (val === null || val === undefined || typeof val !== 'object') return String(val);
  return Array.isArray(val) ? `array(${val.length})` : 'object';
}

function encodeFailure(entry: SchemaEntry, value: unknown, cause: unknown): EncodeError {
  let path: string[] = [];
  let bad: unknown = value;
  let expected = '';
  try {
    entry.type.isValid(value, {
      errorHook: (p: string[], v: unknown, t: avro.Type) => {
        if (path.length === 0 && expected === '') {
          path = p;
          bad = v;
          expected = t.branchName ?? t.typeName;
        }
      },
    });
  } catch {
    // the value is not even walkable (e.g. a getter throws); report the encoder's own reason
  }
  const where = path.length > 0 ? path.join('.') : '(root)';
  const reason = expected === '' ? String((cause as Error)?.message ?? cause) : `expected ${expected}`;
  return new EncodeError(`${entry.name}: invalid value at ${where}: ${describeValue(bad)} (${reason})`, {
    cause,
    details: { schema: entry.name, schemaId: entry.id, path: where },
  });
}

/** Creates the codec of one record type (cheap, but create it once and reuse it: it keeps an encode buffer). */
export function createCodec<K extends SchemaName>(name: K, options: CodecOptions = {}): Codec<SchemaTypes[K]> {
  const registry = options.registry ?? defaultSchemaRegistry();
  const current = registry.latest(name);
  const plans = new Map<number, ReadPlan>();
  for (const entry of registry.entries) {
    const plan = registry.readPlan(entry.id);
    if (plan !== undefined && plan.reader === current) plans.set(entry.id, plan);
  }
  const type = current.type;
  const initialBytes = options.initialBufferBytes ?? 16 * 1024;
  if (!Number.isInteger(initialBytes) || initialBytes < 1 || initialBytes > 2 ** 30) {
    throw new ConfigError(`createCodec: initialBufferBytes must be an integer in [1, 2^30], got ${initialBytes}`);
  }
  let scratch = Buffer.allocUnsafe(Math.max(64, initialBytes));

  function write(value: unknown, offset: number): number {
    for (;;) {
      let end: number;
      try {
        end = type.encode(value, scratch, offset);
      } catch (err) {
        throw encodeFailure(current, value, err);
      }
      if (end >= 0) return end;
      scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
    }
  }

  function copyOut(start: number, end: number): Buffer {
    const out = Buffer.allocUnsafe(end - start);
    scratch.copy(out, 0, start, end);
    return out;
  }

  function decodeBody(buf: Buffer, offset: number, schemaId: number): SchemaTypes[K] {
    const plan = plans.get(schemaId);
    if (plan === undefined) {
      const other = registry.byId(schemaId);
      if (other === undefined) {
        throw new DecodeError('UNKNOWN_SCHEMA', `${current.name}: unknown schema id ${schemaId}`, {
          details: { schemaId },
        });
      }
      throw new DecodeError('DECODE_FAILED', `${current.name}: schema id ${schemaId} is a ${other.name}`, {
        details: { schemaId, writer: other.name },
      });
    }
    let result: { value: unknown; offset: number };
    try {
      result = type.decode(buf, offset, plan.resolver);
    } catch (err) {
      throw new DecodeError('DECODE_FAILED', `${current.name}: invalid body for schema id ${schemaId}`, {
        cause: err,
        details: { schemaId },
      });
    }
    if (result.offset < 0) {
      throw new DecodeError('DECODE_FAILED', `${current.name}: truncated body for schema id ${schemaId}`, {
        details: { schemaId, bytes: buf.length },
      });
    }
    if (result.offset !== buf.length) {
      throw new DecodeError('DECODE_FAILED', `${current.name}: ${buf.length - result.offset} trailing bytes`, {
        details: { schemaId, bytes: buf.length },
      });
    }
    return result.value as SchemaTypes[K];
  }

  const natsHeaders: Record<string, string> = {
    [SCHEMA_ID_HEADER]: String(current.id),
    [TYPE_HEADER]: current.name,
  };

  return {
    name: current.name,
    schemaId: current.id,
    type,
    encode(value) {
      const end = write(value, HEADER_BYTES);
      scratch[0] = MAGIC_BYTE;
      scratch.writeUInt32BE(current.id, 1);
      return copyOut(0, end);
    },
    decode(bytes) {
      const buf = asBuffer(bytes, current.name);
      return decodeBody(buf, HEADER_BYTES, readFramedId(buf, current.name));
    },
    encodeForNats(value) {
      const end = write(value, 0);
      return { data: copyOut(0, end), headers: { ...natsHeaders } };
    },
    decodeFromNats(data, headers) {
      return decodeBody(asBuffer(data, current.name), 0, readNatsId(headers, current.name));
    },
    decodeBody(body, schemaId) {
      return decodeBody(asBuffer(body, current.name), 0, schemaId);
    },
  };
}

/** Schema id of Confluent-framed bytes; DecodeError (DECODE_FAILED) on short input or a wrong magic byte. */
export function readFramedId(bytes: Uint8Array, what = 'record'): number {
  if (!(bytes instanceof Uint8Array)) asBuffer(bytes, what);
  if (bytes.length < HEADER_BYTES) {
    throw new DecodeError('DECODE_FAILED', `${what}: ${bytes.length} bytes, shorter than the 5-byte header`, {
      details: { bytes: bytes.length },
    });
  }
  if (bytes[0] !== MAGIC_BYTE) {
    throw new DecodeError('DECODE_FAILED', `${what}: magic byte ${bytes[0]} (expected ${MAGIC_BYTE})`, {
      details: { magic: bytes[0] },
    });
  }
  return (
    (((bytes[1] as number) << 24) |
      ((bytes[2] as number) << 16) |
      ((bytes[3] as number) << 8) |
      (bytes[4] as number)) >>>
    0
  );
}

function headerValue(headers: NatsHeaderSource, name: string): string | undefined {
  const get = (headers as { get?: unknown }).get;
  if (typeof get === 'function') return (headers as { get(name: string): string }).get(name);
  const value = (headers as Readonly<Record<string, string | undefined>>)[name];
  return typeof value === 'string' ? value : undefined;
}

const DECIMAL_ID = /^[0-9]{1,10}$/;

/** Schema id named by NATS headers; DecodeError (DECODE_FAILED) when the header is missing or not a number. */
export function readNatsId(headers: NatsHeaderSource, what = 'record'): number {
  let text: string | undefined;
  try {
    text = headers == null ? undefined : headerValue(headers, SCHEMA_ID_HEADER);
  } catch (err) {
    throw new DecodeError('DECODE_FAILED', `${what}: unreadable NATS headers`, { cause: err });
  }
  if (text === undefined || text === '') {
    throw new DecodeError('DECODE_FAILED', `${what}: missing ${SCHEMA_ID_HEADER} header`);
  }
  const id = DECIMAL_ID.test(text) ? Number(text) : Number.NaN;
  if (!(id <= 0xffffffff)) {
    throw new DecodeError('DECODE_FAILED', `${what}: bad ${SCHEMA_ID_HEADER} header ${JSON.stringify(text)}`);
  }
  return id;
}
