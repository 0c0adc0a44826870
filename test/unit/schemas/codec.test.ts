import { describe, expect, it } from 'vitest';
import { CacheSageError, ConfigError, DecodeError, EncodeError } from '../../../core/errors.js';
import {
  actCodecFor,
  createActCodec,
  decodeAct,
  decodeActFromNats,
  encodeAct,
  encodeActForNats,
} from '../../../schemas/act-codec.js';
import {
  type Codec,
  createCodec,
  HEADER_BYTES,
  readFramedId,
  SCHEMA_ID_HEADER,
  SCHEMA_NAMES,
  type SchemaName,
  TYPE_HEADER,
} from '../../../schemas/codec.js';
import { defaultSchemaRegistry } from '../../../schemas/registry.js';
import type { Act, EvictionHints, RequestEvent } from '../../../schemas/types.js';
import { EDGE_HASHES, INT64_MAX, INT64_MIN, prng, randomHashes, SAMPLES } from './codec-samples.js';

const codecs = Object.fromEntries(SCHEMA_NAMES.map((name) => [name, createCodec(name)])) as {
  [K in SchemaName]: Codec<unknown>;
};

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('codec round trip', () => {
  for (const name of SCHEMA_NAMES) {
    it(`${name}: Kafka framing and NATS body give back the value`, () => {
      const codec = codecs[name];
      expect(codec.name).toBe(`dev.cachesage.${name}`);
      for (const value of SAMPLES[name]) {
        const framed = codec.encode(value);
        expect(framed[0]).toBe(0);
        expect(framed.readUInt32BE(1)).toBe(codec.schemaId);
        expect(codec.decode(framed)).toEqual(value);
        expect(codec.decode(new Uint8Array(framed))).toEqual(value);

        const nats = codec.encodeForNats(value);
        expect(nats.headers).toEqual({ [SCHEMA_ID_HEADER]: String(codec.schemaId), [TYPE_HEADER]: codec.name });
        expect(Buffer.compare(nats.data, framed.subarray(HEADER_BYTES))).toBe(0);
        expect(codec.decodeFromNats(nats.data, nats.headers)).toEqual(value);
        expect(codec.decodeBody(nats.data, codec.schemaId)).toEqual(value);
      }
    });
  }

  it('keeps every signed 64-bit hash exact, at the extremes and at random', () => {
    const codec = createCodec('KvEvent');
    const base = SAMPLES.KvEvent[0]!;
    const hashes = [...EDGE_HASHES, ...randomHashes(prng(7), 5000)];
    for (let i = 0; i < 64; i++) hashes.push(1n << BigInt(i), -(1n << BigInt(i)), (1n << BigInt(i)) - 1n);
    const kept = hashes.filter((h) => h >= INT64_MIN && h <= INT64_MAX);
    const back = codec.decode(codec.encode({ ...base, blockHashes: kept, parentHash: INT64_MAX }));
    expect(back.blockHashes).toEqual(kept);
    expect(back.blockHashes.every((h) => typeof h === 'bigint')).toBe(true);
    expect(back.parentHash).toBe(INT64_MAX);
  });

  it('writes hashes as plain Avro longs (zigzag varints), readable by any Avro reader', () => {
    const codec = createCodec('Pin');
    const pin = { ...SAMPLES.Pin[0]!, blockHashes: [-1n, 1n, INT64_MAX, INT64_MIN] };
    const plain = codec.type.schema() as { fields: { name: string; type: unknown }[] };
    expect(plain.fields.find((f) => f.name === 'blockHashes')?.type).toEqual({ type: 'array', items: 'long' });
    const body = codec.encodeForNats(pin).data;
    const tail = [
      0x08, // block of 4 items
      0x01, // -1
      0x02, // 1
      ...[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // 2^63 - 1
      ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // -2^63
      0x00, // end of array
    ];
    const at = body.length - tail.length - 3; // pinTtlMs 30000 takes 3 bytes
    expect([...body.subarray(at, at + tail.length)]).toEqual(tail);
  });

  it('grows its encode buffer for large records', () => {
    const codec = createCodec('RequestEvent', { initialBufferBytes: 64 });
    const big = {
      ...SAMPLES.RequestEvent[0]!,
      blockHashes: randomHashes(prng(1), 20_000),
      toolCall: 'x'.repeat(70_000),
    };
    expect(codec.decode(codec.encode(big))).toEqual(big);
    expect(codec.decode(codec.encode(SAMPLES.RequestEvent[1]!))).toEqual(SAMPLES.RequestEvent[1]);
  });

  it('validates its options', () => {
    for (const initialBufferBytes of [0, -1, 1.5, 2 ** 31]) {
      expect(() => createCodec('Pin', { initialBufferBytes })).toThrow(ConfigError);
    }
  });

  it('fills fields that have a default when the value omits them', () => {
    const codec = createCodec('RequestEvent');
    const { outputTokens: _o, toolCall: _t, ...partial } = SAMPLES.RequestEvent[0]!;
    const back = codec.decode(codec.encode(partial as RequestEvent));
    expect(back).toEqual({ ...partial, outputTokens: 0, toolCall: null });
    const model = createCodec('ModelUpdate');
    const { bucketMs: _b, buckets: _bs, ...counts } = SAMPLES.ModelUpdate[0]!;
    expect(model.decode(model.encode(counts))).toEqual({ ...counts, bucketMs: 0, buckets: [] });
    const dlq = createCodec('DeadLetter');
    const { key: _k, headers: _h, ...letter } = SAMPLES.DeadLetter[0]!;
    expect(dlq.decode(dlq.encode(letter))).toEqual({ ...letter, key: null, headers: {} });
  });
});

describe('schema evolution', () => {
  const registry = defaultSchemaRegistry();
  const v1 = registry.byId(1)!;

  it('reads RequestEvent v1 bytes under the current reader, with defaults for the new fields', () => {
    expect(v1.name).toBe('dev.cachesage.RequestEvent');
    expect(v1.version).toBe(1);
    const codec = createCodec('RequestEvent');
    expect(codec.schemaId).not.toBe(v1.id);
    const { outputTokens: _o, toolCall: _t, ...old } = SAMPLES.RequestEvent[0]!;
    const body = v1.type.toBuffer(old);
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, v1.id]), body]);
    expect(readFramedId(framed)).toBe(1);
    expect(codec.decode(framed)).toEqual({ ...old, outputTokens: 0, toolCall: null });
    expect(codec.decodeFromNats(body, { [SCHEMA_ID_HEADER]: '1' })).toEqual({
      ...old,
      outputTokens: 0,
      toolCall: null,
    });
  });

  it('reads EvictionHints v1 acts (NATS, schema id 3) with fromBlock 0 in every entry, and writes v2', () => {
    const hv1 = registry.byId(3)!;
    expect(hv1).toMatchObject({ name: 'dev.cachesage.EvictionHints', version: 1 });
    const sample = SAMPLES.EvictionHints[0] as EvictionHints;
    const old = { ...sample, entries: sample.entries.map(({ fromBlock: _f, ...e }) => e) };
    const decoded = decodeActFromNats(hv1.type.toBuffer(old), { [SCHEMA_ID_HEADER]: '3' });
    expect(decoded).toEqual({ ...old, entries: old.entries.map((e) => ({ ...e, fromBlock: 0 })) });
    const { headers } = encodeActForNats(sample);
    expect(headers[SCHEMA_ID_HEADER]).toBe(String(registry.latest('EvictionHints').id));
    expect(registry.latest('EvictionHints').version).toBe(2);
  });

  it('fails cleanly on v1 bytes that are truncated or carry trailing data', () => {
    const codec = createCodec('RequestEvent');
    const { outputTokens: _o, toolCall: _t, ...old } = SAMPLES.RequestEvent[1]!;
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), v1.type.toBuffer(old)]);
    for (let cut = 0; cut < framed.length; cut++) {
      expect(thrown(() => codec.decode(framed.subarray(0, cut)))).toBeInstanceOf(DecodeError);
    }
    const err = thrown(() => codec.decode(Buffer.concat([framed, Buffer.from([0])])));
    expect(err).toMatchObject({ code: 'DECODE_FAILED' });
  });
});

