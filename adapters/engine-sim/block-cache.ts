import { ProgrammerError } from '../../core/errors.js';
import { PairHeap } from './pair-heap.js';

/** Which block the engine gives up when the cache is over budget. */
export type EvictorKind = 'lru' | 'belady';

/** Next-use value of a block that no later request uses. */
export const NEVER_USED = 0x7fffffff;

/** Priorities at or below this mark blocks no session will use again (a policy's "dead" contexts): dropped first. */
export const CPU_DROP_FIRST_BELOW = -1e5;

/** The CPU tier's order key of a priority: blocks marked dead go first, then lower priorities, ties in LRU order. */
function cpuClass(priority: number): number {
  return priority <= CPU_DROP_FIRST_BELOW ? Number.NEGATIVE_INFINITY : priority;
}

const RESIDENT = 1;
const LINKED = 2;
const IN_CPU = 4;
const PREFETCHED = 8;
const INFLIGHT = 16;

export interface BlockCacheOptions {
  /** Parent block id of each block (-1 for a chain head): the cache stays closed under it. */
  parent: Int32Array;
  /** Depth of each block in its chain (Belady's tie-break: deeper first). */
  depth: Uint32Array;
  budgetBlocks: number;
  cpuTierBlocks: number;
  evictor: EvictorKind;
}

/**
 * One engine's prefix cache over dense block ids, modelled on vLLM v1's block pool (DESIGN §9):
 * - resident GPU blocks not used by a running request sit in the free queue, an intrusive doubly linked list whose
 *   head is the eviction end (LRU); a request `take`s the blocks it uses out of the queue and `release`s them back
 *   at the tail, which the caller does tail-first (a request's last block nearest the eviction end);
 * - `trim` evicts queued blocks until at most `budgetBlocks` are resident;
 * - the cache is prefix-closed: a block is resident only while its parent is. Only leaves (blocks with no resident
 *   child) are ever evicted, so no eviction orphans a block;
 * - 'lru': the victim is the lowest-priority leaf, ties by free-queue order. Priorities are 0 until an act sets
 *   them; pinned leaves are passed over while any unpinned leaf is queued. Without priorities or pins the victim is
 *   the first leaf from the head (a plain list walk: under vLLM's tail-first order that is the head itself);
 * - 'belady': the victim is the block whose next use (set by the caller from the fixed request order) is farthest,
 *   ties deeper first. A parent's next use is never later than its child's, so that block is always a leaf;
 * - an optional CPU tier of `cpuTierBlocks` that receives every block evicted from GPU. It drops its least recently
 *   stored or reloaded block; once acts set priorities (the hook applies the policy's order in both tiers), it drops
 *   blocks marked dead first, then the lowest priority, ties in the same LRU order, and never a block while one of
 *   its children is in the tier (a chain is read head first: a missing parent makes its children useless).
 * Evictions and CPU-tier changes are appended to `evicted` and `cpuLog` for the caller to publish and clear.
 */
export class BlockCache {
  readonly budgetBlocks: number;
  readonly cpuTierBlocks: number;
  readonly evictor: EvictorKind;
  /** Resident GPU blocks (queued or in use). */
  size = 0;
  /** GPU evictions so far. */
  evictions = 0;
  /** Blocks dropped from the CPU tier so far. */
  cpuDrops = 0;
  /** Blocks evicted from GPU since the caller last cleared it, in eviction order. */
  readonly evicted: number[] = [];
  /** CPU-tier changes since the caller last cleared it, in order: id + 1 stored, -(id + 1) removed. */
  readonly cpuLog: number[] = [];

  private readonly parent: Int32Array;
  private readonly depth: Uint32Array;
  private readonly flags: Uint8Array;
  private readonly children: Int32Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private head = -1;
  private tail = -1;

  private prioritized = false;
  private priority: Float64Array | null = null;
  private stamp: Float64Array | null = null;
  private pinUntil: Float64Array | null = null;
  private clock = 0;
  private readonly heap = new PairHeap();
  private readonly pinned = new PairHeap(64);

  private readonly nextUse: Int32Array | null;

  private readonly cpuPrev: Int32Array | null;
  private readonly cpuNext: Int32Array | null;
  private cpuHead = -1;
  private cpuTail = -1;
  cpuSize = 0;
  private cpuStamp: Float64Array | null = null;
  /** Per block: how many of its children are in the CPU tier (a block is dropped only once it has none). */
  private readonly cpuKids: Int32Array | null;
  private cpuClock = 0;
  private readonly cpuHeap = new PairHeap();

