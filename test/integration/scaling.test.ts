import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTopicToEnd } from '../../adapters/kafka/topic-reader.js';
import { partitionOfKey } from '../../adapters/memory/murmur2.js';
import { readEnv } from '../../core/config.js';
import { createCodec } from '../../schemas/codec.js';
import type { ModelUpdate } from '../../schemas/types.js';
import type { ProcessorStatus } from '../../services/processor/start-processor.js';
import { sumCounts } from '../../services/processor/transition-counts.js';
import {
  type ActRecorder,
  brokers,
  type ClusterTopics,
  countCells,
  createClusterTopics,
  deleteClusterTopics,
  directCounts,
  type EngineChild,
  engineIds,
  groupProgress,
  type ProcessorChild,
  printChildrenOnFailure,
  readRequests,
  recordActs,
  spawnEngineSim,
  spawnProcessor,
  uniqueName,
  waitFor,
} from './distributed-cluster.js';

/**
 * Horizontal scaling on the real Kafka and NATS: during a run of 4 engine-sims the processor group goes from 1 to 3
 * processors and back to 1 (SIGTERM: drain and leave), and, in a second run, one of 2 processors is killed with
 * SIGKILL. Every KV event is processed at least once (the group's committed offsets reach the end of every
 * partition, and the processors processed at least as many records as were published), every engine still busy
 * gets acts again within 10 s of each rebalance, and the transition counts every processor sums from the compacted
 * model topic equal the counts computed once, directly, from the request events (nothing lost, nothing counted twice).
 */

const WORKLOAD = join(readEnv().workloadsDir, 'tau-bench-airline.jsonl.gz');
const present = existsSync(WORKLOAD);
if (!present) console.log(`scaling tests skipped: ${WORKLOAD} is absent (set CACHESAGE_WORKLOADS)`);

const PARTITIONS = 6;
const SESSION_IDLE_MS = 25_000;
const REBALANCE_ACT_MS = 10_000;
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface Run {
  topics: ClusterTopics;
  groupId: string;
  ids: string[];
  engines: EngineChild[];
  acts: ActRecorder;
  /** Wall time each engine exited. */
  exitedAt: Map<string, number>;
}

async function setUp(name: string): Promise<Omit<Run, 'engines' | 'exitedAt'>> {
  const prefix = uniqueName(name);
  const topics = await createClusterTopics(prefix, PARTITIONS);
  cleanups.push(() => deleteClusterTopics(topics));
  const ids = engineIds(prefix, 4, PARTITIONS);
  const acts = await recordActs(ids);
  cleanups.push(() => acts.close());
  return { topics, groupId: `${prefix}-processors`, ids, acts };
}

function startProcessor(run: Pick<Run, 'topics' | 'groupId'>, name: string, sessionTimeoutMs?: number): ProcessorChild {
  const p = spawnProcessor({
    name,
    topics: run.topics,
    groupId: run.groupId,
    sessionIdleMs: SESSION_IDLE_MS,
    ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }),
  });
  cleanups.push(() => p.kill());
  return p;
}

async function startEngines(
  run: Omit<Run, 'engines' | 'exitedAt'>,
  sessions: { from: number; count: number; concurrency: number; speed: number },
): Promise<Run> {
  const engines = run.ids.map((engineId, engineIndex) =>
    spawnEngineSim({
      engineId,
      engineIndex,
      engines: 4,
      topics: run.topics,
      workload: WORKLOAD,
      sessionsFrom: sessions.from,
      sessionsCount: sessions.count,
      budget: 120,
      concurrency: sessions.concurrency,
      seed: 1,
      speed: sessions.speed,
    }),
  );
  for (const e of engines) cleanups.push(() => Promise.resolve(e.process.kill('SIGKILL')));
  const exitedAt = new Map<string, number>();
  for (const e of engines) void e.exited.then(() => exitedAt.set(e.name, Date.now()));
  await Promise.all(engines.map((e) => e.ready));
  for (const e of engines) e.start();
  return { ...run, engines, exitedAt };
}

