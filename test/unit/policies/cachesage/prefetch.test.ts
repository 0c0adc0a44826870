import { describe, expect, it } from 'vitest';
import {
  createPrefillModel,
  MIN_PREFILL_SAMPLES,
  observePrefill,
  predictPrefill,
} from '../../../../policies/cachesage/prefill-model.js';
import type { CacheSageState, EngineState } from '../../../../policies/cachesage/state.js';
import type { ActDraft } from '../../../../policies/policy.js';
import type { BlockHash } from '../../../../schemas/types.js';
import { CacheSageDriver, h, promptOf } from './driver.js';

function engine(state: CacheSageState, id = 'e1'): EngineState {
  const e = state.engines.get(id);
  if (e === undefined) throw new Error(`no engine ${id}`);
  return e;
}

function prefetches(acts: readonly ActDraft[]) {
  return acts.flatMap((a) => (a.kind === 'prefetch' ? [a] : []));
}

describe('prefill model', () => {
  it('learns a prefill time that is linear in reloads and quadratic in computed blocks', () => {
    const m = createPrefillModel();
    const truth = (c: number, r: number): number => 12 + 0.45 * c + 0.0002 * c * c + 0.04 * r;
    expect(predictPrefill(m, 100, 10)).toBe(0);
    let seed = 3;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let i = 0; i < 400; i++) {
      const c = Math.floor(rnd() * 2000);
      const r = Math.floor(rnd() * 1000);
      observePrefill(m, c, r, truth(c, r));
      if (i === MIN_PREFILL_SAMPLES - 2) expect(predictPrefill(m, 100, 10)).toBe(0);
    }
    for (const [c, r] of [
      [0, 0],
      [500, 200],
      [1800, 0],
    ] as const) {
      expect(predictPrefill(m, c, r)).toBeCloseTo(truth(c, r), 0);
    }
  });
});

describe('CacheSage prefetch for a waiting request', () => {
  /**
   * Session p's agent A spoke once; other blocks filled the GPU, and A's context (but its first block) was evicted to
   * the CPU tier.
   */
  function setup(): { d: CacheSageDriver; offloaded: BlockHash[] } {
    const d = new CacheSageDriver();
    const a = d.step('p', 'A');
    const ctx = [...a.prompt, ...a.output];
    d.kv({ blockHashes: Array.from({ length: 10 }, (_, i) => h(`filler-${i}`)), parentHash: null });
    const offloaded = ctx.slice(1);
    d.kv({ kind: 'BLOCK_REMOVED', medium: 'GPU', blockHashes: offloaded });
    d.kv({ kind: 'BLOCK_STORED', medium: 'CPU', blockHashes: offloaded, parentHash: ctx[0] as BlockHash });
    return { d, offloaded };
  }

  function arrive(d: CacheSageDriver, session: string, agent: string, prompt: BlockHash[]): ActDraft[] {
    return d.request({
      sessionId: session,
      agentId: agent,
      phase: 'ARRIVED',
      blockHashes: prompt,
      promptTokens: prompt.length * 16 + 5,
      outputBlockHashes: [],
      outputTokens: 0,
    });
  }

  it('prefetches its missing blocks at the cache step ahead of it, to end within the predicted prefill', () => {
    const { d, offloaded } = setup();
    const e = engine(d.state);
    for (let i = 0; i < MIN_PREFILL_SAMPLES; i++) observePrefill(e.prefill, 0, 0, 50);
    const ahead = promptOf('B', 'q', 0);
    expect(prefetches(arrive(d, 'q', 'B', ahead))).toEqual([]);
    const waiting = promptOf('A', 'p', 1);
    expect(prefetches(arrive(d, 'p', 'A', waiting))).toEqual([]);
    expect(e.capacity).toBe(11);
    d.kv({ blockHashes: ahead, parentHash: null });
    const atStep = d.kv({ blockHashes: [h('q|B|out')], parentHash: ahead[ahead.length - 1] as BlockHash });
    const [p, ...more] = prefetches(atStep);
    expect(more).toEqual([]);
    expect(p?.sessionId).toBe('p');
    expect(p?.agentId).toBe('A');
    expect(p?.blockHashes).toEqual(offloaded);
    expect(p?.deadlineMs).toBeCloseTo(d.state.options.prefetchSafety * 50, 6);
    expect(prefetches(d.kv({ blockHashes: [h('q|B|out2')], parentHash: h('q|B|out') }))).toEqual([]);
  });

  it('learns the prefill of the request ahead from the time between two cache steps', () => {
    const d = new CacheSageDriver();
    for (let i = 0; i < MIN_PREFILL_SAMPLES + 1; i++) {
      const first = promptOf('A', `x${i}`, 0);
      const second = promptOf('B', `y${i}`, 0);
      arrive(d, `x${i}`, 'A', first);
      arrive(d, `y${i}`, 'B', second);
      d.kv({ blockHashes: [h(`x${i}|out`)], parentHash: first[first.length - 1] as BlockHash });
      d.ts += 30;
      d.kv({ blockHashes: [h(`y${i}|out`)], parentHash: second[second.length - 1] as BlockHash });
      d.ts += 1000;
    }
    const e = engine(d.state);
    expect(e.prefill.samples).toBe(MIN_PREFILL_SAMPLES + 1);
    expect(predictPrefill(e.prefill, 2, 0)).toBeCloseTo(30, 3);
  });
});