  constructor(options: BlockCacheOptions) {
    const n = options.parent.length;
    this.parent = options.parent;
    this.depth = options.depth;
    this.budgetBlocks = options.budgetBlocks;
    this.cpuTierBlocks = options.cpuTierBlocks;
    this.evictor = options.evictor;
    this.flags = new Uint8Array(n);
    this.children = new Int32Array(n);
    this.prev = new Int32Array(n);
    this.next = new Int32Array(n);
    this.nextUse = options.evictor === 'belady' ? new Int32Array(n).fill(NEVER_USED) : null;
    this.cpuPrev = options.cpuTierBlocks > 0 ? new Int32Array(n) : null;
    this.cpuNext = options.cpuTierBlocks > 0 ? new Int32Array(n) : null;
    this.cpuKids = options.cpuTierBlocks > 0 ? new Int32Array(n) : null;
  }

  isResident(id: number): boolean {
    return ((this.flags[id] as number) & RESIDENT) !== 0;
  }

  inCpu(id: number): boolean {
    return ((this.flags[id] as number) & IN_CPU) !== 0;
  }

  /** Number of resident children of a block. */
  childCount(id: number): number {
    return this.children[id] as number;
  }

  /** Takes a resident block out of the free queue: a running request uses it. */
  take(id: number): void {
    if (((this.flags[id] as number) & LINKED) !== 0) this.unlink(id);
  }

  /** Makes a block resident (computed or reloaded), in use: not queued until `release`. Its parent must be resident. */
  admit(id: number): void {
    const p = this.parent[id] as number;
    if (p >= 0) {
      if (((this.flags[p] as number) & RESIDENT) === 0) {
        throw new ProgrammerError(`block ${id} admitted while its parent ${p} is not resident`);
      }
      this.children[p] = (this.children[p] as number) + 1;
    }
    this.flags[id] = (this.flags[id] as number) | RESIDENT;
    this.size++;
  }

  /** Records the next use of a block before it is released (Belady only). */
  setNextUse(id: number, requestIndex: number): void {
    if (this.nextUse) this.nextUse[id] = requestIndex;
  }

  /** Appends a resident block in use at the free queue's tail (the most recently used end). */
  release(id: number): void {
    if (((this.flags[id] as number) & LINKED) !== 0) return;
    const t = this.tail;
    this.prev[id] = t;
    this.next[id] = -1;
    if (t >= 0) this.next[t] = id;
    else this.head = id;
    this.tail = id;
    this.flags[id] = (this.flags[id] as number) | LINKED;
    if (this.nextUse) {
      this.heap.push(-(this.nextUse[id] as number), -(this.depth[id] as number), id);
    } else if (this.prioritized) {
      const stamp = this.stamp as Float64Array;
      stamp[id] = ++this.clock;
      if (this.children[id] === 0) this.heap.push((this.priority as Float64Array)[id] as number, stamp[id], id);
    }
  }

  /** Evicts queued blocks until at most `budgetBlocks` are resident. */
  trim(nowMs: number): void {
    if (this.size <= this.budgetBlocks) return;
    if ((this.nextUse || this.prioritized) && this.heap.size > 2 * this.size + 1024) this.rebuildHeap();
    while (this.size > this.budgetBlocks) {
      const victim = this.nextUse
        ? this.beladyVictim()
        : this.prioritized
          ? this.priorityVictim(nowMs)
          : this.lruVictim();
      this.evict(victim);
    }
    const pinned = this.pinned;
    while (pinned.size > 0) {
      this.heap.push(pinned.topA(), pinned.topB(), pinned.topId());
      pinned.pop();
    }
  }

  /** Sets a block's eviction priority (lower is evicted first). Ignored by Belady. */
  setPriority(id: number, priority: number): void {
    if (this.nextUse) return;
    this.prioritize();
    const prio = this.priority as Float64Array;
    if (prio[id] === priority) return;
    prio[id] = priority;
    if (((this.flags[id] as number) & LINKED) !== 0 && this.children[id] === 0) {
      this.heap.push(priority, (this.stamp as Float64Array)[id] as number, id);
    }
    if (((this.flags[id] as number) & IN_CPU) !== 0) {
      this.cpuHeap.push(cpuClass(priority), (this.cpuStamp as Float64Array)[id] as number, id);
    }
  }

  /** Keeps a block from eviction until `untilMs` while unpinned leaves remain. Ignored by Belady. */
  pin(id: number, untilMs: number): void {
    if (this.nextUse) return;
    this.prioritize();
    const pins = this.pinUntil as Float64Array;
    if (untilMs > (pins[id] as number)) pins[id] = untilMs;
  }

