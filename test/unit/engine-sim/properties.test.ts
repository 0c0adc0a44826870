import { describe, expect, it } from 'vitest';
import type { EngineSim } from '../../../adapters/engine-sim/engine-sim.js';
import { type EngineResult, totalOf } from '../../../adapters/engine-sim/result.js';
import { mulberry32 } from '../../../adapters/engine-sim/seeded-random.js';
import { createSimulation, simulate } from '../../../adapters/engine-sim/simulate.js';
import type { ActHeader, KvEvent, RequestEvent } from '../../../schemas/types.js';
import type { PreparedWorkload } from '../../../workloads/types.js';
import { randomWorkload, workloadOf } from './fixtures.js';
import { idOf, recordingSink } from './recording.js';

const header = (engineId: string, issuedAt: number): ActHeader => ({
  engineId,
  seq: 0,
  issuedAt,
  ttlMs: 1e9,
  causeId: 'test',
  causeProducedAt: 0,
  policy: 'random',
});

/**
 * An online policy with no sense at all: on every request event it gives random priorities to random blocks of the
 * request, sometimes pins some, sometimes prefetches the prompt.
 */
function randomActs(seed: number, engines: () => readonly EngineSim[]) {
  const rnd = mulberry32(seed);
  return (event: RequestEvent): void => {
    const engine = engines().find((e) => e.engineId === event.engineId);
    if (!engine) return;
    const blocks = [...event.blockHashes, ...event.outputBlockHashes];
    const pick = blocks.filter(() => rnd() < 0.5);
    engine.applyEvictionHints({
      ...header(event.engineId, event.ts),
      kind: 'evict',
      entries: [
        { contextId: `${event.sessionId}/${event.agentId}`, blockHashes: pick, priority: Math.floor(rnd() * 5) - 2 },
      ],
    });
    if (rnd() < 0.2) {
      engine.pin({ ...header(event.engineId, event.ts), kind: 'pin', blockHashes: pick, pinTtlMs: rnd() * 500 });
    }
    if (rnd() < 0.3) {
      engine.prefetch({
        ...header(event.engineId, event.ts),
        kind: 'prefetch',
        sessionId: event.sessionId,
        agentId: event.agentId,
        blockHashes: event.blockHashes,
        deadlineMs: rnd() * 1000,
      });
    }
  };
}

interface Config {
  budgetBlocks: number;
  concurrency: number;
  engines: number;
  cpuTierBlocks: number;
  evictor: 'lru' | 'belady';
  acts: boolean;
}

/** Steps the simulation task by task and checks the cache after each. */
function checkInvariants(w: PreparedWorkload, cfg: Config, seed: number): EngineResult {
  let engines: readonly EngineSim[] = [];
  const onRequest = cfg.acts ? randomActs(seed, () => engines) : () => {};
  const sink = recordingSink((m) => {
    if (m.destination === 'cachesage.requests') onRequest(m.value as RequestEvent);
  });
  const sim = createSimulation({ workload: w, ...cfg, seed, actDelayMs: cfg.acts ? 3 : 0, sink });
  engines = sim.engines;
  const gpu = new Map<string, Set<number>>(engines.map((e) => [e.engineId, new Set<number>()]));
  const cpu = new Map<string, Set<number>>(engines.map((e) => [e.engineId, new Set<number>()]));
  let seen = 0;
  for (const e of engines) e.start();
  let guard = 0;
  while (!engines.every((e) => e.done)) {
    expect(sim.scheduler.step()).toBe(true);
    expect(++guard).toBeLessThan(1e6);
    for (; seen < sink.messages.length; seen++) {
      const m = sink.messages[seen]!;
      if (m.destination === 'cachesage.requests') continue;
      const k = m.value as KvEvent;
      const set = (k.medium === 'GPU' ? gpu : cpu).get(k.engineId)!;
      for (const h of k.blockHashes) {
        if (k.kind === 'BLOCK_STORED') {
          expect(set.has(idOf(h))).toBe(false);
          set.add(idOf(h));
        } else {
          expect(set.delete(idOf(h))).toBe(true);
        }
      }
    }
    for (const e of engines) {
      const queued = e.queuedBlocks();
      // Between tasks no request is running: every resident block is queued, and the events tell the same story.
      expect(queued.length).toBe(e.residentCount());
      expect(new Set(queued)).toEqual(gpu.get(e.engineId));
      expect(new Set(e.cpuBlocks())).toEqual(cpu.get(e.engineId));
      expect(e.cpuBlocks().length).toBeLessThanOrEqual(cfg.cpuTierBlocks);
      for (const id of queued) {
        const parent = sim.index.parent[id]!;
        if (parent >= 0) expect(e.isResident(parent)).toBe(true);
      }
      if (!cfg.acts) {
        // At most the budget survived the last trim; the last request stepped added its prompt and output blocks.
        const stepped = e.result().requests;
        const order = sim.order.engines[sim.engines.indexOf(e)]!;
        const turn =
          stepped === 0
            ? undefined
            : w.sessions[order.sessionIndex[stepped - 1]!]!.turns[order.turnIndex[stepped - 1]!]!;
        const last = turn === undefined ? 0 : turn.promptBlocks.length + turn.outputBlocks.length;
        expect(e.residentCount()).toBeLessThanOrEqual(cfg.budgetBlocks + last);
      }
    }
  }
  return totalOf(engines.map((e) => e.result()));
}

