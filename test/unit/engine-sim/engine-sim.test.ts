import { describe, expect, it } from 'vitest';
import type { RequestRecord } from '../../../adapters/engine-sim/engine-sim.js';
import { simulate } from '../../../adapters/engine-sim/simulate.js';
import type { KvEvent } from '../../../schemas/types.js';
import { type TurnSpec, workloadOf } from './fixtures.js';
import { gpuRemovals, idOf, recordingSink } from './recording.js';

/** One single-turn session per spec, so at concurrency 1 the requests run in the given order. */
function sequential(turns: TurnSpec[]) {
  return workloadOf(turns.map((t) => [t]));
}

function run(
  turns: TurnSpec[],
  budgetBlocks: number,
  extra: { cpuTierBlocks?: number; evictor?: 'lru' | 'belady' } = {},
) {
  const sink = recordingSink();
  const records: RequestRecord[] = [];
  const result = simulate({
    workload: sequential(turns),
    budgetBlocks,
    concurrency: 1,
    evictor: extra.evictor ?? 'lru',
    cpuTierBlocks: extra.cpuTierBlocks ?? 0,
    seed: 1,
    sink,
    onRequestDone: (r) => records.push(r),
  });
  records.sort((a, b) => a.index - b.index);
  return { result, sink, records };
}

