import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, readValue, writeValue } from '../../../policies/cachesage/codec.js';
import { BlockHashSet } from '../../../schemas/block-hash-set.js';

/** Deterministic 64-bit values with many equal low halves (colliding slots) and the extremes. */
function hashes(n: number, seed: number): bigint[] {
  let x = seed >>> 0;
  const next = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
  const out: bigint[] = [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n];
  for (let i = out.length; i < n; i++) {
    const lo = i % 3 === 0 ? 7 : next();
    out.push(BigInt.asIntN(64, (BigInt(next()) << 32n) | BigInt(lo)));
  }
  return out;
}

describe('BlockHashSet', () => {
  it('behaves as a Set<bigint> under random adds, deletes and lookups (growth and collisions included)', () => {
    const pool = hashes(3000, 1);
    const set = new BlockHashSet();
    const ref = new Set<bigint>();
    let r = 12345;
    for (let i = 0; i < 40_000; i++) {
      r = (Math.imul(r, 1103515245) + 12345) >>> 0;
      const h = pool[r % pool.length] as bigint;
      const op = (r >>> 16) % 3;
      if (op === 0) {
        set.add(h);
        ref.add(h);
      } else if (op === 1) expect(set.delete(h)).toBe(ref.delete(h));
      else expect(set.has(h)).toBe(ref.has(h));
      expect(set.size).toBe(ref.size);
    }
    expect(new Set(set)).toEqual(ref);
    for (const h of pool) expect(set.has(h)).toBe(ref.has(h));
  });

  it('keeps every hash after deleting inside a probe run (backward shift)', () => {
    const same = [1n, 2n, 3n, 4n, 5n].map((k) => BigInt.asIntN(64, (k << 32n) | 9n));
    const set = new BlockHashSet(same);
    expect(set.delete(same[1] as bigint)).toBe(true);
    expect(set.delete(same[1] as bigint)).toBe(false);
    expect([...same].filter((h) => set.has(h))).toEqual([same[0], same[2], same[3], same[4]]);
    set.clear();
    expect(set.size).toBe(0);
    expect(set.has(same[0] as bigint)).toBe(false);
    set.add(same[0] as bigint);
    expect([...set]).toEqual([same[0]]);
  });

  it('stays at most half full', () => {
    const set = new BlockHashSet(hashes(1000, 2));
    expect(set.size).toBe(1000);
    expect(set.capacity).toBeGreaterThanOrEqual(2000);
    expect(set.capacity & (set.capacity - 1)).toBe(0);
  });

  it('restores its exact layout from its slots, and through the state codec', () => {
    const set = new BlockHashSet(hashes(500, 3));
    for (const h of hashes(200, 3)) set.delete(h);
    const copy = BlockHashSet.fromSlots(set.capacity, set.slots());
    expect(copy).toEqual(set);
    const w = new ByteWriter();
    writeValue(w, { resident: set });
    expect(readValue(new ByteReader(w.bytes()))).toEqual({ resident: set });
  });

  it('refuses a layout it could not have had', () => {
    expect(() => BlockHashSet.fromSlots(24, [])).toThrow(/power of two/);
    expect(() => BlockHashSet.fromSlots(2 ** 30, [])).toThrow(/power of two/);
    expect(() => BlockHashSet.fromSlots(16, [[16, 1n]])).toThrow(/out of range/);
    expect(() =>
      BlockHashSet.fromSlots(16, [
        [3, 1n],
        [3, 2n],
      ]),
    ).toThrow(/used twice/);
    const full = Array.from({ length: 9 }, (_, i) => [i, BigInt(i)] as const);
    expect(() => BlockHashSet.fromSlots(16, full)).toThrow(/overfill/);
  });
});
