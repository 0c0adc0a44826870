import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRequestOrder } from '../../adapters/engine-sim/request-order.js';
import { indexWorkload } from '../../adapters/engine-sim/workload-index.js';
import { readEnv } from '../../core/config.js';
import { runCell } from '../../eval/run-cell.js';
import { createPolicy } from '../../policies/index.js';
import { selectSessions } from '../../services/engine-sim/select-sessions.js';
import { loadWorkload } from '../../workloads/load-workload.js';
import {
  type ClusterTopics,
  createClusterTopics,
  deleteClusterTopics,
  engineIds,
  type ProcessorChild,
  printChildrenOnFailure,
  spawnEngineSim,
  spawnProcessor,
  uniqueName,
  waitFor,
} from './distributed-cluster.js';

/**
 * The distributed path is the evaluated path: 4 engine-sims and 2 processors on the real Kafka and NATS, at 1×
 * speed, on a few sessions of a shared real workload, give the token hit rate of the in-memory `simulate --engines 4`
 * run (the same `runCell` code) on the same sessions, seed, budget and concurrency, within 2 percentage points.
 */

const WORKLOAD = join(readEnv().workloadsDir, 'autogen-notebooks.jsonl.gz');
const present = existsSync(WORKLOAD);
if (!present) console.log(`distributed hit-rate test skipped: ${WORKLOAD} is absent (set CACHESAGE_WORKLOADS)`);

const RUN = { sessionsFrom: 16, sessionsCount: 24, budget: 120, concurrency: 2, seed: 1, engines: 4 } as const;
const SESSION_IDLE_MS = 600_000;
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe.skipIf(!present)('distributed pipeline on Kafka and NATS', () => {
  it('4 engine-sims + 2 processors at 1x reproduce simulate --engines 4 within 2 pp of token hit rate', async () => {
    printChildrenOnFailure();
    const started = Date.now();
    const loaded = await loadWorkload(WORKLOAD, { seed: RUN.seed });
    const workload = selectSessions(loaded, { from: RUN.sessionsFrom, count: RUN.sessionsCount });
    const order = buildRequestOrder(workload, { concurrency: RUN.concurrency, engines: RUN.engines });
    const reference = runCell({
      workload,
      index: indexWorkload(workload),
      order,
      policy: createPolicy('cachesage', { sessionIdleMs: SESSION_IDLE_MS }),
      budgetBlocks: RUN.budget,
      concurrency: RUN.concurrency,
      engines: RUN.engines,
      cpuTierBlocks: 0,
      actDelayMs: 0,
      seed: RUN.seed,
    }).sim;

    const prefix = uniqueName('cachesage-dist');
    const topics: ClusterTopics = await createClusterTopics(prefix, 6);
    cleanups.push(() => deleteClusterTopics(topics));
    const groupId = `${prefix}-processors`;
    const processors: ProcessorChild[] = [1, 2].map((i) =>
      spawnProcessor({ name: `processor-${i}`, topics, groupId, sessionIdleMs: SESSION_IDLE_MS }),
    );
    for (const p of processors) cleanups.push(() => p.kill());
    await waitFor(
      async () => {
        const statuses = await Promise.all(processors.map((p) => p.status()));
        const owned = statuses.flatMap((s) => s.engine.owned);
        return (
          owned.length === topics.partitions &&
          statuses.every((s) => s.engine.owned.length > 0 && s.engine.preparedJoins === s.engine.joins) &&
          statuses.every((s) => s.session.preparedJoins === s.session.joins && s.session.joins > 0)
        );
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'both processors assigned and prepared' },
    );

    const ids = engineIds(prefix, RUN.engines, topics.partitions);
    const engines = ids.map((engineId, engineIndex) =>
      spawnEngineSim({
        engineId,
        engineIndex,
        engines: RUN.engines,
        topics,
        workload: WORKLOAD,
        sessionsFrom: RUN.sessionsFrom,
        sessionsCount: RUN.sessionsCount,
        budget: RUN.budget,
        concurrency: RUN.concurrency,
        seed: RUN.seed,
        speed: 1,
      }),
    );
    for (const e of engines) cleanups.push(() => Promise.resolve(e.process.kill('SIGKILL')));
    await Promise.all(engines.map((e) => e.ready));
    const runStarted = Date.now();
    for (const e of engines) e.start();
    const reports = await Promise.all(engines.map((e) => e.report));
    const runMs = Date.now() - runStarted;

    const prompt = reports.reduce((a, r) => a + r.promptTokens, 0);
    const hits = reports.reduce((a, r) => a + r.gpuHitTokens, 0);
    const distributed = hits / prompt;
    const diffPp = 100 * (distributed - reference.total.tokenHitRate);
    console.log(
      `distributed hit rate ${(100 * distributed).toFixed(2)} % vs in-memory ${(100 * reference.total.tokenHitRate).toFixed(2)} %` +
        ` (${diffPp >= 0 ? '+' : ''}${diffPp.toFixed(2)} pp); run ${(runMs / 1000).toFixed(1)} s, test ${((Date.now() - started) / 1000).toFixed(1)} s;` +
        ` act latency p50/p99 ms ${reports.map((r) => `${r.actLatencyMs?.p50}/${r.actLatencyMs?.p99}`).join(' ')}`,
    );

    reports.forEach((r, k) => {
      const ref = reference.engines[k]!;
      expect(r.engineIndex).toBe(k);
      expect(r.requests).toBe(ref.requests);
      expect(r.promptTokens).toBe(ref.promptTokens);
      expect(r.actsApplied).toBeGreaterThan(0);
      expect(r.filter.rejected.foreign + r.filter.rejected.malformed).toBe(0);
    });
    expect(prompt).toBe(reference.total.promptTokens);
    expect(Math.abs(diffPp)).toBeLessThanOrEqual(2);

    const finals = await Promise.all(processors.map((p) => p.status()));
    const published = reports.reduce((a, r) => a + r.events.kv + r.events.requests, 0);
    await waitFor(
      async () => {
        const s = await Promise.all(processors.map((p) => p.status()));
        return s.reduce((a, x) => a + x.engine.records, 0) >= published;
      },
      { timeoutMs: 30_000, what: 'every published event processed' },
    );
    expect(finals.every((s) => s.engine.failures.decode === 0)).toBe(true);
    const codes = await Promise.all(processors.map((p) => p.stop()));
    expect(codes).toEqual([0, 0]);
    for (const p of processors) {
      expect(p.logs.some((l) => l.msg === 'processor stopped')).toBe(true);
    }
  });
});
