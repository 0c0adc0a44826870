import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../core/errors.js';
import { createActCodec } from '../../../schemas/act-codec.js';
import { type Codec, createCodec, SCHEMA_ID_HEADER, SCHEMA_NAMES, type SchemaName } from '../../../schemas/codec.js';
import { defaultSchemaRegistry } from '../../../schemas/registry.js';
import type { Act } from '../../../schemas/types.js';
import { prng, SAMPLES } from './codec-samples.js';

const registry = defaultSchemaRegistry();
const codecs = SCHEMA_NAMES.map((name) => createCodec(name)) as Codec<unknown>[];
const codecOf = (name: SchemaName) => codecs[SCHEMA_NAMES.indexOf(name)]!;
const acts = createActCodec();

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

/** Decodes and classifies: any throw that is not a DecodeError fails the test right here. */
function attempt(fn: () => unknown): Outcome {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (!(err instanceof DecodeError)) throw new Error(`not a DecodeError: ${String(err)}`, { cause: err });
    expect(err.retriable).toBe(false);
    return { ok: false, code: err.code };
  }
}

function framed(id: number, body: Uint8Array | number[]): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(id, 1);
  return Buffer.concat([head, Buffer.from(body)]);
}

/** Zigzag varint of a non-negative or negative safe integer (Avro int/long). */
function varint(n: number): number[] {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (z >= 0x80) {
    out.push((z % 0x80) | 0x80);
    z = Math.floor(z / 0x80);
  }
  out.push(z);
  return out;
}

const str = (s: string) => [...varint(Buffer.byteLength(s)), ...Buffer.from(s)];

