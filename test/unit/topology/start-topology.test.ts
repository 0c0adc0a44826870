import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createActFilter } from '../../../adapters/hooks/act-filter.js';
import { attachEngineHooks } from '../../../adapters/hooks/attach-engine-hooks.js';
import type { EngineHooks } from '../../../adapters/hooks/engine-hooks.js';
import { createMemoryBus, type MemoryBus, memorySources } from '../../../adapters/memory/memory-bus.js';
import { createMemoryStores, type MemoryChangelog } from '../../../adapters/memory/memory-store.js';
import { createVirtualScheduler, type VirtualScheduler } from '../../../adapters/memory/virtual-scheduler.js';
import { ConfigError } from '../../../core/errors.js';
import type { Sink, SinkMessage, SourceBatch, SubjectMessage } from '../../../core/io.js';
import type { Policy } from '../../../policies/policy.js';
import { POLICY_STATE_KEY } from '../../../processors/policy-state.js';
import type { Act, DeadLetter, Pin } from '../../../schemas/types.js';
import { ENGINE_TOPICS, engineTopology } from '../../../topology/engine-topology.js';
import { type RunningTopology, startTopology } from '../../../topology/runtime/start-topology.js';
import type { OnError, Topology } from '../../../topology/types.js';
import { createEchoPolicy } from '../../support/echo-policy.js';
import { kvEvent, requestEvent } from '../../support/events.js';
import { type ScenarioRecord, scenario } from '../../support/scenario.js';

interface Rig {
  scheduler: VirtualScheduler;
  bus: MemoryBus;
  topology: Topology;
  run: RunningTopology;
  stores: ReturnType<typeof createMemoryStores>;
  delivered: [number, SubjectMessage<unknown>][];
}

function rig(options: { actDelayMs?: number; onError?: OnError; sink?: (bus: MemoryBus) => Sink<unknown> } = {}): Rig {
  const scheduler = createVirtualScheduler({ startMs: 0 });
  const bus = createMemoryBus({ scheduler, actDelayMs: options.actDelayMs ?? 0, partitions: 4 });
  const topology = engineTopology({ policies: ['echo'], onError: options.onError ?? 'dead-letter' });
  const stores = createMemoryStores(topology.stores.map((s) => s.name));
  const delivered: [number, SubjectMessage<unknown>][] = [];
  bus.subscribe('cachesage.act.>', (m) => delivered.push([scheduler.now(), m]));
  const sink = options.sink?.(bus) ?? bus.sink();
  const run = startTopology(topology, {
    sources: memorySources(bus, topology, { fromBeginning: true }),
    sinks: { acts: sink, dlq: sink },
    stores,
    policies: [createEchoPolicy() as Policy],
    scheduler,
  });
  return { scheduler, bus, topology, run, stores, delivered };
}

