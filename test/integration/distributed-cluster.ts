import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kafka, logLevel } from 'kafkajs';
import { onTestFailed } from 'vitest';
import { readTopicToEnd } from '../../adapters/kafka/topic-reader.js';
import { partitionOfKey } from '../../adapters/memory/murmur2.js';
import { ensureTopics } from '../../infra/kafka/ensure-topics.js';
import { decodeActFromNats } from '../../schemas/act-codec.js';
import { createCodec } from '../../schemas/codec.js';
import type { Act, RequestEvent } from '../../schemas/types.js';
import type { EngineSimReport } from '../../services/engine-sim/run-engine-sim.js';
import type { ProcessorTopics } from '../../services/processor/processor-topics.js';
import type { ProcessorStatus } from '../../services/processor/start-processor.js';
import {
  addTransition,
  END_AGENT,
  emptyModelUpdate,
  type SummedCounts,
  sumCounts,
} from '../../services/processor/transition-counts.js';
import { integrationEnv, uniqueName, waitFor } from './helpers.js';

/**
 * A distributed run on the real Kafka and NATS for the integration tests: topics of its own, processors and
 * engine-sims as child processes of the built CLI (`node dist/cli/main.js`), an act recorder on NATS.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = `${root}dist/cli/main.js`;
const { kafkaBrokers, natsUrl } = integrationEnv();
export const brokers = kafkaBrokers;

/** A parsed JSON log line of a child. */
export type LogLine = Record<string, unknown> & { msg?: string; time?: number };

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logs: LogLine[];
  readonly stdout: string[];
  /** Resolves with the exit code (or the signal name). */
  readonly exited: Promise<number | string>;
  /** The first log line matching, waiting for it. */
  waitLog(match: (line: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
}

const spawned: Child[] = [];

/** The exit code or signal of a child that has exited, else null. */
function exitOf(c: Child): number | string | null {
  return c.process.exitCode ?? c.process.signalCode;
}

/** "<name> exited (<code>): <last logs>" for a child that has exited, else undefined. */
function exitedError(c: Child, lines: number): Error | undefined {
  const code = exitOf(c);
  return code === null ? undefined : new Error(`${c.name} exited (${code}): ${JSON.stringify(c.logs.slice(-lines))}`);
}

/**
 * Once the running test fails, prints what every child it spawned from here on did: its exit code or signal (or
 * "running") and its last `lines` warnings and errors (pino level ≥ 40, or lines that are not JSON).
 */
export function printChildrenOnFailure(lines = 12): void {
  const from = spawned.length;
  onTestFailed(() => {
    const described = spawned.slice(from).map((c) => {
      const notable = c.logs.filter((l) => typeof l.level !== 'number' || l.level >= 40).slice(-lines);
      return [
        `${c.name} (pid ${c.process.pid}, ${exitOf(c) ?? 'running'}):`,
        ...notable.map((l) => `  ${JSON.stringify(l)}`),
      ];
    });
    console.log(['children of the failed test:', ...described.flat()].join('\n'));
  });
}

function spawnChild(name: string, args: string[]): Child {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const child = spawn(process.execPath, [CLI, ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  const stdout: string[] = [];
  const split = (onLine: (line: string) => void) => {
    let rest = '';
    return (chunk: Buffer) => {
      const text = rest + chunk.toString('utf8');
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') onLine(line);
    };
  };
  child.stderr?.on(
    'data',
    split((line) => {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line });
      }
    }),
  );
  child.stdout?.on(
    'data',
    split((line) => stdout.push(line)),
  );
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const handle: Child = {
    name,
    process: child,
    logs,
    stdout,
    exited,
    waitLog: (match, timeoutMs = 60_000, what) =>
      waitFor<LogLine | undefined>(
        () => {
          const found = logs.find(match);
          const exited = found === undefined ? exitedError(handle, 5) : undefined;
          if (exited !== undefined) throw exited;
          return found;
        },
        { timeoutMs, intervalMs: 100, what: `${name}: ${what ?? 'log line'}` },
      ).then((line) => line as LogLine),
  };
  spawned.push(handle);
  return handle;
}

export interface ClusterTopics extends ProcessorTopics {
  partitions: number;
}

