import { DecodeError } from '../../core/errors.js';
import { BlockHashSet } from '../../schemas/block-hash-set.js';

/**
 * A compact binary encoding of CacheSage's state for changelog-backed stores: exact (a decoded value is equal to the
 * encoded one, numbers bit for bit) and self-describing, so the state can grow fields without a schema. Values are
 * tagged: integers as zigzag varints, other numbers as float64, strings as UTF-8, bigints as 8 bytes, arrays
 * (of bigints: 8 bytes an element, untagged),
 * objects, Maps, Sets, block-hash sets (their slot layout) and typed arrays (integer-only Float64Arrays as varints, Uint32Arrays as 4 bytes each). Count tables that dominate the learned
 * model have their own sparse form (see `writeCountTable`).
 */
const T_UNDEFINED = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_INT = 4;
const T_FLOAT = 5;
const T_STRING = 6;
const T_BIGINT = 7;
const T_ARRAY = 8;
const T_OBJECT = 9;
const T_MAP = 10;
const T_SET = 11;
const T_F64 = 12;
const T_U32 = 13;
const T_HASH_SET = 14;
const T_BIGINT_ARRAY = 15;

function bad(message: string): DecodeError {
  return new DecodeError('DECODE_FAILED', `cachesage state: ${message}`);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ByteWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }

  /** Unsigned integer below 2^53, 7 bits per byte. */
  varint(v: number): void {
    this.room(8);
    let x = v;
    while (x >= 0x80) {
      this.buf[this.length++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.length++] = x;
  }

  /** Signed safe integer (zigzag). */
  int(v: number): void {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }

  i64(v: bigint): void {
    this.room(8);
    this.view.setBigInt64(this.length, v, true);
    this.length += 8;
  }

  str(v: string): void {
    const n = v.length;
    let ascii = n < 0x4000;
    for (let i = 0; ascii && i < n; i++) if (v.charCodeAt(i) > 0x7f) ascii = false;
    if (ascii) {
      // most strings are short ASCII names and field keys: written directly, without a TextEncoder call each
      this.varint(n);
      this.room(n);
      for (let i = 0; i < n; i++) this.buf[this.length++] = v.charCodeAt(i);
      return;
    }
    const bytes = encoder.encode(v);
    this.varint(bytes.length);
    this.room(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

export class ByteReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw bad('truncated');
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }

  varint(): number {
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
      if (scale > 2 ** 56) throw bad('varint too long');
    }
  }

  int(): number {
    const z = this.varint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  str(): string {
    const n = this.varint();
    this.need(n);
    if (n <= 64) {
      let ascii = true;
      for (let i = 0; ascii && i < n; i++) if ((this.buf[this.pos + i] as number) > 0x7f) ascii = false;
      if (ascii) {
        const s = String.fromCharCode.apply(null, this.buf.subarray(this.pos, this.pos + n) as unknown as number[]);
        this.pos += n;
        return s;
      }
    }
    const s = decoder.decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

function isVarintSafe(v: number): boolean {
  return Number.isSafeInteger(v) && !Object.is(v, -0);
}

function allNonNegativeIntegers(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (!(isVarintSafe(v) && v >= 0)) return false;
  }
  return true;
}

/** Writes any value made of the supported types. */
export function writeValue(w: ByteWriter, v: unknown): void {
  if (v === undefined) w.u8(T_UNDEFINED);
  else if (v === null) w.u8(T_NULL);
  else if (v === false) w.u8(T_FALSE);
  else if (v === true) w.u8(T_TRUE);
  else if (typeof v === 'number') {
    if (isVarintSafe(v)) {
      w.u8(T_INT);
      w.int(v);
    } else {
      w.u8(T_FLOAT);
      w.f64(v);
    }
  } else if (typeof v === 'string') {
    w.u8(T_STRING);
    w.str(v);
  } else if (typeof v === 'bigint') {
    w.u8(T_BIGINT);
    w.i64(v);
  } else if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'bigint')) {
    // block-hash lists: 8 bytes an element, no tag each
    w.u8(T_BIGINT_ARRAY);
    w.varint(v.length);
    for (const x of v) w.i64(x);
  } else if (Array.isArray(v)) {
    w.u8(T_ARRAY);
    w.varint(v.length);
    for (const x of v) writeValue(w, x);
  } else if (v instanceof Map) {
    w.u8(T_MAP);
    w.varint(v.size);
    for (const [k, x] of v) {
      writeValue(w, k);
      writeValue(w, x);
    }
  } else if (v instanceof Set) {
    w.u8(T_SET);
    w.varint(v.size);
    for (const x of v) writeValue(w, x);
  } else if (v instanceof BlockHashSet) {
    w.u8(T_HASH_SET);
    w.varint(v.capacity);
    w.varint(v.size);
    let last = 0;
    for (const [slot, hash] of v.slots()) {
      w.varint(slot - last);
      last = slot;
      w.i64(hash);
    }
  } else if (v instanceof Float64Array) {
    w.u8(T_F64);
    w.varint(v.length);
    const ints = allNonNegativeIntegers(v);
    w.u8(ints ? 0 : 1);
    for (const x of v) {
      if (ints) w.varint(x);
      else w.f64(x);
    }
  } else if (v instanceof Uint32Array) {
    w.u8(T_U32);
    w.varint(v.length);
    for (const x of v) w.u32(x);
  } else if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    w.u8(T_OBJECT);
    w.varint(entries.length);
    for (const [k, x] of entries) {
      w.str(k);
      writeValue(w, x);
    }
  } else {
    throw bad(`cannot encode a ${typeof v}`);
  }
}