describe('startTopology on the in-memory bus', () => {
  it('runs synchronously: publishing an event processes, writes and commits it before publish returns', () => {
    const { scheduler, bus, run, delivered, stores } = rig({ actDelayMs: 5 });
    scheduler.runUntil(40);
    bus.publish(ENGINE_TOPICS.kvEvents, 'e1', kvEvent({ eventId: 'k1', ts: 40 }));
    const finished = requestEvent({ eventId: 'r1', ts: 40, producedAt: 39, blockHashes: [7n, 8n] });
    const origin = bus.publish(ENGINE_TOPICS.requests, 'e1', finished);
    expect(run.stats.records).toBe(2);
    expect(run.stats.commits).toBe(2);
    expect(run.stats.emitted.acts).toBe(1);
    expect(bus.committed('cachesage', ENGINE_TOPICS.requests)[origin.partition]).toBe(1);
    expect((stores['policy:echo']!.get(POLICY_STATE_KEY) as { events: number }).events).toBe(2);
    expect(delivered).toEqual([]);
    scheduler.runUntil(45);
    const act: Pin = {
      kind: 'pin',
      ttlMs: 1000,
      pinTtlMs: 500,
      blockHashes: [7n, 8n],
      engineId: 'e1',
      seq: 1,
      issuedAt: 40,
      causeId: 'r1',
      causeProducedAt: 39,
      policy: 'echo',
    };
    expect(delivered).toEqual([[45, { subject: 'cachesage.act.e1.pin', value: act, headers: {} }]]);
  });

  it('dead-letters a bad record with its origin and goes on with the stream', () => {
    const { bus, run, delivered, scheduler } = rig();
    const bad = bus.publish(ENGINE_TOPICS.requests, 'e2', { not: 'an event', n: 1n });
    bus.publish(ENGINE_TOPICS.requests, 'e2', requestEvent({ engineId: 'e2', eventId: 'r2' }));
    scheduler.runAll();
    const letters = bus.read(ENGINE_TOPICS.deadLetters).map((r) => r.value as DeadLetter);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      originTopic: ENGINE_TOPICS.requests,
      originPartition: bad.partition,
      originOffset: bad.offset,
      stage: 'decode',
      failedAt: 0,
    });
    expect(letters[0]!.reason).toMatch(/^BAD_RECORD: RequestEvent: field eventId/);
    expect(new TextDecoder().decode(letters[0]!.payload)).toBe('{"not":"an event","n":"1"}');
    expect(delivered.map(([, m]) => m.subject)).toEqual(['cachesage.act.e2.pin']);
    expect(run.stats).toMatchObject({ deadLettered: 1, failures: { decode: 1 }, commits: 2, state: 'running' });
    expect(bus.committed('cachesage', ENGINE_TOPICS.requests)[bad.partition]).toBe(2);
  });

  it('skips bad records under onError skip, and stops uncommitted under onError fail', async () => {
    const skipping = rig({ onError: 'skip' });
    skipping.bus.publish(ENGINE_TOPICS.kvEvents, 'e1', 'garbage');
    skipping.bus.publish(ENGINE_TOPICS.requests, 'e1', requestEvent());
    expect(skipping.run.stats).toMatchObject({ skipped: 1, deadLettered: 0, commits: 2 });
    expect(skipping.bus.read(ENGINE_TOPICS.deadLetters)).toEqual([]);

    const failing = rig({ onError: 'fail' });
    failing.bus.publish(ENGINE_TOPICS.requests, 'e1', requestEvent({ eventId: 'ok' }));
    const bad = failing.bus.publish(ENGINE_TOPICS.requests, 'e1', 'garbage');
    await expect(failing.run.closed).rejects.toMatchObject({ code: 'BAD_RECORD' });
    expect(failing.run.stats.state).toBe('failed');
    expect(failing.bus.committed('cachesage', ENGINE_TOPICS.requests)[bad.partition]).toBe(1);
    failing.bus.publish(ENGINE_TOPICS.requests, 'e1', requestEvent({ eventId: 'after' }));
    expect(failing.run.stats.records).toBe(2);
  });

  it('hands a long batch’s outputs to the sinks every writeEveryRecords records, committing after all resolve', async () => {
    const scheduler = createVirtualScheduler({ startMs: 0 });
    const topology = engineTopology({ policies: ['echo'], onError: 'dead-letter' });
    const batches = new Subject<SourceBatch<unknown>>();
    const writes: { size: number; release: () => void }[] = [];
    const sink: Sink<unknown> = {
      name: 'held',
      write: (messages) => new Promise<void>((resolve) => writes.push({ size: messages.length, release: resolve })),
      close: async () => {},
    };
    const run = startTopology(topology, {
      sources: { events: { name: 'events', batches: () => batches, close: async () => {} } },
      sinks: { acts: sink, dlq: sink },
      stores: createMemoryStores(topology.stores.map((s) => s.name)),
      policies: [createEchoPolicy() as Policy],
      scheduler,
      writeEveryRecords: 64,
    });
    let commits = 0;
    const records = Array.from({ length: 150 }, (_, i) => ({
      origin: { topic: ENGINE_TOPICS.requests, partition: 0, offset: String(i) },
      key: 'e1',
      value: requestEvent({ eventId: `r${i}` }),
      timestampMs: 0,
      headers: {},
    }));
    batches.next({ topic: ENGINE_TOPICS.requests, partition: 0, records, commit: () => void commits++ });
    expect(writes.map((w) => w.size)).toEqual([64, 64, 22]);
    expect(run.stats.emitted.acts).toBe(150);
    writes[0]?.release();
    writes[2]?.release();
    await Promise.resolve();
    expect(commits).toBe(0);
    writes[1]?.release();
    await run.idle();
    expect(commits).toBe(1);
    expect(() =>
      startTopology(topology, {
        sources: { events: { name: 'events', batches: () => batches, close: async () => {} } },
        sinks: { acts: sink, dlq: sink },
        stores: createMemoryStores(topology.stores.map((s) => s.name)),
        scheduler,
        writeEveryRecords: 0,
      }),
    ).toThrow(ConfigError);
    await run.close();
  });

  it('marks repeated keys of a batch only for a conflating topology, whose decide then defers to the key’s last record', () => {
    const run = (conflateDecisions: boolean): string[] => {
      const topology = engineTopology({ policies: ['echo'], conflateDecisions });
      const batches = new Subject<SourceBatch<unknown>>();
      const causes: string[] = [];
      const sink: Sink<unknown> = {
        name: 'acts',
        write: (messages) => {
          for (const m of messages) causes.push((m.value as { causeId: string }).causeId);
        },
        close: async () => {},
      };
      const policy = { ...(createEchoPolicy() as Policy), conflatable: () => true };
      startTopology(topology, {
        sources: { events: { name: 'events', batches: () => batches, close: async () => {} } },
        sinks: { acts: sink, dlq: sink },
        stores: createMemoryStores(topology.stores.map((s) => s.name)),
        policies: [policy],
        scheduler: createVirtualScheduler({ startMs: 0 }),
      });
      const records = ['e1', 'e1', 'e2', 'e1'].map((engineId, i) => ({
        origin: { topic: ENGINE_TOPICS.requests, partition: 0, offset: String(i) },
        key: engineId,
        value: requestEvent({ eventId: `r${i}`, engineId, phase: 'FINISHED' }),
        timestampMs: 0,
        headers: {},
      }));
      batches.next({ topic: ENGINE_TOPICS.requests, partition: 0, records, commit: () => undefined });
      return causes;
    };
    expect(run(false)).toEqual(['r0', 'r1', 'r2', 'r3']);
    // e1's r0 and r1 are deferred to r3, which decides the deferred point (caused by r0) and then its own.
    expect(run(true)).toEqual(['r2', 'r0', 'r3']);
  });

  it('commits a batch only after its sink writes resolve, and keeps batches in order', async () => {
    const releases: (() => void)[] = [];
    const asyncSink = (bus: MemoryBus): Sink<unknown> => {
      const inner = bus.sink();
      return {
        name: 'async',
        write: (messages) =>
          new Promise<void>((resolve) => {
            releases.push(() => {
              inner.write(messages);
              resolve();
            });
          }),
        close: async () => {},
      };
    };
    const { bus, run, scheduler, delivered } = rig({ sink: asyncSink });
    const first = bus.publish(ENGINE_TOPICS.requests, 'e1', requestEvent({ eventId: 'a' }));
    bus.publish(ENGINE_TOPICS.requests, 'e1', requestEvent({ eventId: 'b' }));
    expect(run.stats).toMatchObject({ records: 1, queued: 1, inFlight: true, commits: 0 });
    expect(bus.committed('cachesage', ENGINE_TOPICS.requests)[first.partition]).toBeUndefined();
    releases.shift()!();
    await waitFor(() => releases.length === 1);
    expect(bus.committed('cachesage', ENGINE_TOPICS.requests)[first.partition]).toBe(1);
    releases.shift()!();
    await run.idle();
    expect(bus.committed('cachesage', ENGINE_TOPICS.requests)[first.partition]).toBe(2);
    scheduler.runAll();
    expect(delivered.map(([, m]) => (m.value as Act).causeId)).toEqual(['a', 'b']);
    await run.drain();
    expect(run.stats.state).toBe('closed');
  });

  it('with maxUncommittedBatches, processes the next batches while earlier ones wait, each committing after its own writes', async () => {
    const run = (maxUncommittedBatches: number) => {
      const topology = engineTopology({ policies: ['echo'] });
      const batches = new Subject<SourceBatch<unknown>>();
      const writes: { causes: string[]; release: () => void }[] = [];
      const sink: Sink<unknown> = {
        name: 'held',
        write: (messages) =>
          new Promise<void>((resolve) =>
            writes.push({ causes: messages.map((m) => (m.value as Act).causeId), release: resolve }),
          ),
        close: async () => {},
      };
      const running = startTopology(topology, {
        sources: { events: { name: 'events', batches: () => batches, close: async () => {} } },
        sinks: { acts: sink, dlq: sink },
        stores: createMemoryStores(topology.stores.map((s) => s.name)),
        policies: [createEchoPolicy() as Policy],
        scheduler: createVirtualScheduler({ startMs: 0 }),
        maxUncommittedBatches,
      });
      const commits: number[] = [];
      for (let partition = 0; partition < 3; partition++) {
        batches.next({
          topic: ENGINE_TOPICS.requests,
          partition,
          records: [
            {
              origin: { topic: ENGINE_TOPICS.requests, partition, offset: '0' },
              key: `e${partition}`,
              value: requestEvent({ eventId: `r${partition}`, engineId: `e${partition}` }),
              timestampMs: 0,
              headers: {},
            },
          ],
          commit: () => void commits.push(partition),
        });
      }
      return { running, writes, commits };
    };

    const serial = run(1);
    expect(serial.writes.map((w) => w.causes)).toEqual([['r0']]);
    expect(serial.running.stats).toMatchObject({ records: 1, queued: 2, uncommitted: 1 });
    await serial.running.close();

    const { running, writes, commits } = run(2);
    expect(writes.map((w) => w.causes)).toEqual([['r0'], ['r1']]);
    expect(running.stats).toMatchObject({ records: 2, queued: 1, uncommitted: 2, inFlight: true, commits: 0 });
    let idle = false;
    void running.idle().then(() => {
      idle = true;
    });
    writes[1]!.release();
    await waitFor(() => commits.length === 1);
    expect(commits).toEqual([1]);
    // the freed slot takes the third batch; the first still waits for its write
    await waitFor(() => writes.length === 3);
    expect(writes[2]!.causes).toEqual(['r2']);
    expect(running.stats).toMatchObject({ records: 3, queued: 0, uncommitted: 2 });
    writes[2]!.release();
    await waitFor(() => commits.length === 2);
    expect(idle).toBe(false);
    writes[0]!.release();
    await running.idle();
    expect(commits).toEqual([1, 2, 0]);
    expect(running.stats).toMatchObject({ commits: 3, uncommitted: 0, inFlight: false });
    await running.drain();
    expect(running.stats.state).toBe('closed');
    expect(() => run(0)).toThrow(/maxUncommittedBatches must be a positive integer/);
  });

  it('refuses missing edges, policies and unknown stage kinds', () => {
    const scheduler = createVirtualScheduler();
    const bus = createMemoryBus({ scheduler });
    const topology = engineTopology({ policies: ['echo'] });
    const stores = createMemoryStores(topology.stores.map((s) => s.name));
    const sources = memorySources(bus, topology);
    const sinks = { acts: bus.sink(), dlq: bus.sink() };
    const policies = [createEchoPolicy() as Policy];
    expect(() => startTopology(topology, { sources: {}, sinks, stores, policies, scheduler })).toThrow(/no source/);
    expect(() =>
      startTopology(topology, { sources, sinks: { acts: bus.sink() }, stores, policies, scheduler }),
    ).toThrow(/no sink given for dlq/);
    expect(() => startTopology(topology, { sources, sinks, stores: {}, policies, scheduler })).toThrow(ConfigError);
    expect(() => startTopology(topology, { sources, sinks, stores, policies: [], scheduler })).toThrow(
      /no policy echo/,
    );
    expect(() =>
      startTopology(topology, {
        sources,
        sinks,
        stores,
        policies,
        scheduler,
        stageBuilders: { decide: undefined as never },
      }),
    ).toThrow(/unknown kind decide/);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setImmediate(r));
  if (!condition()) throw new Error('condition not reached');
}

