import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../adapters/engine-sim/seeded-random.js';
import { createSimulation, simulate } from '../../../adapters/engine-sim/simulate.js';
import { indexWorkload } from '../../../adapters/engine-sim/workload-index.js';
import type { PreparedSession, PreparedTurn, PreparedWorkload } from '../../../workloads/types.js';
import { recordingSink } from './recording.js';

/**
 * A chatdev-sized group chat built directly on block ids: agent a's prompt is system(a) + the session's messages so
 * far, so it extends a's previous prompt in the session; message t is the output of turn t.
 */
function bigWorkload(o: {
  seed: number;
  sessions: number;
  turns: number;
  agents: number;
  sysBlocks: number;
  msgBlocks: number;
}) {
  const rnd = mulberry32(o.seed);
  let next = 0;
  const system = Array.from({ length: o.agents }, () => Array.from({ length: o.sysBlocks }, () => next++));
  const sessions: PreparedSession[] = [];
  for (let s = 0; s < o.sessions; s++) {
    const chains = system.map((sys) => [...sys]);
    const covered = new Array<number>(o.agents).fill(0);
    const messages: number[] = [];
    const turns: PreparedTurn[] = [];
    for (let t = 0; t < o.turns; t++) {
      const a = Math.floor(rnd() * o.agents);
      const chain = chains[a]!;
      for (let m = covered[a]!; m < messages.length; m++) for (let b = 0; b < messages[m]!; b++) chain.push(next++);
      covered[a] = messages.length;
      const promptBlocks = Uint32Array.from(chain);
      const len = 1 + Math.floor(rnd() * o.msgBlocks * 2);
      const outputBlocks = new Uint32Array(len);
      for (let b = 0; b < len; b++) {
        outputBlocks[b] = next++;
        chain.push(outputBlocks[b]!);
      }
      messages.push(len);
      covered[a] = messages.length;
      turns.push({
        turn: t,
        agentId: `agent${a}`,
        llm: true,
        promptTokens: promptBlocks.length * 16 + 7,
        promptBlocks,
        outputTokens: len * 16,
        outputBlocks,
        anchorBlocks: o.sysBlocks,
        toolCall: rnd() < 0.2 ? 'tool' : null,
        phase: null,
      });
    }
    sessions.push({ sessionId: `s${s}`, turns });
  }
  const hashes = new BigInt64Array(next);
  for (let id = 0; id < next; id++) hashes[id] = BigInt(id) * 2654435761n + 1n;
  const w: PreparedWorkload = {
    workloadId: 'big',
    agents: system.map((_, a) => `agent${a}`),
    sessions,
    hashes,
    source: 'synthetic:timing',
  };
  return w;
}

describe('engine simulator speed', () => {
  it('serves millions of block touches per second', () => {
    const w = bigWorkload({ seed: 1, sessions: 120, turns: 28, agents: 8, sysBlocks: 150, msgBlocks: 60 });
    const touches = w.sessions.reduce(
      (a, s) => a + s.turns.reduce((b, t) => b + t.promptBlocks.length + t.outputBlocks.length, 0),
      0,
    );
    expect(touches).toBeGreaterThan(3_000_000);
    const index = indexWorkload(w);
    const rates: Record<string, number> = {};
    const time = (name: string, f: () => unknown) => {
      const t0 = performance.now();
      f();
      const s = (performance.now() - t0) / 1000;
      rates[name] = touches / s;
      return s;
    };
    for (const c of [1, 4]) {
      time(`lru C=${c}`, () =>
        simulate({ workload: w, index, budgetBlocks: 1000, concurrency: c, evictor: 'lru', seed: 1 }),
      );
      time(`belady C=${c}`, () =>
        simulate({ workload: w, index, budgetBlocks: 1000, concurrency: c, evictor: 'belady', seed: 1 }),
      );
    }
    time('lru C=4 prioritized', () => {
      const sim = createSimulation({ workload: w, index, budgetBlocks: 1000, concurrency: 4, evictor: 'lru', seed: 1 });
      const engine = sim.engines[0]!;
      sim.scheduler.schedule(0, () =>
        engine.applyEvictionHints({
          kind: 'evict',
          engineId: engine.engineId,
          seq: 1,
          issuedAt: 0,
          ttlMs: 1e12,
          causeId: 'timing',
          causeProducedAt: 0,
          policy: 'timing',
          entries: [{ contextId: null, blockHashes: [w.hashes[0]!], priority: 1 }],
        }),
      );
      return sim.run();
    });
    let events = 0;
    const sink = recordingSink();
    sink.write = (batch) => {
      events += batch.length;
    };
    time('lru C=4 + events', () =>
      simulate({ workload: w, index, budgetBlocks: 1000, concurrency: 4, evictor: 'lru', seed: 1, sink }),
    );
    console.log(
      `engine-sim: ${(touches / 1e6).toFixed(2)}M block touches, ${w.hashes.length} blocks, ${events} events; ` +
        Object.entries(rates)
          .map(([k, v]) => `${k}: ${(v / 1e6).toFixed(2)}M touches/s`)
          .join(', '),
    );
    expect(events).toBeGreaterThan(0);
    // A loose floor that catches an accidental O(n) step without flaking on a busy machine.
    expect(rates['lru C=1']).toBeGreaterThan(1_000_000);
  });
});
