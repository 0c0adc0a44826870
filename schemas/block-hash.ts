/**
 * The layer's block-hash space (DESIGN §4).
 *
 * A block is `BLOCK_SIZE` (16) consecutive token ids of a prompt. Its hash is chained: it covers the parent block's
 * hash and the block's own token ids, so equal hashes mean equal prefixes (up to 64-bit collisions). The value is a
 * signed 64-bit integer (Avro `long`, TypeScript `bigint`). The root parent is `ROOT_HASH` (0).
 *
 * Definition (stable; the simulator, the vLLM bridge and the tagging proxy all call this module):
 *   lo = murmur3_32(words, seed 0x9747b28c), hi = murmur3_32(words, seed 0x5bd1e995)
 *   words = [parent low 32 bits, parent high 32 bits, token_0, ..., token_15]
 *   hash = int64((hi << 32) | lo)
 * Only full blocks are hashed; a trailing partial block has no hash and is never cached.
 */
export const BLOCK_SIZE = 16;
export const ROOT_HASH = 0n;

const SEED_LO = 0x9747b28c;
const SEED_HI = 0x5bd1e995;
const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixWord(h: number, k: number): number {
  let x = Math.imul(k, C1);
  x = (x << 15) | (x >>> 17);
  x = Math.imul(x, C2);
  let y = h ^ x;
  y = (y << 13) | (y >>> 19);
  return (Math.imul(y, 5) + 0xe6546b64) | 0;
}

function finish(h: number, lengthWords: number): number {
  let x = h ^ (lengthWords * 4);
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Hash of one block given its parent's 32-bit halves; returns [lo, hi] as unsigned 32-bit numbers. */
function hashHalves(
  parentLo: number,
  parentHi: number,
  tokens: ArrayLike<number>,
  start: number,
  blockSize: number,
): [number, number] {
  let a = mixWord(SEED_LO, parentLo);
  let b = mixWord(SEED_HI, parentLo);
  a = mixWord(a, parentHi);
  b = mixWord(b, parentHi);
  for (let i = start; i < start + blockSize; i++) {
    const t = tokens[i] as number;
    a = mixWord(a, t);
    b = mixWord(b, t);
  }
  return [finish(a, blockSize + 2), finish(b, blockSize + 2)];
}

function toBigInt(lo: number, hi: number): bigint {
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

/** Hash of the block `tokens[start .. start+blockSize)` chained after `parent`. */
export function hashBlock(parent: bigint, tokens: ArrayLike<number>, start = 0, blockSize = BLOCK_SIZE): bigint {
  const u = BigInt.asUintN(64, parent);
  const [lo, hi] = hashHalves(Number(u & 0xffffffffn), Number(u >> 32n), tokens, start, blockSize);
  return toBigInt(lo, hi);
}

/**
 * Hashes of every full block of `tokens`, head to tail, chained from `parent` (ROOT_HASH for a whole prompt).
 * A trailing partial block is ignored.
 */
export function blockHashes(tokens: ArrayLike<number>, parent: bigint = ROOT_HASH, blockSize = BLOCK_SIZE): bigint[] {
  const n = Math.floor(tokens.length / blockSize);
  const out = new Array<bigint>(n);
  const u = BigInt.asUintN(64, parent);
  let lo = Number(u & 0xffffffffn);
  let hi = Number(u >> 32n);
  for (let b = 0; b < n; b++) {
    [lo, hi] = hashHalves(lo, hi, tokens, b * blockSize, blockSize);
    out[b] = toBigInt(lo, hi);
  }
  return out;
}

/** Same as `blockHashes` but writes into a preallocated BigInt64Array (no per-block allocation of arrays). */
export function blockHashesInto(
  tokens: ArrayLike<number>,
  out: BigInt64Array,
  parent: bigint = ROOT_HASH,
  blockSize = BLOCK_SIZE,
): number {
  const n = Math.min(Math.floor(tokens.length / blockSize), out.length);
  const u = BigInt.asUintN(64, parent);
  let lo = Number(u & 0xffffffffn);
  let hi = Number(u >> 32n);
  for (let b = 0; b < n; b++) {
    [lo, hi] = hashHalves(lo, hi, tokens, b * blockSize, blockSize);
    out[b] = toBigInt(lo, hi);
  }
  return n;
}