interface Outcome {
  state: unknown;
  seqs: [string, unknown][];
  /** Unique acts by message id (issuedAt left out: a replayed act is issued again later). */
  acts: Map<string, unknown>;
  published: number;
  /** Delivery time and message id of every act delivered, in order. */
  timeline: string[];
  applied: number;
  staleSeq: number;
  deadLetters: string[];
  /** True when the first runner was cut with a batch written but unacknowledged. */
  interrupted: boolean;
}

function recordingHooks(engineId: string, applied: Act[]): EngineHooks {
  return {
    engineId,
    applyEvictionHints: (a) => applied.push(a),
    prefetch: (a) => applied.push(a),
    pin: (a) => applied.push(a),
  };
}

/**
 * Runs a scenario through the engine topology; `cutAfterWrites` interrupts the first runner when its sink has
 * been handed that many batches: the last one reaches the bus but is never acknowledged (a crash after publishing,
 * before committing). A second runner resumes from the committed offsets with stores restored from changelogs.
 */
async function play(records: ScenarioRecord[], cutAfterWrites: number | null, drainAfter?: number): Promise<Outcome> {
  const scheduler = createVirtualScheduler();
  const bus = createMemoryBus({ scheduler, partitions: 4 });
  const topology = engineTopology({ policies: ['echo'] });
  const changelogs = new Map<string, MemoryChangelog<unknown>>();
  const acts = new Map<string, unknown>();
  let published = 0;
  const timeline: string[] = [];
  bus.subscribe('cachesage.act.>', (m) => {
    published++;
    const { issuedAt: _, ...rest } = m.value as Act;
    const id = `${rest.engineId}.${rest.kind}.${rest.policy}.${rest.seq}`;
    acts.set(id, rest);
    timeline.push(`${scheduler.now()} ${id}`);
  });
  const applied: Act[] = [];
  const filters = ['e1', 'e2', 'e3'].map((engineId) => {
    const filter = createActFilter({ engineId, now: () => scheduler.now() });
    attachEngineHooks({ subscribe: bus.subscribe, engineId, hooks: recordingHooks(engineId, applied), filter });
    return filter;
  });
  const start = (sink: Sink<unknown>): RunningTopology => {
    const stores = createMemoryStores(
      topology.stores.map((s) => s.name),
      { changelogs },
    );
    return startTopology(topology, {
      sources: memorySources(bus, topology, { fromBeginning: true }),
      sinks: { acts: sink, dlq: sink },
      stores,
      policies: [createEchoPolicy() as Policy],
      scheduler,
    });
  };
  const publishAll = (from: number, to: number): void => {
    for (const r of records.slice(from, to)) {
      scheduler.runUntil(r.ts);
      bus.publish(r.topic, r.key, r.value);
    }
  };
  let last: RunningTopology;
  let interrupted = false;
  if (drainAfter !== undefined) {
    const first = start(bus.sink());
    publishAll(0, drainAfter);
    await first.drain();
    publishAll(drainAfter, records.length);
    last = start(bus.sink());
  } else if (cutAfterWrites === null) {
    last = start(bus.sink());
    publishAll(0, records.length);
  } else {
    let writes = 0;
    const inner = bus.sink();
    const crashing: Sink<unknown> = {
      name: 'crashing',
      write(messages: readonly SinkMessage<unknown>[]) {
        writes++;
        inner.write(messages);
        return writes >= cutAfterWrites ? new Promise<void>(() => {}) : Promise.resolve();
      },
      close: async () => {},
    };
    const first = start(crashing);
    let i = 0;
    while (i < records.length && writes < cutAfterWrites) {
      publishAll(i, i + 1);
      i++;
      await waitFor(() => first.stats.inFlight === false || writes >= cutAfterWrites);
    }
    publishAll(i, Math.min(records.length, i + 5));
    interrupted = first.stats.inFlight && writes === cutAfterWrites;
    await first.close();
    expect(first.stats.state).toBe('closed');
    last = start(bus.sink());
    publishAll(Math.min(records.length, i + 5), records.length);
  }
  scheduler.runAll();
  await last.idle();
  const lastStores = createMemoryStores(
    topology.stores.map((s) => s.name),
    { changelogs },
  );
  for (const s of Object.values(lastStores)) s.restore();
  return {
    state: lastStores['policy:echo']!.get(POLICY_STATE_KEY),
    seqs: [...lastStores['act-seq']!.entries()].sort(),
    acts,
    published,
    timeline,
    applied: applied.length,
    staleSeq: filters.reduce((n, f) => n + f.counters.rejected['stale-seq'], 0),
    interrupted,
    deadLetters: bus.read(ENGINE_TOPICS.deadLetters).map((r) => {
      const l = r.value as DeadLetter;
      return `${l.originTopic}/${l.originPartition}/${l.originOffset}`;
    }),
  };
}

