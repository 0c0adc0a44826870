import { describe, expect, it } from 'vitest';
import { simulate } from '../../../adapters/engine-sim/simulate.js';
import type { KafkaSink } from '../../../adapters/kafka/kafka-sink.js';
import { createMemoryBus } from '../../../adapters/memory/memory-bus.js';
import { createVirtualScheduler } from '../../../adapters/memory/virtual-scheduler.js';
import type { SinkMessage } from '../../../core/io.js';
import { createCodec } from '../../../schemas/codec.js';
import { createEngineSimService } from '../../../services/engine-sim/run-engine-sim.js';
import { generateSynthetic } from '../../../workloads/synthetic.js';
import { SYNTHETIC_PROFILES } from '../../../workloads/synthetic-spec.js';

describe('engine-sim service', () => {
  it("serves engine k's part of the request order in paced time exactly as the in-memory simulation does", async () => {
    const workload = generateSynthetic({ ...SYNTHETIC_PROFILES.structured!, sessions: 12, seed: 3 });
    const reference = simulate({ workload, budgetBlocks: 60, concurrency: 2, engines: 3, evictor: 'lru', seed: 7 });
    const written: SinkMessage<Uint8Array | null>[] = [];
    const kafka = {
      write: async (m: SinkMessage<Uint8Array | null>[]) => void written.push(...m),
    } as unknown as KafkaSink;
    const bus = createMemoryBus({ scheduler: createVirtualScheduler() });
    const service = createEngineSimService({
      workload,
      engineIndex: 1,
      engines: 3,
      engineId: 'engine-1',
      budgetBlocks: 60,
      concurrency: 2,
      seed: 7,
      speed: 50_000,
      kafka,
      kvEventsTopic: 'kv',
      requestsTopic: 'rq',
      subscribe: bus.subscribe,
    });
    service.start();
    const report = await service.done;
    service.stop();
    const ref = reference.engines[1]!;
    expect(report.requests).toBe(ref.requests);
    expect(report.promptTokens).toBe(ref.promptTokens);
    expect(report.gpuHitTokens).toBe(ref.gpuHitTokens);
    expect(report.tokenHitRate).toBe(ref.tokenHitRate);
    expect(report.meanTtftMs).toBeCloseTo(ref.meanTtftMs, 2);
    expect(report.evictions).toBe(ref.evictions);
    expect(report.events.kv + report.events.requests).toBe(written.length);
    expect(new Set(written.map((m) => m.destination))).toEqual(new Set(['kv', 'rq']));
    expect(written.every((m) => m.key === 'engine-1')).toBe(true);
    const requests = written
      .filter((m) => m.destination === 'rq')
      .map((m) => createCodec('RequestEvent').decode(m.value!));
    expect(requests.filter((r) => r.phase === 'FINISHED')).toHaveLength(ref.requests);
    expect(requests.every((r) => Number.isInteger(r.ts))).toBe(true);
  });

  it('refuses an engine index outside the engines', () => {
    const workload = generateSynthetic({ ...SYNTHETIC_PROFILES.structured!, sessions: 2, seed: 3 });
    const bus = createMemoryBus({ scheduler: createVirtualScheduler() });
    expect(() =>
      createEngineSimService({
        workload,
        engineIndex: 3,
        engines: 3,
        engineId: 'e',
        budgetBlocks: 10,
        concurrency: 1,
        seed: 1,
        kafka: {} as KafkaSink,
        subscribe: bus.subscribe,
      }),
    ).toThrow(/engine index/);
  });
});
