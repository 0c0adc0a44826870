import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Command } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimEvent } from '../../adapters/engine-sim/engine-sim.js';
import { buildRequestOrder } from '../../adapters/engine-sim/request-order.js';
import { totalOf } from '../../adapters/engine-sim/result.js';
import { createSimulation } from '../../adapters/engine-sim/simulate.js';
import { indexWorkload } from '../../adapters/engine-sim/workload-index.js';
import { createActFilter } from '../../adapters/hooks/act-filter.js';
import { attachEngineHooks } from '../../adapters/hooks/attach-engine-hooks.js';
import { createKafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { startKafkaTopology } from '../../adapters/kafka/start-kafka-topology.js';
import { createVirtualScheduler } from '../../adapters/memory/virtual-scheduler.js';
import { natsSubscribe } from '../../adapters/nats/nats-subscribe.js';
import { readRecording } from '../../adapters/recording/recording-file.js';
import { registerRecord } from '../../cli/commands/record.js';
import { registerReplay } from '../../cli/commands/replay.js';
import { ConfigError } from '../../core/errors.js';
import type { Sink, SinkMessage } from '../../core/io.js';
import { runCell } from '../../eval/run-cell.js';
import type { SweepRow } from '../../eval/sweep.js';
import { ensureTopics } from '../../infra/kafka/ensure-topics.js';
import { KV_EVENTS_TOPIC } from '../../infra/topics.js';
import { createPolicy } from '../../policies/index.js';
import type { DerivedState } from '../../replay/derive-state.js';
import { createCodec } from '../../schemas/codec.js';
import type { KvEvent, RequestEvent } from '../../schemas/types.js';
import { engineTopology } from '../../topology/engine-topology.js';
import { loadWorkload } from '../../workloads/load-workload.js';
import type { PreparedWorkload } from '../../workloads/types.js';
import { integrationEnv, uniqueName, waitFor } from './helpers.js';

const { kafkaBrokers, natsUrl } = integrationEnv();
const kafka = new Kafka({ clientId: 'replay-test', brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
const created: string[] = [];
const groups: string[] = [];
let nc: NatsConnection;

const CELL = { budgetBlocks: 200, concurrency: 3, engines: 2, seed: 1 };
const SPEC = 'synthetic?sessions=16&minTurns=4&maxTurns=10';

beforeAll(async () => {
  nc = await connect({ servers: natsUrl });
});

afterAll(async () => {
  await nc?.drain();
  const admin = kafka.admin();
  await admin.connect();
  const changelogs = (await admin.listTopics()).filter((t) => groups.some((g) => t.startsWith(`cachesage.${g}.`)));
  await admin.deleteTopics({ topics: [...created, ...changelogs] }).catch(() => undefined);
  await admin.disconnect();
});

interface Replayed {
  rows: SweepRow[];
  recorded: {
    calls: number;
    sessions: number;
    engineIds: string[];
    engines: number;
    concurrencies: number[];
    inferredConcurrency: number;
    tokenHitRate: number;
    promptTokens: number;
    unfinished: number;
  };
  state: DerivedState | null;
}

/** Runs a `cachesage` sub-command in-process; stdout and stderr are returned. */
async function cli(
  register: (program: Command, io: never) => void,
  args: string[],
): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: (c: string) => (stderr += c) } };
  const program = new Command('cachesage').exitOverride();
  register(program, (args[0] === 'record' ? io.stderr : io) as never);
  await program.parseAsync(['node', 'cachesage', ...args, '--kafka-brokers', kafkaBrokers.join(',')]);
  return { stdout, stderr };
}

/** Event times as Avro longs (the simulator's clock has fractions of a millisecond). */
function wholeMs<E extends { ts: number }>(event: E): E {
  return { ...event, ts: Math.round(event.ts) };
}

interface LiveRun {
  tokenHitRate: number;
  requests: number;
  resident: Record<string, number>;
  requestsPerEngine: Record<string, number>;
  produced: number;
  actsApplied: number;
}

/**
 * The live run: two simulated engines publish their KV and request events to Kafka (Avro, key engineId), one
 * processor runs CacheSage in the engine topology on Kafka and publishes acts on NATS, and the engines' hooks apply
 * the acts they receive. The engines' clock is simulated and moves on only once the pipeline has settled (every
 * event produced so far acknowledged and processed, and the acts it caused received): the acts reach the engines at
 * the simulated instant the in-memory runtime would deliver them, whatever the machine's load.
 */