/** Statuses once the group settled: every partition owned by exactly one live processor, all prepared. */
async function settled(processors: readonly ProcessorChild[], what: string): Promise<ProcessorStatus[]> {
  const statuses = await waitFor(
    async () => {
      const statuses = await Promise.all(processors.map((p) => p.status()));
      const engineOwned = statuses.flatMap((s) => s.engine.owned).sort((a, b) => a - b);
      const sessionOwned = statuses.flatMap((s) => s.session.owned).sort((a, b) => a - b);
      const all = Array.from({ length: PARTITIONS }, (_, i) => i);
      const ok =
        JSON.stringify(engineOwned) === JSON.stringify(all) &&
        JSON.stringify(sessionOwned) === JSON.stringify(all) &&
        statuses.every(
          (s) =>
            s.engine.owned.length > 0 &&
            s.engine.joins > 0 &&
            s.engine.preparedJoins === s.engine.joins &&
            s.session.joins > 0 &&
            s.session.preparedJoins === s.session.joins,
        );
      return ok ? statuses : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200, what },
  );
  return statuses as ProcessorStatus[];
}

/**
 * After a rebalance taken up at `rebalancedAt`: every engine still running 10 s later must have received an act
 * within 10 s of it. Returns the delay per busy engine.
 */
async function actsResume(run: Run, rebalancedAt: number): Promise<Record<string, number>> {
  const delays: Record<string, number> = {};
  await waitFor(
    () => {
      for (const id of run.ids) {
        const exited = run.exitedAt.get(id);
        if (exited !== undefined && exited <= rebalancedAt + REBALANCE_ACT_MS) continue;
        const first = run.acts.firstAfter(id, rebalancedAt);
        if (first === undefined) return Date.now() > rebalancedAt + REBALANCE_ACT_MS + 2000 ? true : undefined;
        delays[id] = first - rebalancedAt;
      }
      return true;
    },
    { timeoutMs: REBALANCE_ACT_MS + 20_000, intervalMs: 100, what: 'acts after the rebalance' },
  );
  for (const id of run.ids) {
    const exited = run.exitedAt.get(id);
    if (exited !== undefined && exited <= rebalancedAt + REBALANCE_ACT_MS) continue;
    expect(delays[id], `engine ${id} got no act within ${REBALANCE_ACT_MS} ms of the rebalance`).toBeDefined();
    expect(delays[id]).toBeLessThanOrEqual(REBALANCE_ACT_MS);
  }
  return delays;
}

/** Summed counts per workload read straight from the model topic (what any processor's global table holds). */
async function modelTopicSums(topic: string): Promise<Record<string, Record<string, number>>> {
  const codec = createCodec('ModelUpdate');
  const latest = new Map<string, ModelUpdate>();
  await readTopicToEnd({ brokers, topic, clientId: uniqueName('read-model') }, (r) => {
    if (r.key === null) return;
    if (r.value === null) latest.delete(r.key);
    else latest.set(r.key, codec.decode(r.value));
  });
  const byWorkload = new Map<string, ModelUpdate[]>();
  for (const u of latest.values()) byWorkload.set(u.workloadId, [...(byWorkload.get(u.workloadId) ?? []), u]);
  return Object.fromEntries([...byWorkload].map(([w, parts]) => [w, countCells(sumCounts(parts))]));
}

type Cells = Record<string, Record<string, number>>;

function cellsOf(status: ProcessorStatus | undefined): Cells {
  return Object.fromEntries(Object.entries(status?.model ?? {}).map(([w, c]) => [w, countCells(c)]));
}

/**
 * Checks the end state: offsets, processed records, counts equal to the direct computation, and every count a
 * processor summed along the way (`samples`) at most the final one (never counted twice, even for a while).
 */