describe('restart and restore on the in-memory bus', () => {
  it('gives identical results for the same seed (deterministic delivery)', async () => {
    const a = await play(scenario(7, 300), null);
    const b = await play(scenario(7, 300), null);
    expect(b).toEqual(a);
    expect(a.acts.size).toBeGreaterThan(50);
    expect(a.deadLetters.length).toBeGreaterThan(0);
    expect(a.applied).toBe(a.acts.size);
    const c = await play(scenario(8, 300), null);
    expect(c.state).not.toEqual(a.state);
  });

  it.each([
    [1, 3],
    [2, 31],
    [3, 58],
    [4, 84],
  ])(
    'seed %i, crash after write %i: state equals an uninterrupted run; every act published, replays rejected as stale',
    async (seed, cut) => {
      const records = scenario(seed, 300);
      const clean = await play(records, null);
      const crashed = await play(records, cut);
      expect(crashed.interrupted).toBe(true);
      expect(crashed.state).toEqual(clean.state);
      expect(crashed.seqs).toEqual(clean.seqs);
      expect([...crashed.acts.keys()].sort()).toEqual([...clean.acts.keys()].sort());
      expect(crashed.acts).toEqual(clean.acts);
      expect(crashed.applied).toBe(clean.applied);
      expect(crashed.published).toBe(clean.published + crashed.staleSeq);
      expect(crashed.published).toBeGreaterThanOrEqual(clean.published);
      expect(new Set(crashed.deadLetters)).toEqual(new Set(clean.deadLetters));
    },
  );

  it('hands over exactly after a drain: nothing is replayed', async () => {
    const records = scenario(5, 300);
    const clean = await play(records, null);
    const drained = await play(records, null, 137);
    expect(drained).toEqual({ ...clean, timeline: drained.timeline });
    expect(drained.staleSeq).toBe(0);
  });
});