describe('engine simulator: properties on random workloads', () => {
  it('keeps the cache prefix-closed, within budget, and its events consistent after every task', () => {
    let runs = 0;
    const totals: EngineResult[] = [];
    for (let seed = 1; seed <= 12; seed++) {
      const w = randomWorkload({ seed, sessions: 8, agents: 3, maxTurns: 6, maxSystemBlocks: 3, maxMessageBlocks: 3 });
      const budgets = [0, 3, 12];
      for (const budgetBlocks of budgets) {
        const configs: Config[] = [
          { budgetBlocks, concurrency: 1, engines: 1, cpuTierBlocks: 0, evictor: 'lru', acts: false },
          { budgetBlocks, concurrency: 3, engines: 2, cpuTierBlocks: 6, evictor: 'lru', acts: true },
          { budgetBlocks, concurrency: 2, engines: 1, cpuTierBlocks: 0, evictor: 'belady', acts: false },
          { budgetBlocks, concurrency: 2, engines: 1, cpuTierBlocks: 20, evictor: 'lru', acts: true },
        ];
        for (const cfg of configs) {
          totals.push(checkInvariants(w, cfg, seed));
          runs++;
        }
      }
    }
    expect(runs).toBe(144);
    // The runs exercised what they claim to: evictions, CPU tier, applied priorities, pins and loaded prefetches.
    const sum = (f: (r: EngineResult) => number) => totals.reduce((a, r) => a + f(r), 0);
    expect(sum((r) => r.evictions)).toBeGreaterThan(1000);
    expect(sum((r) => r.cpuEvictions)).toBeGreaterThan(0);
    expect(sum((r) => r.cpuHitTokens)).toBeGreaterThan(0);
    expect(sum((r) => r.acts.applied.evict)).toBeGreaterThan(100);
    expect(sum((r) => r.acts.applied.pin)).toBeGreaterThan(10);
    expect(sum((r) => r.prefetch.blocksLoaded)).toBeGreaterThan(10);
    expect(sum((r) => r.prefetch.blocksUsed)).toBeGreaterThan(0);
  });

  it('Belady hits at least as much as LRU and as any random priority order, and strictly more somewhere', () => {
    let strictlyBetter = 0;
    let cells = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const w = randomWorkload({
        seed,
        sessions: 10,
        agents: 4,
        maxTurns: 10,
        maxSystemBlocks: 4,
        maxMessageBlocks: 3,
      });
      for (const budgetBlocks of [2, 8, 20, 60]) {
        for (const concurrency of [1, 4]) {
          const base = { workload: w, budgetBlocks, concurrency, seed };
          const belady = simulate({ ...base, evictor: 'belady' }).total.gpuHitTokens;
          const lru = simulate({ ...base, evictor: 'lru' }).total.gpuHitTokens;
          let engines: readonly EngineSim[] = [];
          const acts = randomActs(seed * 31 + budgetBlocks, () => engines);
          const sim = createSimulation({
            ...base,
            evictor: 'lru',
            actDelayMs: 0,
            sink: recordingSink((m) => {
              if (m.destination === 'cachesage.requests') acts(m.value as RequestEvent);
            }),
          });
          engines = sim.engines;
          const random = sim.run().total.gpuHitTokens;
          expect(belady).toBeGreaterThanOrEqual(lru);
          expect(belady).toBeGreaterThanOrEqual(random);
          if (belady > lru) strictlyBetter++;
          cells++;
        }
      }
    }
    expect(cells).toBe(320);
    expect(strictlyBetter).toBeGreaterThan(cells / 4);
  });

  it('runs several engines with separate caches over their share of the sessions', () => {
    // Sessions 0 and 2 go to engine 0, 1 and 3 to engine 1: each later session reuses the other engine's context.
    const w = workloadOf([
      [{ prompt: [0, 1] }],
      [{ prompt: [10, 11] }],
      [{ prompt: [10, 11, 5] }],
      [{ prompt: [0, 1, 6] }],
    ]);
    const split = simulate({ workload: w, budgetBlocks: 100, concurrency: 1, engines: 2, evictor: 'lru', seed: 1 });
    expect(split.engines.map((e) => [e.engineId, e.requests, e.gpuHitTokens])).toEqual([
      ['engine-0', 2, 0],
      ['engine-1', 2, 0],
    ]);
    expect(split.total.requests).toBe(4);
    expect(split.total.makespanMs).toBe(Math.max(...split.engines.map((e) => e.makespanMs)));
    const single = simulate({ workload: w, budgetBlocks: 100, concurrency: 1, evictor: 'lru', seed: 1 });
    expect(single.total.gpuHitTokens).toBe(64);

    const sink = recordingSink();
    simulate({
      workload: w,
      budgetBlocks: 100,
      concurrency: 1,
      engines: 2,
      engineIds: ['a', 'b'],
      evictor: 'lru',
      seed: 1,
      sink,
    });
    const bySession = new Map(sink.requests().map((r) => [r.sessionId, r.engineId]));
    expect(Object.fromEntries(bySession)).toEqual({ s0: 'a', s1: 'b', s2: 'a', s3: 'b' });
    expect(sink.messages.every((m) => m.key === (m.value as { engineId: string }).engineId)).toBe(true);
  });
});
