import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../../core/errors.js';
import {
  ByteReader,
  ByteWriter,
  readCountTable,
  readRows,
  readValue,
  writeCountTable,
  writeRows,
  writeValue,
} from '../../../../policies/cachesage/codec.js';
import { decodeWorkloadModel, encodeWorkloadModel } from '../../../../policies/cachesage/snapshot.js';
import { CacheSageDriver } from './driver.js';

function roundTrip(v: unknown): unknown {
  const w = new ByteWriter();
  writeValue(w, v);
  const r = new ByteReader(w.bytes());
  const out = readValue(r);
  expect(r.done).toBe(true);
  return out;
}

describe('CacheSage state codec', () => {
  it('round-trips every supported value exactly', () => {
    const value = {
      ints: [0, 1, -1, 127, 128, -300, 2 ** 40, -(2 ** 52), Number.MAX_SAFE_INTEGER],
      floats: [0.1, -2.5e-300, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 60],
      negativeZero: -0,
      text: 'agent é ü 🚀',
      ascii: ['', 'Planner', 'x'.repeat(70), 'y'.repeat(0x4000)],
      flags: [true, false, null, undefined],
      hashes: [0n, -1n, 9223372036854775807n, -9223372036854775808n],
      mixed: [1n, 2, 'three'],
      map: new Map<unknown, unknown>([
        [1, new Map([[2, 3]])],
        ['k', new Set(['a', 1n])],
      ]),
      counts: Float64Array.of(0, 3, 7),
      weights: Float64Array.of(0.5, -1, Number.NaN),
      samples: Uint32Array.of(0, 1, 0xffffffff),
      nested: { a: { b: [[1], []] } },
    };
    const back = roundTrip(value) as typeof value;
    expect(back).toEqual(value);
    expect(back.mixed.map((x) => typeof x)).toEqual(['bigint', 'number', 'string']);
    expect(Object.is(back.negativeZero, -0)).toBe(true);
  });

  it('round-trips sparse count tables and rows, integers or not', () => {
    const table = new Map<number, Float64Array>([
      [2 ** 40 + 5, Float64Array.of(0, 4, 0, 1)],
      [3, Float64Array.of(0, 0, 0, 0)],
      [9, Float64Array.of(2, 0, 0, 0)],
    ]);
    const fractional = new Map<number, Float64Array>([[1, Float64Array.of(0.5, 0, 1.25, 0)]]);
    const rows = new Map([
      [0, new Map([[1048575, 3]])],
      [7, new Map<number, number>()],
    ]);
    const w = new ByteWriter();
    writeCountTable(w, table, 4);
    writeCountTable(w, fractional, 4);
    writeRows(w, rows);
    const r = new ByteReader(w.bytes());
    expect(readCountTable(r, 4)).toEqual(table);
    expect(readCountTable(r, 4)).toEqual(fractional);
    expect(readRows(r)).toEqual(rows);
    expect(r.done).toBe(true);
  });

  it('fails with DecodeError on truncated or unknown input', () => {
    const w = new ByteWriter();
    writeValue(w, { a: [1, 2, 3], b: 'text' });
    const bytes = w.bytes();
    expect(() => readValue(new ByteReader(bytes.subarray(0, bytes.length - 2)))).toThrow(DecodeError);
    expect(() => readValue(new ByteReader(Uint8Array.of(200)))).toThrow(DecodeError);
    expect(() => writeValue(new ByteWriter(), () => 1)).toThrow(DecodeError);
  });

  it('encodes a learned workload model compactly and decodes it to an equal model', () => {
    const d = new CacheSageDriver();
    for (let i = 0; i < 20; i++) for (const a of ['A', 'B', 'C', 'B', 'A']) d.step(`s${i}`, a, { outputTokens: 30 });
    const w = d.state.workloads.get('w1');
    if (w === undefined) throw new Error('no model');
    const bytes = encodeWorkloadModel(w);
    expect(decodeWorkloadModel(bytes)).toEqual(w);
    expect(bytes.length).toBeLessThan(8 * 1024);
  });
});
