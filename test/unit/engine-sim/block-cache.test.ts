import { describe, expect, it } from 'vitest';
import { BlockCache } from '../../../adapters/engine-sim/block-cache.js';

/** A cache over `n` unrelated one-block chains (every block a chain head). */
function cacheOf(n: number, budgetBlocks: number, cpuTierBlocks: number): BlockCache {
  return new BlockCache({
    parent: new Int32Array(n).fill(-1),
    depth: new Uint32Array(n),
    budgetBlocks,
    cpuTierBlocks,
    evictor: 'lru',
  });
}

/** Computes `ids` (a request's blocks), releases them and trims to the budget. */
function use(cache: BlockCache, ids: number[], nowMs = 0): void {
  for (const id of ids) cache.admit(id);
  for (const id of ids) cache.release(id);
  cache.trim(nowMs);
}

function dropped(cache: BlockCache): number[] {
  return cache.cpuLog.filter((x) => x < 0).map((x) => -x - 1);
}

describe('BlockCache CPU tier', () => {
  it('drops its least recently stored block when no act set a priority', () => {
    const cache = cacheOf(8, 2, 3);
    use(cache, [0, 1]);
    use(cache, [2, 3]);
    use(cache, [4, 5]);
    // GPU evicts 0 1 then 2 3 into a tier of 3: storing 3 drops 0.
    expect(cache.cpuIds()).toEqual([1, 2, 3]);
    expect(dropped(cache)).toEqual([0]);
  });

  it('once acts set priorities, drops dead blocks first, then the lowest priority, ties in LRU order', () => {
    const cache = cacheOf(8, 2, 3);
    use(cache, [0, 1]);
    use(cache, [2, 3]);
    // 0 1 sit in the CPU tier; 0 is oldest. 1 is marked dead, 0 valued low but alive.
    cache.setPriority(1, -1e6);
    cache.setPriority(0, -5);
    use(cache, [4, 5]);
    // GPU evicts 2 3: storing 3 overfills the tier and drops the dead 1, not the LRU head 0.
    expect(dropped(cache)).toEqual([1]);
    expect(cache.cpuIds()).toEqual([0, 2, 3]);
    use(cache, [6, 7]);
    // GPU evicts 4 5 (priority 0): the tier drops 0 (priority -5) first, then 2, the oldest of the 0s.
    expect(dropped(cache)).toEqual([1, 0, 2]);
    expect(cache.cpuIds()).toEqual([3, 4, 5]);
  });

  it('never drops a block while a child of it is in the tier (its children would be useless without it)', () => {
    // chain 0 <- 1 <- 2; 3 to 7 alone
    const cache = new BlockCache({
      parent: new Int32Array([-1, 0, 1, -1, -1, -1, -1, -1]),
      depth: new Uint32Array([0, 1, 2, 0, 0, 0, 0, 0]),
      budgetBlocks: 3,
      cpuTierBlocks: 3,
      evictor: 'lru',
    });
    use(cache, [0, 1, 2]);
    cache.setPriority(0, -8);
    cache.setPriority(1, -1);
    cache.setPriority(2, -1);
    use(cache, [3, 4, 5]);
    // The GPU evicts the chain leaf first: 2, then 1, then 0; the tier holds all three.
    expect(cache.cpuIds()).toEqual([2, 1, 0]);
    use(cache, [6]);
    // 3 joins the tier. 0 has the lowest priority but 1 (in the tier) needs it, and 1 needs 2: 2 goes.
    expect(dropped(cache)).toEqual([2]);
    use(cache, [7]);
    // 4 joins: now 1 has no child in the tier and goes before 0.
    expect(dropped(cache)).toEqual([2, 1]);
    expect(cache.cpuIds()).toEqual([0, 3, 4]);
  });

  it('a reload moves a block to the most recently used end of the tier', () => {
    const cache = cacheOf(8, 2, 3);
    use(cache, [0, 1]);
    use(cache, [2, 3]);
    cache.setPriority(7, 0);
    cache.cpuTouch(0);
    expect(cache.cpuIds()).toEqual([1, 0]);
    use(cache, [4, 5]);
    // 2 3 join the tier: 1 is now its LRU end and goes.
    expect(dropped(cache)).toEqual([1]);
    cache.setPriority(3, -1e6);
    use(cache, [6, 7]);
    // 4 5 join: the dead 3 goes first, then the LRU end 0.
    expect(dropped(cache)).toEqual([1, 3, 0]);
    expect(cache.cpuIds()).toEqual([2, 4, 5]);
  });
});
