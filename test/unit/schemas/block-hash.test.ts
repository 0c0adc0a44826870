import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE, blockHashes, blockHashesInto, hashBlock, ROOT_HASH } from '../../../schemas/block-hash.js';

const tokens = Array.from({ length: 16 * 5 + 7 }, (_, i) => (i * 7919) % 128_256);

describe('block hash space', () => {
  it('hashes only full blocks, chained from the root', () => {
    const hs = blockHashes(tokens);
    expect(hs).toHaveLength(5);
    expect(hs[0]).toBe(hashBlock(ROOT_HASH, tokens, 0));
    expect(hs[1]).toBe(hashBlock(hs[0]!, tokens, BLOCK_SIZE));
  });

  it('is a prefix function: equal prefixes give equal hashes, a changed token changes every later hash', () => {
    const other = [...tokens];
    other[40] = (other[40]! + 1) % 128_256;
    const a = blockHashes(tokens);
    const b = blockHashes(other);
    expect(b.slice(0, 2)).toEqual(a.slice(0, 2));
    for (let i = 2; i < 5; i++) expect(b[i]).not.toBe(a[i]);
  });

  it('gives signed 64-bit values and agrees with the typed-array variant', () => {
    const hs = blockHashes(tokens);
    for (const h of hs) {
      expect(h).toBe(BigInt.asIntN(64, h));
    }
    const out = new BigInt64Array(8);
    expect(blockHashesInto(tokens, out)).toBe(5);
    expect(Array.from(out.slice(0, 5))).toEqual(hs);
  });

  it('depends on the parent', () => {
    const block = tokens.slice(0, 16);
    expect(hashBlock(1n, block)).not.toBe(hashBlock(2n, block));
    expect(hashBlock(-1n, block)).toBe(hashBlock(BigInt.asUintN(64, -1n), block));
  });

  it('has no collisions over many distinct blocks', () => {
    const seen = new Set<bigint>();
    const blk = new Array<number>(16).fill(0);
    for (let i = 0; i < 50_000; i++) {
      blk[0] = i & 0xffff;
      blk[1] = i >>> 16;
      seen.add(hashBlock(ROOT_HASH, blk));
    }
    expect(seen.size).toBe(50_000);
  });
});
