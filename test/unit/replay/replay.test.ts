import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRequestOrder } from '../../../adapters/engine-sim/request-order.js';
import type { SimResult } from '../../../adapters/engine-sim/result.js';
import { createSimulation } from '../../../adapters/engine-sim/simulate.js';
import { indexWorkload } from '../../../adapters/engine-sim/workload-index.js';
import { createActFilter } from '../../../adapters/hooks/act-filter.js';
import { attachEngineHooks } from '../../../adapters/hooks/attach-engine-hooks.js';
import { createMemoryBus, memorySources } from '../../../adapters/memory/memory-bus.js';
import { createMemoryStores } from '../../../adapters/memory/memory-store.js';
import { partitionOfKey } from '../../../adapters/memory/murmur2.js';
import { createVirtualScheduler } from '../../../adapters/memory/virtual-scheduler.js';
import { createRecordingWriter, readRecording } from '../../../adapters/recording/recording-file.js';
import type { RecordedRecord } from '../../../adapters/recording/recording-format.js';
import type { Sink } from '../../../core/io.js';
import { runCell } from '../../../eval/run-cell.js';
import { createPolicy } from '../../../policies/index.js';
import { deriveState } from '../../../replay/derive-state.js';
import { orderRecorded } from '../../../replay/recorded-events.js';
import { requestsToWorkload } from '../../../replay/requests-to-workload.js';
import { createCodec } from '../../../schemas/codec.js';
import type { KvEvent, RequestEvent } from '../../../schemas/types.js';
import { engineTopology } from '../../../topology/engine-topology.js';
import { startTopology } from '../../../topology/runtime/start-topology.js';
import { loadWorkload } from '../../../workloads/load-workload.js';
import type { PreparedWorkload } from '../../../workloads/types.js';

const KV = 'test.kv';
const REQ = 'test.requests';
const PARTITIONS = 4;
const kvCodec = createCodec('KvEvent');
const requestCodec = createCodec('RequestEvent');

/** Event times as Avro longs (the simulator's clock has fractions of a millisecond). */
function wholeMs<E extends { ts: number; producedAt: number }>(event: E): E {
  return { ...event, ts: Math.round(event.ts), producedAt: Math.round(event.producedAt) };
}

/** Captures what a simulation publishes as Kafka would store it: Avro bytes, key engineId, ms timestamps. */
function recorder(now: () => number): { sink: Sink<unknown>; records: RecordedRecord[] } {
  const records: RecordedRecord[] = [];
  const offsets = new Map<string, number>();
  return {
    records,
    sink: {
      name: 'recorder',
      write(messages) {
        for (const m of messages) {
          const isKv = m.destination === 'cachesage.kv-events';
          const topic = isKv ? KV : REQ;
          const partition = partitionOfKey(m.key as string, PARTITIONS);
          const k = `${topic}|${partition}`;
          const offset = offsets.get(k) ?? 0;
          offsets.set(k, offset + 1);
          records.push({
            topic,
            partition,
            offset: String(offset),
            timestamp: Math.floor(now() / 50),
            key: m.key,
            value: isKv
              ? kvCodec.encode(wholeMs(m.value as KvEvent))
              : requestCodec.encode(wholeMs(m.value as RequestEvent)),
            headers: {},
          });
        }
      },
      close: async () => {},
    },
  };
}

interface LiveRun {
  sim: SimResult;
  records: RecordedRecord[];
  resident: Map<string, number>;
}

