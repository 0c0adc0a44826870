/**
 * Dense ids for 64-bit block hashes given as two unsigned 32-bit halves (lo, hi): open addressing over typed
 * arrays, no bigint per lookup. Id n is the n-th distinct hash seen.
 */
export class BlockTable {
  private lo = new Uint32Array(1024);
  private hi = new Uint32Array(1024);
  private slots = new Int32Array(2048).fill(-1);
  private mask = 2047;
  size = 0;

  /** The id of hash (lo, hi), assigning the next id if it is new. */
  idOf(lo: number, hi: number): number {
    let s = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    for (;;) {
      const id = this.slots[s] as number;
      if (id < 0) break;
      if (this.lo[id] === lo && this.hi[id] === hi) return id;
      s = (s + 1) & this.mask;
    }
    const id = this.size++;
    if (id >= this.lo.length) this.growKeys();
    this.lo[id] = lo;
    this.hi[id] = hi;
    this.slots[s] = id;
    if (this.size * 2 > this.slots.length) this.rehash();
    return id;
  }

  /** hashes[id] as signed 64-bit values (the layer's hash space). */
  hashes(): BigInt64Array {
    const out = new BigInt64Array(this.size);
    for (let id = 0; id < this.size; id++) {
      out[id] = BigInt.asIntN(64, (BigInt(this.hi[id] as number) << 32n) | BigInt(this.lo[id] as number));
    }
    return out;
  }

  private growKeys(): void {
    const lo = new Uint32Array(this.lo.length * 2);
    const hi = new Uint32Array(this.hi.length * 2);
    lo.set(this.lo);
    hi.set(this.hi);
    this.lo = lo;
    this.hi = hi;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let id = 0; id < this.size; id++) {
      let s = ((this.lo[id] as number) ^ Math.imul(this.hi[id] as number, 0x9e3779b1)) & mask;
      while ((slots[s] as number) >= 0) s = (s + 1) & mask;
      slots[s] = id;
    }
    this.slots = slots;
    this.mask = mask;
  }
}