describe('malformed input gives DecodeError, never anything else', () => {
  it('wrong magic byte, short header, unknown id, other record type', () => {
    const kv = codecOf('KvEvent');
    const good = kv.encode(SAMPLES.KvEvent[0]);
    for (const magic of [1, 0x7f, 0xff]) {
      const bad = Buffer.from(good);
      bad[0] = magic;
      expect(attempt(() => kv.decode(bad))).toEqual({ ok: false, code: 'DECODE_FAILED' });
    }
    for (let n = 0; n < 5; n++) {
      expect(attempt(() => kv.decode(good.subarray(0, n)))).toEqual({ ok: false, code: 'DECODE_FAILED' });
    }
    for (const id of [0, registry.entries.length + 1, 0x7fffffff, 0xffffffff]) {
      expect(attempt(() => kv.decode(framed(id, good.subarray(5))))).toEqual({ ok: false, code: 'UNKNOWN_SCHEMA' });
    }
    const pin = codecOf('Pin').encode(SAMPLES.Pin[0]);
    expect(attempt(() => kv.decode(pin))).toEqual({ ok: false, code: 'DECODE_FAILED' });
  });

  it('a tombstone (null value) or anything that is not bytes', () => {
    const kv = codecOf('KvEvent');
    for (const notBytes of [null, undefined, 'abc', 42, {}, [0, 0, 0, 0, 2]]) {
      const value = notBytes as unknown as Uint8Array;
      expect(attempt(() => kv.decode(value))).toEqual({ ok: false, code: 'DECODE_FAILED' });
      expect(attempt(() => kv.decodeFromNats(value, { [SCHEMA_ID_HEADER]: '2' }))).toEqual({
        ok: false,
        code: 'DECODE_FAILED',
      });
      expect(attempt(() => acts.decode(value))).toEqual({ ok: false, code: 'DECODE_FAILED' });
    }
  });

  it('every truncation and every trailing byte of every sample', () => {
    for (const name of SCHEMA_NAMES) {
      const codec = codecOf(name);
      for (const value of SAMPLES[name]) {
        const bytes = codec.encode(value);
        for (let cut = 0; cut < bytes.length; cut++) {
          expect(attempt(() => codec.decode(bytes.subarray(0, cut))).ok).toBe(false);
        }
        for (const extra of [[0], [1, 2, 3], [0xff]]) {
          const longer = Buffer.concat([bytes, Buffer.from(extra)]);
          expect(attempt(() => codec.decode(longer))).toEqual({ ok: false, code: 'DECODE_FAILED' });
        }
      }
    }
  });

  it('huge or hostile length prefixes fail fast without allocating', () => {
    const kv = codecOf('KvEvent');
    const prefix = [...str('e'), ...str('engine-0'), ...varint(1), ...varint(2), ...varint(3), ...varint(0)];
    const hostile: number[][] = [
      [...prefix, ...varint(2 ** 31)], // array block count of 2^31 items
      [...prefix, ...varint(Number.MAX_SAFE_INTEGER)],
      [...prefix, ...varint(-(2 ** 40)), ...varint(8)], // negative count (block with byte size)
      [...prefix, ...Array(12).fill(0xff), 0x01], // over-long varint as count (NaN/Infinity territory)
      [...prefix, ...Array(40).fill(0xff), 0x7f],
      [...varint(2 ** 50), 0x61], // string length of 2^50
      [...varint(-5), 0x61], // negative string length
      [...Array(20).fill(0x80), 0x00], // over-long varint as string length
      [...prefix, ...varint(1), ...Array(11).fill(0xff), 0x01, 0x00], // over-long block-hash varint
      [...prefix, ...varint(3), 0x02, 0x04], // three hashes announced, two present
    ];
    const started = performance.now();
    for (const body of hostile) {
      expect(attempt(() => kv.decode(framed(2, body)))).toEqual({ ok: false, code: 'DECODE_FAILED' });
    }
    const dlq = codecOf('DeadLetter');
    const dlqPrefix = [...str('t'), ...varint(0), ...str('0'), ...str('s'), ...str('r'), ...varint(0), ...str('p')];
    for (const tail of [
      [0x00, ...varint(2 ** 40)],
      [0x02, ...varint(2 ** 52)],
      [0x00, ...varint(-(2 ** 45)), 0x00],
    ]) {
      expect(attempt(() => dlq.decode(framed(8, [...dlqPrefix, ...tail])))).toEqual({
        ok: false,
        code: 'DECODE_FAILED',
      });
    }
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('10,000 random byte strings (seeded)', () => {
    const rand = prng(20_240_611);
    const counts = { ok: 0, failed: 0 };
    for (let i = 0; i < 10_000; i++) {
      const len = Math.floor(rand() * 64);
      const bytes = Buffer.alloc(len);
      for (let j = 0; j < len; j++) bytes[j] = Math.floor(rand() * 256);
      if (i % 2 === 0 && len > 0) bytes[0] = 0; // half of them get past the magic byte
      const codec = codecs[i % codecs.length]!;
      const direct = attempt(() => codec.decode(bytes));
      if (direct.ok) expect(codec.type.isValid(direct.value)).toBe(true);
      const act = attempt(() => acts.decode(bytes));
      if (act.ok) expect(acts.codecFor((act.value as Act).kind).type.isValid(act.value)).toBe(true);
      const nats = attempt(() => codec.decodeFromNats(bytes, { [SCHEMA_ID_HEADER]: String(1 + (i % 12)) }));
      if (nats.ok) expect(codec.type.isValid(nats.value)).toBe(true);
      for (const outcome of [direct, act, nats]) counts[outcome.ok ? 'ok' : 'failed']++;
    }
    expect(counts.failed).toBeGreaterThan(25_000);
  });

  it('random bodies behind a valid header, for every schema id and every reader of that record', () => {
    const rand = prng(99);
    for (const entry of registry.entries) {
      const name = entry.name.split('.').pop() as SchemaName;
      const codec = codecOf(name);
      let decoded = 0;
      for (let i = 0; i < 2_000; i++) {
        const len = Math.floor(rand() * 96);
        const body = Buffer.alloc(len);
        for (let j = 0; j < len; j++) body[j] = rand() < 0.3 ? Math.floor(rand() * 4) : Math.floor(rand() * 256);
        const outcome = attempt(() => codec.decode(framed(entry.id, body)));
        if (outcome.ok) {
          decoded++;
          expect(codec.type.isValid(outcome.value)).toBe(true);
          expect(codec.decode(codec.encode(outcome.value))).toEqual(outcome.value);
        }
        const nats = attempt(() => codec.decodeFromNats(body, { [SCHEMA_ID_HEADER]: String(entry.id) }));
        expect(nats.ok).toBe(outcome.ok);
      }
      expect(decoded).toBeLessThan(2_000);
    }
  });

  it('bit flips of valid encodings either decode to a valid value or fail with DecodeError', () => {
    const rand = prng(5);
    for (const name of SCHEMA_NAMES) {
      const codec = codecOf(name);
      for (const value of SAMPLES[name]) {
        const bytes = codec.encode(value);
        for (let i = 0; i < 300; i++) {
          const mutated = Buffer.from(bytes);
          const at = 5 + Math.floor(rand() * (bytes.length - 5));
          mutated[at] = (mutated[at] as number) ^ (1 << Math.floor(rand() * 8));
          const outcome = attempt(() => codec.decode(mutated));
          if (outcome.ok) expect(codec.type.isValid(outcome.value)).toBe(true);
        }
      }
    }
  });
});