  /** Switches from the plain list walk to the priority heap (once an act asks for an order other than LRU). */
  prioritize(): void {
    if (this.prioritized || this.nextUse) return;
    const n = this.flags.length;
    this.priority = new Float64Array(n);
    this.stamp = new Float64Array(n);
    this.pinUntil = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
    this.prioritized = true;
    for (let id = this.head; id >= 0; id = this.next[id] as number) this.stamp[id] = ++this.clock;
    this.rebuildHeap();
    if (this.cpuTierBlocks > 0) {
      this.cpuStamp = new Float64Array(n);
      const next = this.cpuNext as Int32Array;
      for (let id = this.cpuHead; id >= 0; id = next[id] as number) this.cpuStamp[id] = ++this.cpuClock;
      this.rebuildCpuHeap();
    }
  }

  markPrefetched(id: number): void {
    this.flags[id] = (this.flags[id] as number) | PREFETCHED;
  }

  /** True (and clears the mark) when the block was brought in by a prefetch and not used since. */
  takePrefetched(id: number): boolean {
    const f = this.flags[id] as number;
    if ((f & PREFETCHED) === 0) return false;
    this.flags[id] = f & ~PREFETCHED;
    return true;
  }

  setInflight(id: number, on: boolean): void {
    const f = this.flags[id] as number;
    this.flags[id] = on ? f | INFLIGHT : f & ~INFLIGHT;
  }

  isInflight(id: number): boolean {
    return ((this.flags[id] as number) & INFLIGHT) !== 0;
  }

  /** Marks a CPU-tier block as most recently used (a reload read it). */
  cpuTouch(id: number): void {
    if (((this.flags[id] as number) & IN_CPU) === 0) return;
    this.cpuUnlink(id);
    this.cpuAppend(id);
  }

  /** Queued blocks from the eviction end to the most recently used end. */
  queuedIds(): number[] {
    const out: number[] = [];
    for (let id = this.head; id >= 0; id = this.next[id] as number) out.push(id);
    return out;
  }

  /** CPU-tier blocks from its eviction end to its most recently used end. */
  cpuIds(): number[] {
    const out: number[] = [];
    const next = this.cpuNext;
    if (!next) return out;
    for (let id = this.cpuHead; id >= 0; id = next[id] as number) out.push(id);
    return out;
  }

  private unlink(id: number): void {
    const p = this.prev[id] as number;
    const n = this.next[id] as number;
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
    this.flags[id] = (this.flags[id] as number) & ~LINKED;
  }

  private evict(id: number): void {
    this.unlink(id);
    this.flags[id] = (this.flags[id] as number) & ~(RESIDENT | PREFETCHED);
    this.size--;
    this.evictions++;
    this.evicted.push(id);
    const p = this.parent[id] as number;
    if (p >= 0) {
      const c = (this.children[p] as number) - 1;
      this.children[p] = c;
      if (c === 0 && this.prioritized && ((this.flags[p] as number) & LINKED) !== 0) {
        this.heap.push((this.priority as Float64Array)[p] as number, (this.stamp as Float64Array)[p] as number, p);
      }
    }
    if (this.cpuTierBlocks > 0) this.offload(id);
  }

  private lruVictim(): number {
    let id = this.head;
    while (id >= 0 && this.children[id] !== 0) id = this.next[id] as number;
    if (id < 0) throw new ProgrammerError('cache over budget with no evictable leaf');
    return id;
  }

  private priorityVictim(nowMs: number): number {
    const heap = this.heap;
    const priority = this.priority as Float64Array;
    const stamp = this.stamp as Float64Array;
    const pins = this.pinUntil as Float64Array;
    while (heap.size > 0) {
      const id = heap.topId();
      const a = heap.topA();
      const b = heap.topB();
      heap.pop();
      if (
        ((this.flags[id] as number) & LINKED) === 0 ||
        this.children[id] !== 0 ||
        priority[id] !== a ||
        stamp[id] !== b
      ) {
        continue;
      }
      if ((pins[id] as number) > nowMs) {
        this.pinned.push(a, b, id);
        continue;
      }
      return id;
    }
    const pinned = this.pinned;
    while (pinned.size > 0) {
      const id = pinned.topId();
      const a = pinned.topA();
      const b = pinned.topB();
      pinned.pop();
      if (((this.flags[id] as number) & LINKED) !== 0 && priority[id] === a && stamp[id] === b) return id;
    }
    throw new ProgrammerError('cache over budget with no evictable leaf');
  }