async function liveRun(
  workload: PreparedWorkload,
  kvTopic: string,
  requestsTopic: string,
  dlqTopic: string,
): Promise<LiveRun> {
  const scheduler = createVirtualScheduler();
  const kvCodec = createCodec('KvEvent');
  const requestCodec = createCodec('RequestEvent');
  const producer = createKafkaSink({ brokers: kafkaBrokers, name: 'replay-test-engines' });
  let produced = 0;
  const writes: Promise<void>[] = [];
  const events: Sink<SimEvent> = {
    name: 'engine-events',
    write(messages: readonly SinkMessage<SimEvent>[]) {
      produced += messages.length;
      const write = producer.write(
        messages.map((m) =>
          m.destination === KV_EVENTS_TOPIC
            ? { destination: kvTopic, key: m.key, value: kvCodec.encode(wholeMs(m.value as KvEvent)) }
            : { destination: requestsTopic, key: m.key, value: requestCodec.encode(wholeMs(m.value as RequestEvent)) },
        ),
      );
      writes.push(Promise.resolve(write));
      return write;
    },
    close: async () => {},
  };
  const engineIds = [uniqueName('e0'), uniqueName('e1')];
  const simulation = createSimulation({
    workload,
    ...CELL,
    evictor: 'lru',
    actDelayMs: 0,
    scheduler,
    sink: events,
    engineIds,
    producedAtMs: () => Date.now(),
  });
  const groupId = uniqueName('replay-live');
  groups.push(groupId);
  const running = await startKafkaTopology(
    engineTopology({ policies: ['cachesage'], kvEventsTopic: kvTopic, requestsTopic, deadLetterTopic: dlqTopic }),
    {
      brokers: kafkaBrokers,
      natsUrl,
      groupId,
      policies: [createPolicy('cachesage')],
      valueCodecs: { 'policy:cachesage': { encode: (v) => serialize(v), decode: (b) => deserialize(b) } },
      scheduler: { now: () => Math.floor(scheduler.now()), schedule: (at, fn) => scheduler.schedule(at, fn) },
      maxWaitTimeMs: 50,
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 1000,
    },
  );
  const subscribe = natsSubscribe(nc);
  const hooks = simulation.engines.map((engine) =>
    attachEngineHooks({
      subscribe,
      engineId: engine.engineId,
      hooks: engine,
      filter: createActFilter({ engineId: engine.engineId, now: () => scheduler.now() }),
    }),
  );
  await nc.flush();
  try {
    let settled = 0;
    for (const engine of simulation.engines) engine.start();
    while (!simulation.engines.every((e) => e.done)) {
      if (!scheduler.step()) throw new Error('the simulated engines stalled');
      if (produced === settled) continue;
      await Promise.all(writes.splice(0));
      await waitFor(
        () => {
          if (running.stats.state === 'failed') throw new Error(`topology failed: ${String(running.stats.error)}`);
          if (running.stats.deadLettered > 0)
            throw new Error(`dead letters: ${JSON.stringify(running.stats.failures)}`);
          return running.stats.records >= produced;
        },
        { intervalMs: 1, timeoutMs: 30_000, what: `${produced} events processed` },
      );
      await running.idle();
      await nc.flush();
      settled = produced;
    }
    await Promise.all(writes.splice(0));
    const total = totalOf(simulation.engines.map((e) => e.result()));
    return {
      tokenHitRate: total.tokenHitRate,
      requests: total.requests,
      resident: Object.fromEntries(simulation.engines.map((e) => [e.engineId, e.residentCount()])),
      requestsPerEngine: Object.fromEntries(simulation.engines.map((e) => [e.engineId, e.result().requests])),
      produced,
      actsApplied: hooks.reduce((n, h) => n + h.counters.applied.evict + h.counters.applied.prefetch, 0),
    };
  } finally {
    for (const h of hooks) h.detach();
    await running.close();
    await producer.close();
  }
}