/** A run like `runCell`, with every event the engines publish also recorded. */
function liveRun(
  workload: PreparedWorkload,
  policyName: string,
  o: { budgetBlocks: number; concurrency: number; engines: number },
): LiveRun {
  const scheduler = createVirtualScheduler();
  const bus = createMemoryBus({ scheduler, releaseDelivered: true });
  const topology = engineTopology({ policies: [policyName] });
  const policy = createPolicy(policyName);
  const rec = recorder(() => scheduler.now());
  const busSink = bus.sink('sim');
  const sink: Sink<unknown> = {
    name: 'tee',
    write(messages) {
      rec.sink.write(messages);
      return busSink.write(messages);
    },
    close: async () => {},
  };
  const simulation = createSimulation({
    workload,
    budgetBlocks: o.budgetBlocks,
    concurrency: o.concurrency,
    engines: o.engines,
    evictor: 'lru',
    actDelayMs: 0,
    seed: 1,
    scheduler,
    sink: sink as Sink<never>,
  });
  const running = startTopology(topology, {
    sources: memorySources(bus, topology, { fromBeginning: true, groupId: 'live' }),
    sinks: { acts: bus.sink('acts'), dlq: bus.sink('dlq') },
    stores: createMemoryStores(topology.stores.map((s) => s.name)),
    policies: [policy],
    scheduler,
  });
  for (const engine of simulation.engines) {
    attachEngineHooks({
      subscribe: bus.subscribe,
      engineId: engine.engineId,
      hooks: engine,
      filter: createActFilter({ engineId: engine.engineId, now: scheduler.now }),
    });
  }
  const sim = simulation.run();
  void running.close();
  return {
    sim,
    records: rec.records,
    resident: new Map(simulation.engines.map((e) => [e.engineId, e.residentCount()])),
  };
}

let workload: PreparedWorkload;

beforeAll(async () => {
  workload = await loadWorkload('synthetic?sessions=18&minTurns=4&maxTurns=9', { cacheDir: null });
});

describe('requestsToWorkload', () => {
  it('rebuilds the recorded requests so that a re-simulation under LRU gives the recorded hit rate exactly', () => {
    const cell = { budgetBlocks: 120, concurrency: 3, engines: 2 };
    const live = liveRun(workload, 'lru', cell);
    const ordered = orderRecorded(live.records, { kv: KV, requests: REQ });
    const rebuilt = requestsToWorkload(ordered.requests, { source: 'test' });

    expect(rebuilt.engineIds).toEqual(['engine-0', 'engine-1']);
    expect(rebuilt.inferredConcurrency).toBe(3);
    expect(rebuilt.calls).toBe(live.sim.total.requests);
    expect(rebuilt.unfinished).toBe(0);
    expect(rebuilt.reported.promptTokens).toBe(live.sim.total.promptTokens);
    expect(rebuilt.reported.tokenHitRate).toBeCloseTo(live.sim.total.tokenHitRate, 12);
    expect(rebuilt.workload.sessions.map((s) => s.sessionId)).toEqual(workload.sessions.map((s) => s.sessionId));
    const original = workload.sessions[5]!.turns[2]!;
    const copy = rebuilt.workload.sessions[5]!.turns[2]!;
    expect([...copy.promptBlocks].map((id) => rebuilt.workload.hashes[id])).toEqual(
      [...original.promptBlocks].map((id) => workload.hashes[id]),
    );
    expect(copy.outputTokens).toBe(original.outputTokens);

    const order = buildRequestOrder(rebuilt.workload, { concurrency: 3, engines: 2 });
    const replayed = runCell({
      workload: rebuilt.workload,
      index: indexWorkload(rebuilt.workload),
      order,
      policy: createPolicy('lru'),
      ...cell,
      cpuTierBlocks: 0,
      actDelayMs: 0,
      seed: 1,
    });
    expect(replayed.sim.total.gpuHitTokens).toBe(live.sim.total.gpuHitTokens);
    expect(replayed.sim.total.meanTtftMs).toBeCloseTo(live.sim.total.meanTtftMs, 6);
  });

  it('reproduces a CacheSage run on the rebuilt workload, and LRU on it gives the LRU figure', () => {
    const cell = { budgetBlocks: 150, concurrency: 4, engines: 1 };
    const live = liveRun(workload, 'cachesage', cell);
    const lru = liveRun(workload, 'lru', cell);
    const rebuilt = requestsToWorkload(orderRecorded(live.records, { kv: KV, requests: REQ }).requests, {
      source: 'test',
    });
    const order = buildRequestOrder(rebuilt.workload, { concurrency: rebuilt.inferredConcurrency, engines: 1 });
    const run = (name: string) =>
      runCell({
        workload: rebuilt.workload,
        index: indexWorkload(rebuilt.workload),
        order,
        policy: createPolicy(name),
        ...cell,
        cpuTierBlocks: 0,
        actDelayMs: 0,
        seed: 1,
      }).sim.total.tokenHitRate;
    expect(live.sim.total.tokenHitRate).not.toBeCloseTo(lru.sim.total.tokenHitRate, 3);
    expect(run('cachesage')).toBeCloseTo(live.sim.total.tokenHitRate, 9);
    expect(run('lru')).toBeCloseTo(lru.sim.total.tokenHitRate, 9);
  });

  it('refuses a recording of several workloads without a choice, and one without requests', () => {
    const a = { event: { workloadId: 'a' } as RequestEvent, position: 0 };
    const b = { event: { workloadId: 'b' } as RequestEvent, position: 1 };
    expect(() => requestsToWorkload([a, b], { source: 't' })).toThrow(/several workloads \(a, b\).*--workload-id/);
    expect(() => requestsToWorkload([], { source: 't' })).toThrow(/no request events/);
    expect(() => requestsToWorkload([a], { source: 't', workloadId: 'c' })).toThrow(/workload c is not in/);
  });
});