export function readValue(r: ByteReader): unknown {
  const tag = r.u8();
  switch (tag) {
    case T_UNDEFINED:
      return undefined;
    case T_NULL:
      return null;
    case T_FALSE:
      return false;
    case T_TRUE:
      return true;
    case T_INT:
      return r.int();
    case T_FLOAT:
      return r.f64();
    case T_STRING:
      return r.str();
    case T_BIGINT:
      return r.i64();
    case T_ARRAY: {
      const n = r.varint();
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(readValue(r));
      return out;
    }
    case T_BIGINT_ARRAY: {
      const n = r.varint();
      const out: bigint[] = [];
      for (let i = 0; i < n; i++) out.push(r.i64());
      return out;
    }
    case T_MAP: {
      const n = r.varint();
      const out = new Map<unknown, unknown>();
      for (let i = 0; i < n; i++) {
        const k = readValue(r);
        out.set(k, readValue(r));
      }
      return out;
    }
    case T_SET: {
      const n = r.varint();
      const out = new Set<unknown>();
      for (let i = 0; i < n; i++) out.add(readValue(r));
      return out;
    }
    case T_HASH_SET: {
      const capacity = r.varint();
      const n = r.varint();
      const slots: [number, bigint][] = [];
      let slot = 0;
      for (let i = 0; i < n; i++) {
        slot += r.varint();
        slots.push([slot, r.i64()]);
      }
      try {
        return BlockHashSet.fromSlots(capacity, slots);
      } catch (err) {
        throw bad((err as Error).message);
      }
    }
    case T_F64: {
      const n = r.varint();
      const ints = r.u8() === 0;
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = ints ? r.varint() : r.f64();
      return out;
    }
    case T_U32: {
      const n = r.varint();
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = r.u32();
      return out;
    }
    case T_OBJECT: {
      const n = r.varint();
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = r.str();
        out[k] = readValue(r);
      }
      return out;
    }
    default:
      throw bad(`unknown tag ${tag}`);
  }
}

/**
 * A table of outcome counts keyed by non-negative safe integers, every row `width` long: keys in ascending order as
 * varint deltas, then per row a bit mask of its non-zero cells and those cells (varints when every count in the
 * table is a non-negative integer, float64 otherwise). Rows are restored in key order.
 */
export function writeCountTable(w: ByteWriter, table: Map<number, Float64Array>, width: number): void {
  const keys = [...table.keys()].sort((a, b) => a - b);
  let ints = true;
  for (const row of table.values()) if (!allNonNegativeIntegers(row)) ints = false;
  w.varint(keys.length);
  w.u8(ints ? 0 : 1);
  let last = 0;
  for (const k of keys) {
    w.varint(k - last);
    last = k;
    const row = table.get(k) as Float64Array;
    let mask = 0;
    for (let i = 0; i < width; i++) if ((row[i] as number) !== 0 || Object.is(row[i], -0)) mask += 2 ** i;
    w.varint(mask);
    for (let i = 0; i < width; i++) {
      if (Math.floor(mask / 2 ** i) % 2 === 0) continue;
      if (ints) w.varint(row[i] as number);
      else w.f64(row[i] as number);
    }
  }
}

export function readCountTable(r: ByteReader, width: number): Map<number, Float64Array> {
  const n = r.varint();
  const ints = r.u8() === 0;
  const out = new Map<number, Float64Array>();
  let key = 0;
  for (let j = 0; j < n; j++) {
    key += r.varint();
    const mask = r.varint();
    const row = new Float64Array(width);
    for (let i = 0; i < width; i++) {
      if (Math.floor(mask / 2 ** i) % 2 === 0) continue;
      row[i] = ints ? r.varint() : r.f64();
    }
    out.set(key, row);
  }
  return out;
}

/**
 * Sparse rows of counts (row key → column → count), keys non-negative safe integers: per row its key, its cell
 * count, then column and count per cell (counts as varints when every count is a non-negative integer, float64
 * otherwise). Row and cell order is kept.
 */
export function writeRows(w: ByteWriter, rows: Map<number, Map<number, number>>): void {
  let ints = true;
  for (const row of rows.values()) for (const v of row.values()) if (!(isVarintSafe(v) && v >= 0)) ints = false;
  w.varint(rows.size);
  w.u8(ints ? 0 : 1);
  for (const [key, row] of rows) {
    w.varint(key);
    w.varint(row.size);
    for (const [col, v] of row) {
      w.varint(col);
      if (ints) w.varint(v);
      else w.f64(v);
    }
  }
}

export function readRows(r: ByteReader): Map<number, Map<number, number>> {
  const n = r.varint();
  const ints = r.u8() === 0;
  const rows = new Map<number, Map<number, number>>();
  for (let i = 0; i < n; i++) {
    const key = r.varint();
    const cells = r.varint();
    const row = new Map<number, number>();
    for (let j = 0; j < cells; j++) {
      const col = r.varint();
      row.set(col, ints ? r.varint() : r.f64());
    }
    rows.set(key, row);
  }
  return rows;
}
