import avro from 'avsc';
import { HI, LO, SLOT32, SLOT64 } from './hash-slot.js';

/**
 * avsc types the layer's schemas are parsed with:
 * - `{"type": "long", "logicalType": "block-hash"}` reads and writes a TypeScript `bigint` (the full signed 64-bit
 *   range). On the wire it is a plain Avro `long`; readers in other languages ignore the logical type.
 * - arrays and maps refuse a block count larger than the bytes left in the buffer, so hostile bytes can neither make
 *   the decoder allocate huge arrays nor loop for a long time.
 * - `int` refuses varints outside the signed 32-bit range (avsc would return the larger number).
 * Every other `long` stays a JavaScript number (timestamps, sequence numbers, offsets).
 */
export const BLOCK_HASH_LOGICAL_TYPE = 'block-hash';

const TWO_32 = 4294967296;

/** The subset of avsc's internal `Tap` these types use. */
interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  skipLong(): void;
  readString(): string;
  writeLong(n: number): void;
  isValid(): boolean;
  _invalidate(): void;
}

interface Resolver {
  _read: (tap: Tap) => unknown;
  itemsType?: { _read(tap: Tap): unknown };
  valuesType?: { _read(tap: Tap): unknown };
}

interface InternalType {
  typeName: string;
  _read(tap: Tap): unknown;
}

type ErrorHook = (val: unknown, type: unknown) => void;

const internals = avro.types as unknown as Record<string, new (...args: unknown[]) => object>;
const LongBase = internals.LongType as new () => object;
const IntBase = internals.IntType as new () => object;
const ArrayBase = internals.ArrayType as new (schema: unknown, opts: unknown) => object;
const MapBase = internals.MapType as new (schema: unknown, opts: unknown) => object;

function readBlockHash(tap: Tap): bigint {
  const buf = tap.buf;
  let pos = tap.pos;
  let lo = 0;
  let hi = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) {
      tap.pos = buf.length + 1;
      return 0n;
    }
    if (shift > 63) throw new Error('invalid long: varint longer than 10 bytes');
    const v = b & 0x7f;
    if (shift < 28) lo |= v << shift;
    else if (shift === 28) {
      lo |= v << 28;
      hi |= v >>> 4;
    } else hi |= v << (shift - 32);
    shift += 7;
    if ((b & 0x80) === 0) break;
  }
  tap.pos = pos;
  const neg = -(lo & 1);
  SLOT32[LO] = ((lo >>> 1) | (hi << 31)) ^ neg;
  SLOT32[HI] = (hi >>> 1) ^ neg;
  return SLOT64[0] as bigint;
}