describe('deriveState', () => {
  it('re-derives every engine resident blocks and the transition counts from the recorded bytes', async () => {
    const live = liveRun(workload, 'lru', { budgetBlocks: 100, concurrency: 2, engines: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'cachesage-replay-'));
    const writer = createRecordingWriter(join(dir, 'r.jsonl.gz'), {
      format: 'cachesage-recording',
      version: 1,
      createdAt: new Date().toISOString(),
      from: 'beginning',
      to: 'now',
      topics: { kv: KV, requests: REQ },
      ranges: [],
    });
    for (const r of [...live.records].reverse()) await writer.write(r);
    await writer.close();
    const recording = await readRecording(join(dir, 'r.jsonl.gz'));
    expect(recording.records).toHaveLength(live.records.length);
    const ordered = orderRecorded(recording.records, recording.header.topics);
    const state = deriveState({ records: ordered.records, kvTopic: KV, requestsTopic: REQ, policies: ['lru'] });

    expect(state.deadLettered).toBe(0);
    expect(state.events.kv + state.events.requests).toBe(live.records.length);
    expect(state.engines.map((e) => [e.engineId, e.residentBlocks])).toEqual([...live.resident.entries()]);
    expect(state.engines.map((e) => e.requests)).toEqual(live.sim.engines.map((e) => e.requests));
    const pairs = new Map<string, number>();
    let within = 0;
    for (const s of workload.sessions) {
      for (let t = 1; t < s.turns.length; t++) {
        const key = `${s.turns[t - 1]!.agentId}>${s.turns[t]!.agentId}`;
        pairs.set(key, (pairs.get(key) ?? 0) + 1);
        within++;
      }
    }
    const [model] = state.workloads;
    expect(model?.workloadId).toBe(workload.workloadId);
    expect(model!.transitions).toBeGreaterThanOrEqual(within);
    expect(model!.transitions).toBeLessThanOrEqual(within + workload.sessions.length);
    for (const t of model!.top.filter((x) => x.to !== 'END')) expect(t.count).toBe(pairs.get(`${t.from}>${t.to}`));
  });

  it('dead-letters records that do not decode and goes on', () => {
    const live = liveRun(workload, 'lru', { budgetBlocks: 100, concurrency: 2, engines: 1 });
    const broken: RecordedRecord = { ...live.records[3]!, value: new Uint8Array([0, 0, 0, 0, 99, 1]) };
    const records = [...live.records.slice(0, 3), broken, ...live.records.slice(4)];
    const state = deriveState({ records, kvTopic: KV, requestsTopic: REQ });
    expect(state.deadLettered).toBe(1);
    expect(Object.values(state.failures)).toEqual([1]);
    expect(state.engines).toHaveLength(1);
  });
});
