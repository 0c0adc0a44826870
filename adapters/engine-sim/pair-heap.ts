/**
 * A binary min-heap of block ids ordered by two numeric keys (lexicographic: `a`, then `b`), over growable typed
 * arrays. Used with lazy deletion: callers push a fresh entry whenever a block's keys change and discard entries that
 * no longer match the block's state when they surface.
 */
export class PairHeap {
  private a: Float64Array;
  private b: Float64Array;
  private ids: Int32Array;
  size = 0;

  constructor(capacity = 1024) {
    this.a = new Float64Array(capacity);
    this.b = new Float64Array(capacity);
    this.ids = new Int32Array(capacity);
  }

  clear(): void {
    this.size = 0;
  }

  push(a: number, b: number, id: number): void {
    if (this.size === this.ids.length) this.grow();
    const ka = this.a;
    const kb = this.b;
    const ids = this.ids;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pa = ka[p] as number;
      if (pa < a || (pa === a && (kb[p] as number) <= b)) break;
      ka[i] = pa;
      kb[i] = kb[p] as number;
      ids[i] = ids[p] as number;
      i = p;
    }
    ka[i] = a;
    kb[i] = b;
    ids[i] = id;
  }

  /** Id of the minimum entry (undefined behaviour when empty: check `size`). */
  topId(): number {
    return this.ids[0] as number;
  }

  topA(): number {
    return this.a[0] as number;
  }

  topB(): number {
    return this.b[0] as number;
  }

  /** Removes the minimum entry. */
  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const ka = this.a;
    const kb = this.b;
    const ids = this.ids;
    const a = ka[n] as number;
    const b = kb[n] as number;
    const id = ids[n] as number;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let m = l;
      if (r < n) {
        const la = ka[l] as number;
        const ra = ka[r] as number;
        if (ra < la || (ra === la && (kb[r] as number) < (kb[l] as number))) m = r;
      }
      const ma = ka[m] as number;
      if (a < ma || (a === ma && b <= (kb[m] as number))) break;
      ka[i] = ma;
      kb[i] = kb[m] as number;
      ids[i] = ids[m] as number;
      i = m;
    }
    ka[i] = a;
    kb[i] = b;
    ids[i] = id;
  }

  private grow(): void {
    const cap = this.ids.length * 2;
    const a = new Float64Array(cap);
    const b = new Float64Array(cap);
    const ids = new Int32Array(cap);
    a.set(this.a);
    b.set(this.b);
    ids.set(this.ids);
    this.a = a;
    this.b = b;
    this.ids = ids;
  }
}