describe('encode errors', () => {
  function encodeError(fn: () => unknown): EncodeError {
    const err = thrown(fn);
    expect(err).toBeInstanceOf(EncodeError);
    expect((err as EncodeError).code).toBe('ENCODE_FAILED');
    expect((err as EncodeError).retriable).toBe(false);
    return err as EncodeError;
  }

  it('names the offending field path', () => {
    const hints = createCodec('EvictionHints');
    const base = SAMPLES.EvictionHints[0]!;
    const bad = {
      ...base,
      entries: [base.entries[0]!, { contextId: null, blockHashes: [1n, 2n, 3 as unknown as bigint], priority: 1 }],
    };
    const err = encodeError(() => hints.encode(bad));
    expect(err.details?.path).toBe('entries.1.blockHashes.2');
    expect(err.message).toContain('entries.1.blockHashes.2');
  });

  it('refuses hashes outside the signed 64-bit range, missing fields, wrong types and unknown symbols', () => {
    const kv = createCodec('KvEvent');
    const base = SAMPLES.KvEvent[0]!;
    expect(encodeError(() => kv.encode({ ...base, parentHash: INT64_MAX + 1n })).details?.path).toBe('parentHash');
    expect(encodeError(() => kv.encode({ ...base, blockHashes: [INT64_MIN - 1n] })).details?.path).toBe(
      'blockHashes.0',
    );
    const { engineId: _e, ...missing } = base;
    expect(encodeError(() => kv.encode(missing as typeof base)).details?.path).toBe('engineId');
    expect(encodeError(() => kv.encode({ ...base, seq: 1.5 })).details?.path).toBe('seq');
    expect(encodeError(() => kv.encode({ ...base, kind: 'BLOCK_EATEN' as 'BLOCK_STORED' })).details?.path).toBe('kind');
    expect(encodeError(() => kv.encode({ ...base, tokenIds: [2 ** 31] })).details?.path).toBe('tokenIds.0');
    expect(encodeError(() => kv.encodeForNats(null as unknown as typeof base)).details?.path).toBe('(root)');
    const pin = createCodec('Pin');
    expect(encodeError(() => pin.encode({ ...SAMPLES.Pin[0]!, kind: 'evict' as 'pin' })).details?.path).toBe('kind');
  });
});

