/**
 * One 64-bit scratch slot seen as a bigint and as two 32-bit halves: the cheapest bigint <-> (lo, hi) conversion.
 * Write `SLOT64[0]` and read `SLOT32[LO]`, `SLOT32[HI]`, or the other way round; `LO`/`HI` follow the platform's
 * byte order, so the halves are the hash's low and high 32 bits everywhere.
 */
const SLOT = new ArrayBuffer(8);
export const SLOT64 = new BigInt64Array(SLOT);
export const SLOT32 = new Int32Array(SLOT);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
export const LO = LITTLE_ENDIAN ? 0 : 1;
export const HI = LITTLE_ENDIAN ? 1 : 0;
