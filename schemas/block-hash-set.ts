import { HI, LO, SLOT32, SLOT64 } from './hash-slot.js';
import type { BlockHash } from './types.js';

const MIN_CAPACITY = 16;
/** 16M slots (8M blocks): far above any engine's cache, a bound on what a corrupt snapshot can make us allocate. */
const MAX_CAPACITY = 2 ** 24;

/**
 * A set of block hashes stored as 32-bit halves in typed arrays (open addressing, linear probing, backward-shift
 * deletion), for the resident sets a policy keeps per engine. A `Set<bigint>` hashes every bigint's digits on each
 * call and keeps every hash alive as a heap object (tens of thousands per engine, promoted to the old generation);
 * this keeps two int32 words per block and lets the decoded event's bigints die young. Same semantics as `Set` for
 * `add`, `delete`, `has`, `size`, `clear` and iteration (in slot order, not insertion order).
 */
export class BlockHashSet implements Iterable<BlockHash> {
  private lo = new Int32Array(MIN_CAPACITY);
  private hi = new Int32Array(MIN_CAPACITY);
  private used = new Uint8Array(MIN_CAPACITY);
  private mask = MIN_CAPACITY - 1;
  private count = 0;

  constructor(values?: Iterable<BlockHash>) {
    if (values !== undefined) for (const v of values) this.add(v);
  }

  /** Empty slot arrays of `capacity` (a power of two). */
  private allocate(capacity: number): void {
    this.lo = new Int32Array(capacity);
    this.hi = new Int32Array(capacity);
    this.used = new Uint8Array(capacity);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  has(hash: BlockHash): boolean {
    SLOT64[0] = hash;
    return this.find(SLOT32[LO] as number, SLOT32[HI] as number) >= 0;
  }

  add(hash: BlockHash): this {
    SLOT64[0] = hash;
    const lo = SLOT32[LO] as number;
    const hi = SLOT32[HI] as number;
    let i = slotOf(lo, hi) & this.mask;
    const used = this.used;
    while (used[i] === 1) {
      if (this.lo[i] === lo && this.hi[i] === hi) return this;
      i = (i + 1) & this.mask;
    }
    used[i] = 1;
    this.lo[i] = lo;
    this.hi[i] = hi;
    if (++this.count * 2 > this.mask + 1) this.resize((this.mask + 1) * 2);
    return this;
  }

  delete(hash: BlockHash): boolean {
    SLOT64[0] = hash;
    let i = this.find(SLOT32[LO] as number, SLOT32[HI] as number);
    if (i < 0) return false;
    const { lo, hi, used, mask } = this;
    // backward-shift: move later entries of the probe run into the hole so no tombstones are needed
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (used[j] === 0) break;
      const home = slotOf(lo[j] as number, hi[j] as number) & mask;
      // the entry at j may fill the hole at i when its home is not cyclically inside (i, j]
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        lo[i] = lo[j] as number;
        hi[i] = hi[j] as number;
        i = j;
      }
    }
    used[i] = 0;
    lo[i] = 0;
    hi[i] = 0;
    this.count--;
    return true;
  }

  clear(): void {
    this.used.fill(0);
    this.lo.fill(0);
    this.hi.fill(0);
    this.count = 0;
  }

  *values(): IterableIterator<BlockHash> {
    for (const [, hash] of this.slots()) yield hash;
  }

  [Symbol.iterator](): IterableIterator<BlockHash> {
    return this.values();
  }

  /** Slots in the table (a power of two, at least twice the size). */
  get capacity(): number {
    return this.mask + 1;
  }

  /** The used slots in slot order with their hashes: with `capacity`, the table's exact layout (for snapshots). */
  *slots(): IterableIterator<[slot: number, hash: BlockHash]> {
    const { lo, hi, used } = this;
    for (let i = 0; i < used.length; i++) {
      if (used[i] === 0) continue;
      SLOT32[LO] = lo[i] as number;
      SLOT32[HI] = hi[i] as number;
      yield [i, SLOT64[0] as BlockHash];
    }
  }

  /** A set with exactly the layout `slots()` gave (equal, field for field, to the one it came from). */
  static fromSlots(capacity: number, slots: Iterable<readonly [slot: number, hash: BlockHash]>): BlockHashSet {
    if (
      !Number.isInteger(capacity) ||
      capacity < MIN_CAPACITY ||
      capacity > MAX_CAPACITY ||
      capacity & (capacity - 1)
    ) {
      throw new RangeError(`block hash set: capacity must be a power of two in ${MIN_CAPACITY}..2^24, got ${capacity}`);
    }
    const set = new BlockHashSet();
    set.allocate(capacity);
    for (const [slot, hash] of slots) {
      if (!Number.isInteger(slot) || slot < 0 || slot >= capacity || set.used[slot] === 1) {
        throw new RangeError(`block hash set: slot ${slot} is out of range or used twice`);
      }
      SLOT64[0] = hash;
      set.used[slot] = 1;
      set.lo[slot] = SLOT32[LO] as number;
      set.hi[slot] = SLOT32[HI] as number;
      set.count++;
    }
    if (set.count * 2 > capacity)
      throw new RangeError(`block hash set: ${set.count} hashes overfill ${capacity} slots`);
    return set;
  }

  private find(lo: number, hi: number): number {
    let i = slotOf(lo, hi) & this.mask;
    const used = this.used;
    while (used[i] === 1) {
      if (this.lo[i] === lo && this.hi[i] === hi) return i;
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  private resize(capacity: number): void {
    const { lo, hi, used } = this;
    this.allocate(capacity);
    for (let k = 0; k < used.length; k++) {
      if (used[k] === 0) continue;
      const a = lo[k] as number;
      const b = hi[k] as number;
      let i = slotOf(a, b) & this.mask;
      while (this.used[i] === 1) i = (i + 1) & this.mask;
      this.used[i] = 1;
      this.lo[i] = a;
      this.hi[i] = b;
    }
  }
}

/** Slot hash of a block hash's halves (murmur3's finalizer over both words). */
function slotOf(lo: number, hi: number): number {
  let h = lo ^ Math.imul(hi, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}
