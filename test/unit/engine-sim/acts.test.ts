import { describe, expect, it } from 'vitest';
import { reloadMs } from '../../../adapters/engine-sim/cost-model.js';
import type { RequestRecord } from '../../../adapters/engine-sim/engine-sim.js';
import { createSimulation } from '../../../adapters/engine-sim/simulate.js';
import type { ActHeader, EvictionEntry } from '../../../schemas/types.js';
import { hashOf, workloadOf } from './fixtures.js';
import { gpuRemovals, recordingSink } from './recording.js';

// Budget 4: requests 1 and 2 push context [0 1 2 3] out at request 3's trim (lazy, on allocation); request 4
// reuses it. Without help request 4 hits nothing.
const workload = workloadOf([
  [{ prompt: [0, 1, 2, 3] }],
  [{ prompt: [10, 11, 12, 13] }],
  [{ prompt: [20, 21, 22, 23] }],
  [{ prompt: [0, 1, 2, 3, 4] }],
]);
const ctx = [0, 1, 2, 3].map(hashOf);

function header(issuedAt: number, over: Partial<ActHeader> = {}): ActHeader {
  return {
    engineId: 'engine-0',
    seq: 1,
    issuedAt,
    ttlMs: 1e9,
    causeId: 'test',
    causeProducedAt: 0,
    policy: 'test',
    ...over,
  };
}

function setup(options: { actDelayMs?: number; cpuTierBlocks?: number } = {}) {
  const sink = recordingSink();
  const records: RequestRecord[] = [];
  const sim = createSimulation({
    workload,
    budgetBlocks: 4,
    concurrency: 1,
    evictor: 'lru',
    actDelayMs: options.actDelayMs ?? 0,
    cpuTierBlocks: options.cpuTierBlocks ?? 0,
    seed: 3,
    sink,
    onRequestDone: (r) => records.push(r),
  });
  const engine = sim.engines[0]!;
  const hits = () => records.sort((a, b) => a.index - b.index).map((r) => r.gpuHitTokens);
  return { sim, engine, sink, records, hits };
}

function evict(entries: EvictionEntry[], issuedAt = 0, over: Partial<ActHeader> = {}) {
  return { ...header(issuedAt, over), kind: 'evict' as const, entries };
}