async function checkNothingLost(
  run: Run,
  survivors: readonly ProcessorChild[],
  samples: readonly Cells[],
  processedRecords?: () => Promise<number>,
) {
  const reports = await Promise.all(run.engines.map((e) => e.report));
  const published = reports.reduce((a, r) => a + r.events.kv + r.events.requests, 0);
  const kvPublished = reports.reduce((a, r) => a + r.events.kv, 0);
  const progress = (await waitFor(
    async () => {
      const engine = await groupProgress(run.groupId, [run.topics.kvEvents, run.topics.requests]);
      const session = await groupProgress(`${run.groupId}.sessions`, [run.topics.sessionsRepartition]);
      return [...engine, ...session].every((p) => p.committed === p.end) ? { engine, session } : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 250, what: 'committed offsets at the end of every partition' },
  )) as { engine: Awaited<ReturnType<typeof groupProgress>>; session: Awaited<ReturnType<typeof groupProgress>> };
  const kvEnd = progress.engine.filter((p) => p.topic === run.topics.kvEvents).reduce((a, p) => a + p.end, 0);
  expect(kvEnd).toBe(kvPublished);
  const engineEnd = progress.engine.reduce((a, p) => a + p.end, 0);
  expect(engineEnd).toBe(published);
  for (const [k, r] of reports.entries()) {
    expect(r.engineId).toBe(run.ids[k]);
    expect(r.actsApplied, `acts applied by ${r.engineId}`).toBeGreaterThan(0);
  }
  const processed = processedRecords === undefined ? undefined : await processedRecords();
  if (processed !== undefined) expect(processed).toBeGreaterThanOrEqual(published);

  const direct = directCounts(await readRequests(run.topics.requests));
  const expected = Object.fromEntries([...direct].map(([w, s]) => [w, countCells(s)]));
  const statuses = await waitFor(
    async () => {
      const s = await Promise.all(survivors.map((p) => p.status()));
      const sums = s.map((x) => Object.fromEntries(Object.entries(x.model).map(([w, c]) => [w, countCells(c)])));
      return sums.every((m) => JSON.stringify(m) === JSON.stringify(expected)) ? s : undefined;
    },
    { timeoutMs: SESSION_IDLE_MS + 40_000, intervalMs: 500, what: 'every processor summing the direct counts' },
  ).catch(async (err: unknown) => {
    const s = await Promise.all(survivors.map((p) => p.status()));
    const sums = s.map((x) => Object.fromEntries(Object.entries(x.model).map(([w, c]) => [w, countCells(c)])));
    expect(sums[0]).toEqual(expected);
    throw err;
  });
  expect(await modelTopicSums(run.topics.model)).toEqual(expected);
  for (const sample of samples) {
    for (const [w, cells] of Object.entries(sample)) {
      for (const [cell, n] of Object.entries(cells))
        expect(n, `${w} ${cell}`).toBeLessThanOrEqual(expected[w]?.[cell] ?? 0);
    }
  }
  const transitions = Object.values(expected).reduce(
    (a, cells) => a + Object.values(cells).reduce((x, y) => x + y, 0),
    0,
  );
  return { published, kvPublished, transitions, statuses, reports };
}