describe('act codec', () => {
  const acts: Act[] = [...SAMPLES.EvictionHints, ...SAMPLES.Prefetch, ...SAMPLES.Pin];

  it('picks the codec by kind and decodes into the Act union, on Kafka and on NATS', () => {
    const codec = createActCodec();
    for (const act of acts) {
      const framed = codec.encode(act);
      expect(readFramedId(framed)).toBe(codec.codecFor(act.kind).schemaId);
      expect(codec.decode(framed)).toEqual(act);
      const nats = codec.encodeForNats(act);
      expect(codec.decodeFromNats(nats.data, nats.headers)).toEqual(act);
      expect(decodeAct(encodeAct(act))).toEqual(act);
      const shared = encodeActForNats(act);
      expect(decodeActFromNats(shared.data, shared.headers)).toEqual(act);
    }
    expect(actCodecFor('prefetch').name).toBe('dev.cachesage.Prefetch');
  });

  it('reads NATS headers from a nats.js-like headers object', () => {
    const act = SAMPLES.Prefetch[0]!;
    const { data, headers } = encodeActForNats(act);
    const msgHdrs = { get: (name: string) => headers[name] ?? '' };
    expect(decodeActFromNats(data, msgHdrs)).toEqual(act);
    expect(thrown(() => decodeActFromNats(data, { get: () => '' }))).toMatchObject({ code: 'DECODE_FAILED' });
  });

  it('refuses an unknown kind when encoding and a non-act schema when decoding', () => {
    const err = thrown(() => encodeAct({ ...SAMPLES.Pin[0]!, kind: 'warm' } as unknown as Act));
    expect(err).toBeInstanceOf(EncodeError);
    const kv = createCodec('KvEvent').encode(SAMPLES.KvEvent[0]!);
    expect(thrown(() => decodeAct(kv))).toMatchObject({ code: 'DECODE_FAILED' });
    expect(thrown(() => decodeAct(Buffer.from([0, 0, 1, 0, 0, 0])))).toMatchObject({ code: 'UNKNOWN_SCHEMA' });
    expect(thrown(() => createActCodec().codecFor('warm' as 'pin'))).toBeInstanceOf(CacheSageError);
  });
});

describe('NATS headers', () => {
  const codec = createCodec('SessionPosition');
  const value = SAMPLES.SessionPosition[0]!;
  const { data, headers } = codec.encodeForNats(value);

  it('rejects a missing, empty or malformed schema-id header with DECODE_FAILED', () => {
    for (const bad of [{}, { [SCHEMA_ID_HEADER]: '' }, { [SCHEMA_ID_HEADER]: '7x' }, { [SCHEMA_ID_HEADER]: '-7' }]) {
      const err = thrown(() => codec.decodeFromNats(data, bad));
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).code).toBe('DECODE_FAILED');
    }
    expect(thrown(() => codec.decodeFromNats(data, { [SCHEMA_ID_HEADER]: '99999999999' }))).toMatchObject({
      code: 'DECODE_FAILED',
    });
    expect(thrown(() => codec.decodeFromNats(data, null as never))).toBeInstanceOf(DecodeError);
    expect(
      thrown(() =>
        codec.decodeFromNats(data, {
          get() {
            throw new TypeError('boom');
          },
        }),
      ),
    ).toBeInstanceOf(DecodeError);
  });

  it('rejects an unknown id with UNKNOWN_SCHEMA and another record type with DECODE_FAILED', () => {
    expect(thrown(() => codec.decodeFromNats(data, { [SCHEMA_ID_HEADER]: '4000000000' }))).toMatchObject({
      code: 'UNKNOWN_SCHEMA',
    });
    expect(thrown(() => codec.decodeFromNats(data, { ...headers, [SCHEMA_ID_HEADER]: '2' }))).toMatchObject({
      code: 'DECODE_FAILED',
    });
  });
});