describe('engine simulator: acts', () => {
  it('eviction priorities change the victim (lowest first, ties by LRU)', () => {
    const plain = setup();
    plain.sim.run();
    expect(plain.hits()).toEqual([0, 0, 0, 0]);
    expect(gpuRemovals(plain.sink.kv())).toEqual([
      [3, 2, 1, 0],
      [13, 12, 11, 10],
    ]);

    const hinted = setup();
    hinted.sim.scheduler.schedule(0, () =>
      hinted.engine.applyEvictionHints(evict([{ contextId: 's0/A', blockHashes: ctx, priority: 10 }])),
    );
    const result = hinted.sim.run();
    expect(gpuRemovals(hinted.sink.kv())).toEqual([
      [13, 12, 11, 10],
      [23, 22, 21, 20],
    ]);
    expect(hinted.hits()).toEqual([0, 0, 0, 64]);
    expect(result.total.acts.applied.evict).toBe(1);
  });

  it('an entry with a context and no blocks re-prioritizes the blocks last registered for it', () => {
    const t = setup();
    t.sim.scheduler.schedule(0, () => {
      t.engine.applyEvictionHints(evict([{ contextId: 's0/A', blockHashes: ctx, priority: 10 }]));
      t.engine.applyEvictionHints(
        evict([{ contextId: 's1/A', blockHashes: [10, 11, 12, 13].map(hashOf), priority: 5 }]),
      );
      t.engine.applyEvictionHints(evict([{ contextId: 's0/A', blockHashes: [], priority: -1 }]));
    });
    t.sim.run();
    // s0's blocks now rank lowest, s1's highest; request 3 evicts s0's context, request 4 s2's (priority 0).
    expect(gpuRemovals(t.sink.kv())).toEqual([
      [3, 2, 1, 0],
      [23, 22, 21, 20],
    ]);
    expect(t.hits()).toEqual([0, 0, 0, 0]);
  });

  it('an entry with fromBlock extends the registration: kept and added blocks take its priority', () => {
    const head = setup();
    head.sim.scheduler.schedule(0, () =>
      head.engine.applyEvictionHints(evict([{ contextId: 's0/A', blockHashes: ctx.slice(0, 2), priority: 10 }])),
    );
    head.sim.run();
    // only the head is protected: the tail goes, the head stays (request 4 hits two blocks)
    expect(head.hits()).toEqual([0, 0, 0, 32]);

    const extended = setup();
    extended.sim.scheduler.schedule(0, () => {
      extended.engine.applyEvictionHints(evict([{ contextId: 's0/A', blockHashes: ctx.slice(0, 2), priority: 10 }]));
      extended.engine.applyEvictionHints(
        evict([{ contextId: 's0/A', blockHashes: ctx.slice(2), fromBlock: 2, priority: 10 }]),
      );
      // re-prioritizing the context now moves all four blocks
      extended.engine.applyEvictionHints(evict([{ contextId: 's0/A', blockHashes: [], priority: 20 }]));
    });
    const result = extended.sim.run();
    expect(extended.hits()).toEqual([0, 0, 0, 64]);
    expect(result.total.hintEntriesSkipped).toBe(0);
  });

  it('skips and counts an extension of blocks the engine does not hold registered for the context', () => {
    const t = setup();
    t.sim.scheduler.schedule(0, () => {
      t.engine.applyEvictionHints(evict([{ contextId: 's0/A', blockHashes: ctx.slice(0, 2), priority: -5 }]));
      // the engine holds 2 blocks for s0/A: an entry keeping 3 of them (an act it missed) changes nothing
      t.engine.applyEvictionHints(
        evict([{ contextId: 's0/A', blockHashes: ctx.slice(3), fromBlock: 3, priority: 10 }]),
      );
      t.engine.applyEvictionHints(evict([{ contextId: 'unknown/B', blockHashes: ctx, fromBlock: 1, priority: 10 }]));
    });
    const result = t.sim.run();
    expect(t.hits()).toEqual([0, 0, 0, 0]);
    expect(result.total.hintEntriesSkipped).toBe(2);
    expect(result.total.acts.applied.evict).toBe(3);
  });

  it('keeps pinned blocks until their TTL, and pins never let the cache exceed the budget', () => {
    const pinned = setup();
    pinned.sim.scheduler.schedule(0, () =>
      pinned.engine.pin({ ...header(0), kind: 'pin', blockHashes: ctx, pinTtlMs: 1e6 }),
    );
    pinned.sim.run();
    expect(pinned.hits()).toEqual([0, 0, 0, 64]);

    const expired = setup();
    expired.sim.scheduler.schedule(0, () =>
      expired.engine.pin({ ...header(0), kind: 'pin', blockHashes: ctx, pinTtlMs: 1 }),
    );
    expired.sim.run();
    expect(expired.hits()).toEqual([0, 0, 0, 0]);

    const all = setup();
    const every = [0, 1, 2, 3, 4, 10, 11, 12, 13, 20, 21, 22, 23].map(hashOf);
    all.sim.scheduler.schedule(0, () =>
      all.engine.pin({ ...header(0), kind: 'pin', blockHashes: every, pinTtlMs: 1e6 }),
    );
    const result = all.sim.run();
    // Every leaf pinned: the engine still trims to the budget, in LRU order.
    expect(gpuRemovals(all.sink.kv())).toEqual([
      [3, 2, 1, 0],
      [13, 12, 11, 10],
    ]);
    expect(result.total.acts.applied.pin).toBe(1);
  });

  it('applies acts after actDelayMs of simulated time', () => {
    const base = setup();
    base.sim.run();
    const at = base.records.sort((a, b) => a.index - b.index);
    const finish0 = at[0]!.finishMs;
    const arrival2 = at[2]!.arrivalMs;
    const arrival3 = at[3]!.arrivalMs;

    const issueOnFirstFinish = (delay: number) => {
      const t = setup({ actDelayMs: delay });
      t.sim.scheduler.schedule(finish0, () =>
        t.engine.applyEvictionHints(evict([{ contextId: 's0/A', blockHashes: ctx, priority: 10 }], finish0)),
      );
      const result = t.sim.run();
      return { hits: t.hits(), applied: result.total.acts.applied.evict, t };
    };
    expect(issueOnFirstFinish(1)).toMatchObject({ hits: [0, 0, 0, 64], applied: 1 });
    // Lands after request 3's trim evicted the context: too late, though applied.
    const between = issueOnFirstFinish((arrival2 + arrival3) / 2 - finish0);
    expect(between).toMatchObject({ hits: [0, 0, 0, 0], applied: 1 });
    // Lands after the run: never applied.
    expect(issueOnFirstFinish(1e7)).toMatchObject({ hits: [0, 0, 0, 0], applied: 0 });
  });

  it('rejects foreign acts and acts stale when they take effect', () => {
    const t = setup({ actDelayMs: 50 });
    t.sim.scheduler.schedule(0, () => {
      t.engine.applyEvictionHints(evict([{ contextId: null, blockHashes: ctx, priority: 10 }], 0, { engineId: 'x' }));
      t.engine.applyEvictionHints(evict([{ contextId: null, blockHashes: ctx, priority: 10 }], 0, { ttlMs: 10 }));
      t.engine.noteRejected('stale-seq');
    });
    const result = t.sim.run();
    expect(result.total.acts.rejected).toEqual({ foreign: 1, 'stale-ttl': 1, 'stale-seq': 1, malformed: 0 });
    expect(result.total.acts.applied.evict).toBe(0);
    expect(t.hits()).toEqual([0, 0, 0, 0]);
  });

  describe('prefetch from the CPU tier', () => {
    const per = reloadMs(1);
    const arrivals = () => {
      const t = setup({ cpuTierBlocks: 100 });
      t.sim.run();
      const r = t.records.sort((a, b) => a.index - b.index);
      expect(r[3]?.cpuHitTokens).toBe(64);
      return { arrival2: r[2]!.arrivalMs, arrival3: r[3]!.arrivalMs };
    };

    function prefetchAt(issuedAt: number, deadlineMs = 1e6) {
      const t = setup({ cpuTierBlocks: 100 });
      const act = {
        ...header(issuedAt),
        kind: 'prefetch' as const,
        sessionId: 's3',
        agentId: 'A',
        blockHashes: [0, 1, 2, 3, 4].map(hashOf),
        deadlineMs,
      };
      t.sim.scheduler.schedule(issuedAt, () => t.engine.prefetch(act));
      const result = t.sim.run();
      const r = t.records.sort((a, b) => a.index - b.index)[3]!;
      return { gpu: r.gpuHitTokens, cpu: r.cpuHitTokens, prefetch: result.total.prefetch, sink: t.sink };
    }

    it('becomes a GPU hit when the reload completes before the request arrives', () => {
      const { arrival2, arrival3 } = arrivals();
      const issued = arrival3 - 10;
      expect(issued).toBeGreaterThan(arrival2);
      const done = prefetchAt(issued);
      expect(done.gpu).toBe(64);
      expect(done.cpu).toBe(0);
      expect(done.prefetch).toEqual({ issued: 1, blocksRequested: 4, blocksLoaded: 4, blocksUsed: 4, precision: 1 });
      const stored = done.sink
        .kv()
        .filter((e) => e.kind === 'BLOCK_STORED' && e.medium === 'GPU' && e.ts === issued + 4 * per);
      expect(stored.map((e) => e.blockHashes)).toEqual([ctx]);
    });

    it('helps only as much as finished in time', () => {
      const { arrival3 } = arrivals();
      const partial = prefetchAt(arrival3 - 2.5 * per);
      expect([partial.gpu, partial.cpu]).toEqual([32, 32]);
      expect(partial.prefetch).toMatchObject({ blocksRequested: 4, blocksLoaded: 2, blocksUsed: 2, precision: 1 });
      const late = prefetchAt(arrival3 - 0.5 * per);
      expect([late.gpu, late.cpu]).toEqual([0, 64]);
      expect(late.prefetch).toMatchObject({ blocksLoaded: 0, blocksUsed: 0, precision: 0 });
    });

    it('loads only what fits before the deadline', () => {
      const { arrival3 } = arrivals();
      const r = prefetchAt(arrival3 - 10, 2.5 * per);
      expect(r.prefetch).toMatchObject({ blocksRequested: 2, blocksLoaded: 2, blocksUsed: 2 });
      expect([r.gpu, r.cpu]).toEqual([32, 32]);
    });
  });
});