/** Topics of one test (event topics co-partitioned, the tables compacted). */
export async function createClusterTopics(prefix: string, partitions: number): Promise<ClusterTopics> {
  const topics: ClusterTopics = {
    kvEvents: `${prefix}.kv-events`,
    requests: `${prefix}.requests`,
    deadLetters: `${prefix}.dlq`,
    sessionsRepartition: `${prefix}.sessions-repartition`,
    sessions: `${prefix}.sessions`,
    model: `${prefix}.model`,
    partitions,
  };
  const compacted = { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.1' };
  const spec = (name: string, n: number, config: Record<string, string> = {}) => ({
    name,
    partitions: n,
    config,
    purpose: 'test',
    retention: 'test',
    internal: true,
  });
  await ensureTopics({
    brokers: kafkaBrokers,
    partitions,
    topics: [
      spec(topics.kvEvents, partitions),
      spec(topics.requests, partitions),
      spec(topics.sessionsRepartition, partitions),
      spec(topics.sessions, partitions, compacted),
      spec(topics.model, partitions, compacted),
      spec(topics.deadLetters, 1),
    ],
  });
  return topics;
}

export async function deleteClusterTopics(topics: ClusterTopics): Promise<void> {
  const admin = new Kafka({ clientId: 'cluster-cleanup', brokers: kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const names = [
    topics.kvEvents,
    topics.requests,
    topics.sessionsRepartition,
    topics.sessions,
    topics.model,
    topics.deadLetters,
  ];
  await admin.deleteTopics({ topics: names }).catch(() => undefined);
  await admin.disconnect();
}

/** `count` engine ids (prefix-e<k>-<salt>) on distinct partitions. */
export function engineIds(prefix: string, count: number, partitions: number): string[] {
  for (let salt = 0; ; salt++) {
    const ids = Array.from({ length: count }, (_, k) => `${prefix}-e${k}-${salt}`);
    if (new Set(ids.map((id) => partitionOfKey(id, partitions))).size === count) return ids;
  }
}

function topicFlags(topics: ClusterTopics): string[] {
  return ['--kv-events-topic', topics.kvEvents, '--requests-topic', topics.requests];
}

export interface ProcessorChild extends Child {
  readonly port: Promise<number>;
  status(): Promise<ProcessorStatus>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | string>;
  /** SIGKILL. */
  kill(): Promise<number | string>;
}

export interface ProcessorSpawnOptions {
  name: string;
  topics: ClusterTopics;
  groupId: string;
  sessionIdleMs?: number;
  sessionTimeoutMs?: number;
}

export function spawnProcessor(o: ProcessorSpawnOptions): ProcessorChild {
  const t = o.topics;
  const child = spawnChild(o.name, [
    'processor',
    '--brokers',
    kafkaBrokers.join(','),
    '--nats-url',
    natsUrl,
    '--group-id',
    o.groupId,
    '--metrics-port',
    '0',
    ...topicFlags(t),
    '--dlq-topic',
    t.deadLetters,
    '--sessions-repartition-topic',
    t.sessionsRepartition,
    '--sessions-topic',
    t.sessions,
    '--model-topic',
    t.model,
    ...(o.sessionIdleMs === undefined ? [] : ['--session-idle-ms', String(o.sessionIdleMs)]),
    ...(o.sessionTimeoutMs === undefined ? [] : ['--session-timeout-ms', String(o.sessionTimeoutMs)]),
  ]);
  const port = child
    .waitLog((l) => l.msg === 'processor running', 60_000, 'processor running')
    .then((l) => l.metricsPort as number);
  port.catch(() => undefined);
  return {
    ...child,
    port,
    status: async () => {
      const exited = exitedError(child, 8);
      if (exited !== undefined) throw exited;
      const res = await fetch(`http://127.0.0.1:${await port}/status`);
      if (!res.ok) throw new Error(`${o.name} /status: ${res.status}`);
      return (await res.json()) as ProcessorStatus;
    },
    stop: () => {
      child.process.kill('SIGTERM');
      return child.exited;
    },
    kill: () => {
      child.process.kill('SIGKILL');
      return child.exited;
    },
  };
}

export interface EngineChild extends Child {
  /** Resolves once the engine loaded and connected ("engine ready"). */
  readonly ready: Promise<LogLine>;
  /** Starts the engine (it waits for a line on stdin). */
  start(): void;
  /** The JSON result it prints at the end. */
  readonly report: Promise<EngineSimReport>;
}

export interface EngineSpawnOptions {
  engineId: string;
  engineIndex: number;
  engines: number;
  topics: ClusterTopics;
  workload: string;
  sessionsFrom: number;
  sessionsCount: number;
  budget: number;
  concurrency: number;
  seed: number;
  speed: number;
}

export function spawnEngineSim(o: EngineSpawnOptions): EngineChild {
  const child = spawnChild(o.engineId, [
    'engine-sim',
    '--brokers',
    kafkaBrokers.join(','),
    '--nats-url',
    natsUrl,
    '--engine-id',
    o.engineId,
    '--engine-index',
    String(o.engineIndex),
    '--engines',
    String(o.engines),
    '--workload',
    o.workload,
    '--sessions-from',
    String(o.sessionsFrom),
    '--sessions-count',
    String(o.sessionsCount),
    '--budget',
    String(o.budget),
    '--concurrency',
    String(o.concurrency),
    '--seed',
    String(o.seed),
    '--speed',
    String(o.speed),
    '--wait-for-start',
    ...topicFlags(o.topics),
  ]);
  const ready = child.waitLog((l) => l.msg === 'engine ready', 120_000, 'engine ready');
  ready.catch(() => undefined);
  const report = child.exited.then((code) => {
    const line = child.stdout.find((l) => l.startsWith('{'));
    if (code !== 0 || line === undefined) {
      throw new Error(`${o.engineId} exited ${code} without a report: ${JSON.stringify(child.logs.slice(-5))}`);
    }
    return JSON.parse(line) as EngineSimReport;
  });
  report.catch(() => undefined);
  return { ...child, ready, start: () => child.process.stdin?.end('start\n'), report };
}

/** Acts seen on NATS for some engines: arrival wall times per engine. */
export interface ActRecorder {
  readonly times: Map<string, number[]>;
  readonly acts: Map<string, Act[]>;
  /** First act of `engineId` that arrived after `afterMs`, or undefined. */
  firstAfter(engineId: string, afterMs: number): number | undefined;
  close(): Promise<void>;
}

export async function recordActs(engines: readonly string[]): Promise<ActRecorder> {
  const nc: NatsConnection = await connect({ servers: natsUrl });
  const times = new Map(engines.map((e) => [e, [] as number[]]));
  const acts = new Map(engines.map((e) => [e, [] as Act[]]));
  for (const engineId of engines) {
    nc.subscribe(`cachesage.act.${engineId}.*`, {
      callback: (err, msg) => {
        if (err !== null) return;
        times.get(engineId)?.push(Date.now());
        const headers: Record<string, string> = {};
        for (const k of msg.headers?.keys() ?? []) headers[k] = msg.headers?.get(k) ?? '';
        acts.get(engineId)?.push(decodeActFromNats(msg.data, headers));
      },
    });
  }
  await nc.flush();
  return {
    times,
    acts,
    firstAfter: (engineId, afterMs) => times.get(engineId)?.find((t) => t > afterMs),
    close: () => nc.drain(),
  };
}

/** Every record of the co-partitioned request topic, decoded. */
export async function readRequests(topic: string): Promise<RequestEvent[]> {
  const codec = createCodec('RequestEvent');
  const events: RequestEvent[] = [];
  await readTopicToEnd({ brokers: kafkaBrokers, topic, clientId: uniqueName('read-requests') }, (r) => {
    if (r.value !== null) events.push(codec.decode(r.value));
  });
  return events;
}

/**
 * Transition counts computed once, directly, from request events: per session its ARRIVED events in time order,
 * each consecutive pair a transition, and the last agent → END (the session ended).
 */
export function directCounts(events: readonly RequestEvent[]): Map<string, SummedCounts> {
  const sessions = new Map<string, RequestEvent[]>();
  for (const e of events) {
    if (e.phase !== 'ARRIVED') continue;
    const list = sessions.get(e.sessionId);
    if (list === undefined) sessions.set(e.sessionId, [e]);
    else list.push(e);
  }
  const byWorkload = new Map<string, ReturnType<typeof emptyModelUpdate>>();
  for (const list of sessions.values()) {
    list.sort((a, b) => a.ts - b.ts);
    const first = list[0] as RequestEvent;
    let update = byWorkload.get(first.workloadId);
    if (update === undefined) {
      update = emptyModelUpdate(first.workloadId, 0);
      byWorkload.set(first.workloadId, update);
    }
    for (let i = 1; i < list.length; i++) {
      addTransition(update, (list[i - 1] as RequestEvent).agentId, (list[i] as RequestEvent).agentId);
    }
    addTransition(update, (list[list.length - 1] as RequestEvent).agentId, END_AGENT);
  }
  return new Map([...byWorkload].map(([w, u]) => [w, sumCounts([u])]));
}

/** Counts as a map `from>to` → count (END as `<END>`), independent of agent order; zeros left out. */
export function countCells(summed: SummedCounts): Record<string, number> {
  const n = summed.agents.length;
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= n; j++) {
      const c = summed.counts[i * (n + 1) + j] ?? 0;
      if (c !== 0) out[`${summed.agents[i]}>${j === n ? '<END>' : summed.agents[j]}`] = c;
    }
  }
  return out;
}

/** The group's committed offset and end offset of every partition of the topics. */
export async function groupProgress(
  groupId: string,
  topics: readonly string[],
): Promise<{ topic: string; partition: number; committed: number; end: number }[]> {
  const admin = new Kafka({ clientId: 'cluster-progress', brokers: kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
    const out: { topic: string; partition: number; committed: number; end: number }[] = [];
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const e of ends) {
        const c = mine.find((p) => p.partition === e.partition)?.offset ?? '-1';
        out.push({ topic, partition: e.partition, committed: Math.max(0, Number(c)), end: Number(e.high) });
      }
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

export { kafkaBrokers, natsUrl, uniqueName, waitFor };