describe.skipIf(!present)('processor group scaling on Kafka and NATS', () => {
  it('goes from 1 to 3 processors and back to 1 during a run: nothing lost, acts resume within 10 s', async () => {
    printChildrenOnFailure();
    const t0 = Date.now();
    const base = await setUp('cachesage-scale');
    const a = startProcessor(base, 'processor-a');
    await settled([a], 'processor a alone');
    const run = await startEngines(base, { from: 20, count: 8, concurrency: 1, speed: 3 });
    await waitFor(() => run.ids.every((id) => (run.acts.times.get(id)?.length ?? 0) > 0), {
      timeoutMs: 30_000,
      what: 'first acts of every engine',
    });

    const b = startProcessor(run, 'processor-b');
    const c = startProcessor(run, 'processor-c');
    const up = await settled([a, b, c], 'three processors sharing the partitions');
    const upAt = Math.max(...up.map((s) => s.engine.assignedAt ?? 0));
    const moved = up.filter((s) => s.engine.rebuilds.some((r) => r.events > 0)).length;
    const upDelays = await actsResume(run, upAt);

    const stopped = await Promise.all([b.stop(), c.stop()]);
    expect(stopped).toEqual([0, 0]);
    const down = await settled([a], 'processor a alone again');
    const downAt = down[0]?.engine.assignedAt ?? 0;
    const downDelays = await actsResume(run, downAt);

    const final = (p: ProcessorChild) =>
      p.logs.find((l) => l.msg === 'processor stopped')?.status as ProcessorStatus | undefined;
    const bFinal = final(b);
    const cFinal = final(c);
    // 4 engines on 6 partitions: a processor whose partitions carry no running engine has nothing to process
    const running = run.ids.filter((id) => (run.exitedAt.get(id) ?? Number.POSITIVE_INFINITY) > upAt);
    const busyPartitions = new Set(running.map((id) => partitionOfKey(id, PARTITIONS)));
    [bFinal, cFinal].forEach((f, i) => {
      const owned = up[i + 1]?.engine.owned ?? [];
      if (owned.some((p) => busyPartitions.has(p))) {
        expect(f?.engine.records, `records processed by ${i === 0 ? 'b' : 'c'}`).toBeGreaterThan(0);
      }
    });
    expect(
      (bFinal?.engine.records ?? 0) + (cFinal?.engine.records ?? 0),
      'records processed by b and c',
    ).toBeGreaterThan(0);
    await Promise.all(run.engines.map((e) => e.report));
    let processed = 0;
    const processedBy = async () => {
      processed = (await a.status()).engine.records + (bFinal?.engine.records ?? 0) + (cFinal?.engine.records ?? 0);
      return processed;
    };
    const samples = [...up, ...down, bFinal, cFinal].map(cellsOf);
    expect(samples.some((x) => Object.keys(x).length > 0)).toBe(true);
    const end = await checkNothingLost(run, [a], samples, processedBy);
    const aStatus = await a.status();
    expect(moved, 'processors that rebuilt engine state from events').toBeGreaterThan(0);
    expect(aStatus.engine.rebuilds.length).toBeGreaterThanOrEqual(2);
    console.log(
      `scaling 1→3→1: ${end.published} events (${end.kvPublished} KV), ${processed} processed; ` +
        `${end.transitions} transitions; acts after scale-up ${JSON.stringify(upDelays)} ms, after scale-down ` +
        `${JSON.stringify(downDelays)} ms; rebuilds of a ${JSON.stringify(aStatus.engine.rebuilds.map((r) => `${r.events} events in ${r.ms} ms`))}; ` +
        `test ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(await a.stop()).toBe(0);
  });

  it('survives kill -9 of a processor: the survivor takes over its engines and no event is lost', async () => {
    printChildrenOnFailure();
    const t0 = Date.now();
    const base = await setUp('cachesage-kill');
    const a = startProcessor(base, 'processor-a', 6000);
    const b = startProcessor(base, 'processor-b', 6000);
    const before = await settled([a, b], 'two processors');
    const run = await startEngines(base, { from: 40, count: 12, concurrency: 2, speed: 3 });
    await waitFor(() => run.ids.every((id) => (run.acts.times.get(id)?.length ?? 0) > 2), {
      timeoutMs: 30_000,
      what: 'acts of every engine',
    });
    const bOwned = before[1]?.engine.owned ?? [];
    const killedAt = Date.now();
    expect(await b.kill()).toBe('SIGKILL');
    const after = await settled([a], 'the survivor owning every partition');
    const takeover = after[0]?.engine.rebuilds.at(-1);
    expect(takeover?.cold).toEqual(expect.arrayContaining(bOwned));
    const delays = await actsResume(run, after[0]?.engine.assignedAt ?? killedAt);
    const aStatus = await a.status();
    await Promise.all(run.engines.map((e) => e.report));
    const end = await checkNothingLost(run, [a], [...before, ...after, aStatus].map(cellsOf));
    console.log(
      `kill -9: ${end.published} events, takeover ${((after[0]?.engine.preparedAt ?? 0) - killedAt) / 1000} s after ` +
        `the kill (rebuild of ${takeover?.events} events in ${takeover?.ms} ms), acts resumed ${JSON.stringify(delays)} ms; ` +
        `${end.transitions} transitions equal; test ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(aStatus.engine.owned.length).toBe(PARTITIONS);
    expect(await a.stop()).toBe(0);
  });
});