function writeBlockHash(tap: Tap, n: bigint): void {
  SLOT64[0] = n;
  const lo = SLOT32[LO] as number;
  const hi = SLOT32[HI] as number;
  const sign = hi >> 31;
  let zLo = ((lo << 1) ^ sign) >>> 0;
  let zHi = (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0;
  const buf = tap.buf;
  let pos = tap.pos;
  while (zHi !== 0 || zLo > 0x7f) {
    buf[pos++] = (zLo & 0x7f) | 0x80;
    zLo = ((zLo >>> 7) | (zHi << 25)) >>> 0;
    zHi >>>= 7;
  }
  buf[pos++] = zLo;
  tap.pos = pos;
}

function isBlockHash(val: unknown): val is bigint {
  return typeof val === 'bigint' && BigInt.asIntN(64, val) === val;
}

/** Avro `long` <-> `bigint` (any signed 64-bit value). */
class BlockHashType extends LongBase {
  _check(val: unknown, _flags: unknown, hook?: ErrorHook): boolean {
    const ok = isBlockHash(val);
    if (!ok && hook) hook(val, this);
    return ok;
  }

  _read(tap: Tap): bigint {
    return readBlockHash(tap);
  }

  _write(tap: Tap, val: unknown): void {
    if (!isBlockHash(val)) throw new Error(`invalid block hash (expected a signed 64-bit bigint): ${String(val)}`);
    writeBlockHash(tap, val);
  }

  _match(tap1: Tap, tap2: Tap): number {
    return this.compare(readBlockHash(tap1), readBlockHash(tap2));
  }

  _copy(val: unknown, opts?: { coerce?: number }): unknown {
    if (opts?.coerce === 3) return typeof val === 'bigint' ? Number(val) : val;
    if (typeof val === 'bigint') return val;
    if (typeof val === 'number' || typeof val === 'string') return BigInt(val);
    throw new Error(`invalid block hash: ${String(val)}`);
  }

  _update(resolver: Resolver, writer: InternalType): void {
    switch (writer.typeName) {
      case 'int':
        resolver._read = (tap) => BigInt(writer._read(tap) as number);
        break;
      case 'long':
      case 'abstract:long':
        resolver._read = readBlockHash;
    }
  }

  _deref(): string {
    return 'long';
  }

  compare(a: bigint, b: bigint): number {
    return a < b ? -1 : a > b ? 1 : 0;
  }

  random(): bigint {
    const half = () => BigInt(Math.floor(Math.random() * TWO_32));
    return BigInt.asIntN(64, (half() << 32n) | half());
  }
}
// "abstract:" makes avsc test bigint values against the type inside unions (its value buckets know no bigint).
Object.defineProperty(BlockHashType.prototype, 'typeName', { value: 'abstract:long' });
Object.defineProperty(BlockHashType.prototype, '_concreteTypeName', { value: 'long' });

/** Avro int that refuses a varint outside the signed 32-bit range instead of returning a larger number. */
class SafeIntType extends IntBase {
  _read(tap: Tap): number {
    const n = tap.readLong();
    if ((n | 0) !== n && tap.isValid()) throw new Error(`invalid int: ${n} is out of the 32-bit range`);
    return n;
  }
}

/** Reads one block count; invalidates the tap when the count cannot fit in the bytes left. */
function readBlockCount(tap: Tap): number {
  let n = tap.readLong();
  if (n < 0) {
    n = -n;
    tap.skipLong();
  }
  if (!(n <= tap.buf.length - tap.pos)) {
    tap._invalidate();
    return 0;
  }
  return n;
}

function readArray(this: { itemsType: { _read(tap: Tap): unknown } }, tap: Tap): unknown[] {
  const items = this.itemsType;
  let val: unknown[] | undefined;
  let i = 0;
  for (let n = readBlockCount(tap); n !== 0; n = readBlockCount(tap)) {
    if (val === undefined) val = new Array(n);
    while (n--) val[i++] = items._read(tap);
  }
  return val ?? [];
}

function readMap(this: { valuesType: { _read(tap: Tap): unknown } }, tap: Tap): Record<string, unknown> {
  const values = this.valuesType;
  const val: Record<string, unknown> = Object.create(null);
  for (let n = readBlockCount(tap); n !== 0; n = readBlockCount(tap)) {
    while (n--) {
      const key = tap.readString();
      val[key] = values._read(tap);
    }
  }
  return val;
}

/** Avro array whose decoder bounds block counts by the bytes left (every item takes at least one byte). */
class SafeArrayType extends ArrayBase {
  _read(tap: Tap): unknown[] {
    return readArray.call(this as unknown as { itemsType: { _read(tap: Tap): unknown } }, tap);
  }
}

/** Avro map with bounded block counts, decoded into a prototype-less object (no `__proto__` surprises). */
class SafeMapType extends MapBase {
  _read(tap: Tap): Record<string, unknown> {
    return readMap.call(this as unknown as { valuesType: { _read(tap: Tap): unknown } }, tap);
  }
}

function typeHook(schema: unknown, opts: unknown): avro.Type | undefined {
  if (schema === 'int') return new SafeIntType() as unknown as avro.Type;
  if (schema === null || typeof schema !== 'object') return undefined;
  const s = schema as { type?: unknown; logicalType?: unknown };
  if (s.type === 'int' && s.logicalType === undefined) return new SafeIntType() as unknown as avro.Type;
  if (s.type === 'long' && s.logicalType === BLOCK_HASH_LOGICAL_TYPE)
    return new BlockHashType() as unknown as avro.Type;
  if (s.type === 'array') return new SafeArrayType(schema, opts) as unknown as avro.Type;
  if (s.type === 'map') return new SafeMapType(schema, opts) as unknown as avro.Type;
  return undefined;
}

/** Parses one schema (a JSON value, not text) with the layer's types. Throws avsc's error on an invalid schema. */
export function parseAvroSchema(schema: unknown): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, {
    typeHook: typeHook as never,
    wrapUnions: 'never',
    omitRecordMethods: true,
    registry: {},
  });
}