describe('record and replay against a live run on Kafka', () => {
  it('replays a recorded range: state re-derived, CacheSage within 2 pp of the live run, LRU at the LRU figure', async () => {
    const kvTopic = uniqueName('cachesage.test.replay-kv');
    const requestsTopic = uniqueName('cachesage.test.replay-requests');
    const dlqTopic = uniqueName('cachesage.test.replay-dlq');
    created.push(kvTopic, requestsTopic, dlqTopic);
    await ensureTopics({
      brokers: kafkaBrokers,
      partitions: 4,
      topics: [kvTopic, requestsTopic, dlqTopic].map((name) => ({
        name,
        partitions: name === dlqTopic ? 1 : ('default' as const),
        config: {},
        purpose: 'test',
        retention: 'test',
        internal: true,
      })),
    });
    const workload = await loadWorkload(SPEC, { cacheDir: null });
    const startedAt = new Date(Date.now() - 1000).toISOString();
    const live = await liveRun(workload, kvTopic, requestsTopic, dlqTopic);
    expect(live.actsApplied).toBeGreaterThan(0);

    const dir = mkdtempSync(join(tmpdir(), 'cachesage-replay-'));
    const file = join(dir, 'live.jsonl.gz');
    const recorded = await cli(registerRecord as never, [
      'record',
      '--from',
      startedAt,
      '--to',
      'now',
      '--out',
      file,
      '--kv-topic',
      kvTopic,
      '--requests-topic',
      requestsTopic,
    ]);
    expect(recorded.stderr).toMatch(new RegExp(`wrote ${live.produced} records`));
    const recording = await readRecording(file);
    expect(recording.records).toHaveLength(live.produced);
    expect(recording.header.topics).toEqual({ kv: kvTopic, requests: requestsTopic });

    const { stdout } = await cli(registerReplay as never, [
      'replay',
      '--in',
      file,
      '--policy',
      'lru,cachesage,belady',
      '--budget',
      String(CELL.budgetBlocks),
      '--json',
    ]);
    const replayed = JSON.parse(stdout) as Replayed;
    expect(replayed.recorded).toMatchObject({
      calls: live.requests,
      sessions: workload.sessions.length,
      engines: 2,
      concurrencies: [CELL.concurrency],
      inferredConcurrency: CELL.concurrency,
      unfinished: 0,
    });
    expect(replayed.recorded.tokenHitRate).toBeCloseTo(live.tokenHitRate, 12);

    const row = (policy: string) => replayed.rows.find((r) => r.policy === policy) as SweepRow;
    const order = buildRequestOrder(workload, { concurrency: CELL.concurrency, engines: CELL.engines });
    const lruFigure = runCell({
      workload,
      index: indexWorkload(workload),
      order,
      policy: createPolicy('lru'),
      ...CELL,
      cpuTierBlocks: 0,
      actDelayMs: 0,
    }).sim.total.tokenHitRate;
    process.stderr.write(
      `replay test: live CacheSage ${(100 * live.tokenHitRate).toFixed(2)} %, replayed CacheSage ` +
        `${(100 * row('cachesage').tokenHitRate).toFixed(2)} %, replayed LRU ${(100 * row('lru').tokenHitRate).toFixed(2)} % ` +
        `(LRU figure ${(100 * lruFigure).toFixed(2)} %), Belady ${(100 * row('belady').tokenHitRate).toFixed(2)} %\n`,
    );
    expect(row('cachesage').requests).toBe(live.requests);
    expect(Math.abs(row('cachesage').tokenHitRate - live.tokenHitRate)).toBeLessThanOrEqual(0.02);
    expect(row('lru').tokenHitRate).toBeCloseTo(lruFigure, 12);
    expect(live.tokenHitRate - lruFigure).toBeGreaterThan(0.05);
    expect(row('belady').tokenHitRate).toBeGreaterThanOrEqual(row('cachesage').tokenHitRate);

    const state = replayed.state as DerivedState;
    expect(state.deadLettered).toBe(0);
    expect(Object.fromEntries(state.engines.map((e) => [e.engineId, e.residentBlocks]))).toEqual(live.resident);
    expect(Object.fromEntries(state.engines.map((e) => [e.engineId, e.requests]))).toEqual(live.requestsPerEngine);
    expect(state.acts.evict).toBeGreaterThan(0);
    expect(state.workloads.map((w) => w.workloadId)).toEqual([workload.workloadId]);

    const direct = JSON.parse(
      (
        await cli(registerReplay as never, [
          'replay',
          '--from',
          startedAt,
          '--kv-topic',
          kvTopic,
          '--requests-topic',
          requestsTopic,
          '--policy',
          'lru',
          '--budget',
          String(CELL.budgetBlocks),
          '--no-state',
          '--json',
        ])
      ).stdout,
    ) as Replayed;
    expect(direct.state).toBeNull();
    expect(direct.rows.map((r) => [r.policy, r.tokenHitRate])).toEqual(
      replayed.rows.filter((r) => r.policy !== 'cachesage').map((r) => [r.policy, r.tokenHitRate]),
    );

    const times = recording.records.map((r) => r.timestamp).sort((a, b) => a - b);
    const mid = times[Math.floor(times.length * 0.6)] as number;
    const later = join(dir, 'later.jsonl.gz');
    await cli(registerRecord as never, [
      'record',
      '--from',
      new Date(mid).toISOString(),
      '--to',
      'now',
      '--out',
      later,
      '--kv-topic',
      kvTopic,
      '--requests-topic',
      requestsTopic,
    ]);
    const tail = await readRecording(later);
    expect(tail.records.length).toBe(times.filter((t) => t >= mid).length);
    expect(tail.records.length).toBeLessThan(recording.records.length);
    expect(tail.records.every((r) => r.timestamp >= mid)).toBe(true);

    await expect(
      cli(registerRecord as never, ['record', '--from', 'yesterday', '--to', 'now', '--out', later]),
    ).rejects.toThrow(/--from: expected an ISO time/);
    await expect(cli(registerReplay as never, ['replay', '--policy', 'lru'])).rejects.toBeInstanceOf(ConfigError);
  });
});