  private beladyVictim(): number {
    const heap = this.heap;
    const nextUse = this.nextUse as Int32Array;
    while (heap.size > 0) {
      const id = heap.topId();
      const a = heap.topA();
      heap.pop();
      if (((this.flags[id] as number) & LINKED) === 0 || -(nextUse[id] as number) !== a) continue;
      if (this.children[id] !== 0) throw new ProgrammerError(`Belady victim ${id} has resident children`);
      return id;
    }
    throw new ProgrammerError('cache over budget with no evictable block');
  }

  private rebuildHeap(): void {
    this.heap.clear();
    if (this.nextUse) {
      const nextUse = this.nextUse;
      for (let id = this.head; id >= 0; id = this.next[id] as number) {
        this.heap.push(-(nextUse[id] as number), -(this.depth[id] as number), id);
      }
      return;
    }
    const priority = this.priority as Float64Array;
    const stamp = this.stamp as Float64Array;
    for (let id = this.head; id >= 0; id = this.next[id] as number) {
      if (this.children[id] === 0) this.heap.push(priority[id] as number, stamp[id] as number, id);
    }
  }

  private offload(id: number): void {
    if (((this.flags[id] as number) & IN_CPU) !== 0) {
      this.cpuUnlink(id);
      this.cpuAppend(id);
      return;
    }
    this.flags[id] = (this.flags[id] as number) | IN_CPU;
    const kids = this.cpuKids as Int32Array;
    const p = this.parent[id] as number;
    if (p >= 0) kids[p] = (kids[p] as number) + 1;
    this.cpuAppend(id);
    this.cpuSize++;
    this.cpuLog.push(id + 1);
    while (this.cpuSize > this.cpuTierBlocks) {
      const h = this.prioritized ? this.cpuPriorityVictim() : this.cpuHead;
      this.cpuUnlink(h);
      this.flags[h] = (this.flags[h] as number) & ~IN_CPU;
      this.cpuSize--;
      this.cpuDrops++;
      this.cpuLog.push(-(h + 1));
      const q = this.parent[h] as number;
      if (q >= 0) {
        const left = (kids[q] as number) - 1;
        kids[q] = left;
        if (left === 0 && this.cpuStamp !== null && ((this.flags[q] as number) & IN_CPU) !== 0) {
          this.cpuHeap.push(cpuClass((this.priority as Float64Array)[q] as number), this.cpuStamp[q] as number, q);
        }
      }
    }
  }

  private cpuAppend(id: number): void {
    const prev = this.cpuPrev as Int32Array;
    const next = this.cpuNext as Int32Array;
    const t = this.cpuTail;
    prev[id] = t;
    next[id] = -1;
    if (t >= 0) next[t] = id;
    else this.cpuHead = id;
    this.cpuTail = id;
    const stamp = this.cpuStamp;
    if (stamp !== null) {
      stamp[id] = ++this.cpuClock;
      this.cpuHeap.push(cpuClass((this.priority as Float64Array)[id] as number), stamp[id] as number, id);
      if (this.cpuHeap.size > 2 * this.cpuSize + 1024) this.rebuildCpuHeap();
    }
  }

  /** The CPU-tier block to drop once priorities are set: the lowest key (dead first) with no child in the tier. */
  private cpuPriorityVictim(): number {
    const heap = this.cpuHeap;
    const priority = this.priority as Float64Array;
    const stamp = this.cpuStamp as Float64Array;
    while (heap.size > 0) {
      const id = heap.topId();
      const a = heap.topA();
      const b = heap.topB();
      heap.pop();
      if (
        ((this.flags[id] as number) & IN_CPU) !== 0 &&
        cpuClass(priority[id] as number) === a &&
        stamp[id] === b &&
        (this.cpuKids as Int32Array)[id] === 0
      )
        return id;
    }
    throw new ProgrammerError('CPU tier over capacity with no block to drop');
  }

  private rebuildCpuHeap(): void {
    const heap = this.cpuHeap;
    const priority = this.priority as Float64Array;
    const stamp = this.cpuStamp as Float64Array;
    const next = this.cpuNext as Int32Array;
    heap.clear();
    for (let id = this.cpuHead; id >= 0; id = next[id] as number)
      heap.push(cpuClass(priority[id] as number), stamp[id] as number, id);
  }

  private cpuUnlink(id: number): void {
    const prev = this.cpuPrev as Int32Array;
    const next = this.cpuNext as Int32Array;
    const p = prev[id] as number;
    const n = next[id] as number;
    if (p >= 0) next[p] = n;
    else this.cpuHead = n;
    if (n >= 0) prev[n] = p;
    else this.cpuTail = p;
  }
}