describe('engine simulator: vLLM prefix cache', () => {
  it('evicts in LRU order, a finished request tail-first, and counts the leading resident run as hit', () => {
    const { result, sink, records } = run(
      [
        { prompt: [0, 1, 2], output: [3] },
        { prompt: [0, 1, 4, 5], output: [6] },
        { prompt: [0, 1, 2, 7] },
        { prompt: [0, 1, 4, 5, 8] },
      ],
      3,
    );
    // 1: cache empty. Queue after: 3 2 1 0 (head = eviction end).
    // 2: trim 4 -> 3 evicts [3]; hits 0 1; queue after: 2 6 5 4 1 0.
    // 3: trim 6 -> 3 evicts [2 6 5]; hits 0 1 (2 is gone); queue after: 4 7 2 1 0.
    // 4: trim 5 -> 3 evicts [4 7]; hits 0 1.
    expect(gpuRemovals(sink.kv())).toEqual([[3], [2, 6, 5], [4, 7]]);
    expect(records.map((r) => r.gpuHitTokens)).toEqual([0, 32, 32, 32]);
    expect(result.total.evictions).toBe(6);
    const prompt = (3 + 4 + 4 + 5) * 16 + 4 * 5;
    expect(result.total.promptTokens).toBe(prompt);
    expect(result.total.tokenHitRate).toBeCloseTo(96 / prompt, 12);
  });

  it('limits hits to floor((promptTokens - 1) / 16) blocks: the last token is always recomputed', () => {
    const exact = run(
      [
        { prompt: [0, 1, 2], promptTokens: 48 },
        { prompt: [0, 1, 2], promptTokens: 48 },
        { prompt: [0, 1, 2], promptTokens: 49 },
        { prompt: [0], promptTokens: 16 },
      ],
      10,
    );
    expect(exact.records.map((r) => r.gpuHitTokens)).toEqual([0, 32, 48, 0]);
    const finished = exact.sink.requests().filter((e) => e.phase === 'FINISHED');
    expect(finished.map((e) => e.cachedTokens)).toEqual([0, 32, 48, 0]);
    expect(exact.result.total.tokenHitRate).toBeCloseTo(80 / (48 + 48 + 49 + 16), 12);
  });

  it("does not count a running request's own blocks against the budget", () => {
    const ten = Array.from({ length: 10 }, (_, i) => i);
    const { records, sink } = run([{ prompt: ten, output: [10] }, { prompt: [...ten, 11] }], 2);
    // The first request computes 10 blocks + 1 output block with a budget of 2: nothing is evicted while it runs.
    // The second request's allocation trims the queue (10 0..9 tail-first) to 2 blocks: 0 and 1 stay.
    expect(gpuRemovals(sink.kv())).toEqual([[10, 9, 8, 7, 6, 5, 4, 3, 2]]);
    expect(records.map((r) => r.gpuHitTokens)).toEqual([0, 32]);
  });

  it('publishes BlockStored with parent hashes, ARRIVED before the step, FINISHED with outputs', () => {
    const { sink } = run([{ prompt: [0, 1], output: [2], toolCall: 'search' }, { prompt: [0, 1, 3] }], 8);
    const kinds = sink.messages.map((m) =>
      m.destination === 'cachesage.requests'
        ? `req:${(m.value as { phase: string }).phase}`
        : `kv:${(m.value as KvEvent).kind}`,
    );
    expect(kinds).toEqual([
      'req:ARRIVED',
      'kv:BLOCK_STORED',
      'kv:BLOCK_STORED',
      'req:FINISHED',
      'req:ARRIVED',
      'kv:BLOCK_STORED',
      'req:FINISHED',
    ]);
    const stored = sink.kv().filter((e) => e.kind === 'BLOCK_STORED');
    expect(stored.map((e) => [e.blockHashes.map(idOf), e.parentHash === null ? null : idOf(e.parentHash)])).toEqual([
      [[0, 1], null],
      [[2], 1],
      [[3], 1],
    ]);
    expect(stored.map((e) => e.seq)).toEqual([0, 1, 2]);
    const [arrived, finished] = sink.requests();
    expect(arrived?.blockHashes.map(idOf)).toEqual([0, 1]);
    expect(arrived?.cachedTokens).toBe(0);
    expect(finished?.outputBlockHashes.map(idOf)).toEqual([2]);
    expect(finished?.toolCall).toBe('search');
    expect(finished?.outputTokens).toBe(19);
    expect(finished?.requestId).toBe(arrived?.requestId);
    const ids = sink.messages.map((m) => (m.value as { eventId: string }).eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe('engine-0:0');
    expect(sink.messages.every((m) => m.key === 'engine-0')).toBe(true);
  });

  it('offloads evicted blocks to the CPU tier and reloads the continuing run from it', () => {
    const { records, sink, result } = run(
      [{ prompt: [0, 1, 2, 3] }, { prompt: [10, 11, 12, 13] }, { prompt: [0, 1, 2, 3, 4] }],
      4,
      { cpuTierBlocks: 3 },
    );
    // Step 3's trim evicts 3 2 1 0 into a CPU tier of 3: storing 0 drops 3 (its LRU end).
    expect(gpuRemovals(sink.kv())).toEqual([[3, 2, 1, 0]]);
    const cpu = sink.kv().filter((e) => e.medium === 'CPU');
    expect(cpu.map((e) => [e.kind, e.blockHashes.map(idOf)])).toEqual([
      ['BLOCK_STORED', [0, 1, 2, 3]],
      ['BLOCK_REMOVED', [3]],
    ]);
    // Only 0 1 2 remain in the CPU tier: 3 blocks reloaded, then block 3 and 4 computed.
    expect(records[2]?.gpuHitTokens).toBe(0);
    expect(records[2]?.cpuHitTokens).toBe(48);
    expect(result.total.cpuHitRate).toBeCloseTo(48 / (13 * 16 + 15), 12);
  });

  it('Belady evicts the block used farthest in the future, LRU the least recently used', () => {
    const turns: TurnSpec[] = [
      { prompt: [0, 1] },
      { prompt: [10, 11] },
      { prompt: [20, 21] },
      { prompt: [0, 1, 5] },
      { prompt: [10, 11, 6] },
    ];
    const lru = run(turns, 4);
    const belady = run(turns, 4, { evictor: 'belady' });
    // Step 3 must evict one context: LRU drops 0 1 (oldest), Belady drops 20 21 (never used again).
    expect(gpuRemovals(lru.sink.kv())[0]).toEqual([1, 0]);
    expect(gpuRemovals(belady.sink.kv())[0]).toEqual([21, 20]);
    expect(lru.records.map((r) => r.gpuHitTokens)).toEqual([0, 0, 0, 0, 0]);
    expect(belady.records.map((r) => r.gpuHitTokens)).toEqual([0, 0, 0, 32, 32]);
  });
});
