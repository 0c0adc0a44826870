import { DecodeError, EncodeError, ProgrammerError } from '../core/errors.js';
import {
  type Codec,
  type CodecOptions,
  createCodec,
  type NatsHeaderSource,
  readFramedId,
  readNatsId,
} from './codec.js';
import { defaultSchemaRegistry } from './registry.js';
import type { Act, ActKind } from './types.js';

/** Act kind -> record name of its schema. A new act kind adds a row here and a schema in the registry. */
export const ACT_SCHEMA_NAMES = {
  evict: 'EvictionHints',
  prefetch: 'Prefetch',
  pin: 'Pin',
} as const satisfies Record<ActKind, string>;

/** The act of one kind. */
export type ActOf<K extends ActKind> = Extract<Act, { kind: K }>;

/** Encodes any act by its `kind` and decodes any act schema into the `Act` union. Throws like `Codec`. */
export interface ActCodec {
  codecFor<K extends ActKind>(kind: K): Codec<ActOf<K>>;
  encode(act: Act): Buffer;
  decode(bytes: Uint8Array): Act;
  encodeForNats(act: Act): { data: Buffer; headers: Record<string, string> };
  decodeFromNats(data: Uint8Array, headers: NatsHeaderSource): Act;
}

/** Creates the act codec (one codec per act kind, sharing a registry). */
export function createActCodec(options: CodecOptions = {}): ActCodec {
  const registry = options.registry ?? defaultSchemaRegistry();
  const byKind = new Map<ActKind, Codec<Act>>();
  const byName = new Map<string, Codec<Act>>();
  for (const [kind, name] of Object.entries(ACT_SCHEMA_NAMES) as [ActKind, string][]) {
    const codec = createCodec(name as 'EvictionHints', { ...options, registry }) as unknown as Codec<Act>;
    byKind.set(kind, codec);
    byName.set(codec.name, codec);
  }

  function forKind(kind: unknown): Codec<Act> {
    const codec = byKind.get(kind as ActKind);
    if (codec !== undefined) return codec;
    throw new EncodeError(`act: unknown kind ${JSON.stringify(kind)}`, { details: { path: 'kind' } });
  }

  function forId(schemaId: number): Codec<Act> {
    const entry = registry.byId(schemaId);
    if (entry === undefined) throw new DecodeError('UNKNOWN_SCHEMA', `act: unknown schema id ${schemaId}`);
    const codec = byName.get(entry.name);
    if (codec === undefined) {
      throw new DecodeError('DECODE_FAILED', `act: schema id ${schemaId} is a ${entry.name}, not an act`);
    }
    return codec;
  }

  return {
    codecFor<K extends ActKind>(kind: K) {
      const codec = byKind.get(kind);
      if (codec === undefined) throw new ProgrammerError(`no act kind ${JSON.stringify(kind)}`);
      return codec as unknown as Codec<ActOf<K>>;
    },
    encode: (act) => forKind(act?.kind).encode(act),
    decode: (bytes) => forId(readFramedId(bytes, 'act')).decode(bytes),
    encodeForNats: (act) => forKind(act?.kind).encodeForNats(act),
    decodeFromNats: (data, headers) => forId(readNatsId(headers, 'act')).decodeFromNats(data, headers),
  };
}

let shared: ActCodec | undefined;

function sharedActCodec(): ActCodec {
  shared ??= createActCodec();
  return shared;
}

/** Codec of one act kind over the package's registry. */
export function actCodecFor<K extends ActKind>(kind: K): Codec<ActOf<K>> {
  return sharedActCodec().codecFor(kind);
}

/** Confluent-framed bytes of any act, by its kind. */
export function encodeAct(act: Act): Buffer {
  return sharedActCodec().encode(act);
}

/** Any act from Confluent-framed bytes; throws only DecodeError. */
export function decodeAct(bytes: Uint8Array): Act {
  return sharedActCodec().decode(bytes);
}

/** Avro body + NATS headers of any act, by its kind. */
export function encodeActForNats(act: Act): { data: Buffer; headers: Record<string, string> } {
  return sharedActCodec().encodeForNats(act);
}

/** Any act from a NATS message body and headers; throws only DecodeError. */
export function decodeActFromNats(data: Uint8Array, headers: NatsHeaderSource): Act {
  return sharedActCodec().decodeFromNats(data, headers);
}
