import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EachBatchPayload } from 'kafkajs';
import { type KafkaTopology, startKafkaTopology } from '../adapters/kafka/start-kafka-topology.js';
import { createServiceLogger } from '../adapters/ops/logger.js';
import { createProcessorMetrics } from '../adapters/ops/processor-metrics.js';
import { createCacheSagePolicy } from '../policies/cachesage/cachesage-policy.js';
import { createPolicy } from '../policies/index.js';
import { createLruPolicy } from '../policies/lru.js';
import type { Policy } from '../policies/policy.js';
import { policyStoreName } from '../processors/policy-state.js';
import { type RunningProcessor, startProcessor } from '../services/processor/start-processor.js';
import { engineTopology } from '../topology/engine-topology.js';
import { cacheSageModelCodec } from './model-codec.js';
import { type EventTopics, kafkaClient } from './wire.js';

/**
 * What a consumer process runs: `raw` the kafkajs baseline (eachBatch, no decoding), `topology` the engine topology
 * alone on `startKafkaTopology`, `processor` the `cachesage processor` service (`startProcessor`: engine and session
 * sub-topologies, repartitioned requests, the shared model).
 */
export type ConsumerMode = 'raw' | 'topology' | 'processor';

export interface ConsumerConfig {
  mode: ConsumerMode;
  brokers: string[];
  natsUrl: string;
  groupId: string;
  topics: EventTopics;
  /** Subject template of acts (pipeline). */
  actSubject: string;
  policy: 'cachesage' | 'lru';
  /** Period of progress samples, ms. */
  sampleMs: number;
}

/** A progress sample: cumulative counts at wall-clock time `t` (ms since epoch, fractional). */
export interface ConsumerSample {
  t: number;
  records: number;
  /** Group joins so far (a rebalance adds one). */
  joins: number;
  /** Holding partitions with state ready after the latest join. */
  prepared: boolean;
  acts: number;
}

export interface ConsumerFinal {
  records: number;
  acts: number;
  batches: number;
  commits: number;
  failures: number;
  deadLettered: number;
  changelogTopics: string[];
  changelogRecords: number;
}

type ToParent =
  | { type: 'sample'; sample: ConsumerSample }
  | { type: 'joined' }
  | { type: 'ready' }
  | { type: 'final'; final: ConsumerFinal }
  | { type: 'error'; message: string };

/** Session idle time of the processor (its CLI default). */
const SESSION_IDLE_MS = 600_000;

const wallNow = (): number => performance.timeOrigin + performance.now();

function send(message: ToParent): void {
  process.send?.(message);
}

interface Running {
  sample(): ConsumerSample;
  stop(): Promise<ConsumerFinal>;
}

async function startRaw(config: ConsumerConfig): Promise<Running> {
  const consumer = kafkaClient(config.brokers, `bench-raw-${process.pid}`).consumer({
    groupId: config.groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 3000,
    maxWaitTimeInMs: 500,
    maxBytesPerPartition: 1_048_576,
    allowAutoTopicCreation: false,
  });
  let records = 0;
  let batches = 0;
  let commits = 0;
  let joins = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joins++;
    send({ type: 'joined' });
    send({ type: 'ready' });
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [config.topics.kv, config.topics.requests], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 4,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }: EachBatchPayload) => {
      records += batch.messages.length;
      batches++;
      const last = batch.lastOffset();
      resolveOffset(last);
      await heartbeat();
      await commitOffsetsIfNecessary({
        topics: [
          { topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] },
        ],
      });
      commits++;
    },
  });
  return {
    sample: () => ({ t: wallNow(), records, joins, prepared: joins > 0, acts: 0 }),
    async stop() {
      await consumer.disconnect();
      return {
        records,
        acts: 0,
        batches,
        commits,
        failures: 0,
        deadLettered: 0,
        changelogTopics: [],
        changelogRecords: 0,
      };
    },
  };
}

async function startEngineTopology(config: ConsumerConfig): Promise<Running> {
  const policy = (config.policy === 'cachesage' ? createCacheSagePolicy() : createLruPolicy()) as Policy;
  const topology = engineTopology({
    policies: [policy.name],
    kvEventsTopic: config.topics.kv,
    requestsTopic: config.topics.requests,
    deadLetterTopic: config.topics.dlq,
    actSubject: config.actSubject,
    conflateDecisions: true,
  });
  const running: KafkaTopology = await startKafkaTopology(topology, {
    brokers: config.brokers,
    natsUrl: config.natsUrl,
    groupId: config.groupId,
    clientId: `bench-processor-${process.pid}`,
    policies: [policy],
    valueCodecs:
      config.policy === 'cachesage' ? { [policyStoreName('cachesage')]: cacheSageModelCodec() as never } : {},
  });
  running.closed.catch((err: unknown) => send({ type: 'error', message: String((err as Error)?.stack ?? err) }));
  const source = Object.values(running.sources)[0]!;
  let joinsSeen = 0;
  const sample = (): ConsumerSample => {
    if (source.stats.joins > joinsSeen) {
      joinsSeen = source.stats.joins;
      send({ type: 'joined' });
      send({ type: 'ready' });
    }
    return {
      t: wallNow(),
      records: running.stats.records,
      joins: source.stats.joins,
      prepared: source.stats.joins > 0,
      acts: running.stats.emitted.acts ?? 0,
    };
  };
  return {
    sample,
    async stop() {
      await running.idle();
      await running.close();
      const failures = Object.values(running.stats.failures).reduce((a, b) => a + b, 0);
      return {
        records: running.stats.records,
        acts: running.stats.emitted.acts ?? 0,
        batches: running.stats.batches,
        commits: running.stats.commits,
        failures,
        deadLettered: running.stats.deadLettered,
        changelogTopics: Object.values(running.changelogTopics),
        changelogRecords: running.committer.stats.records,
      };
    },
  };
}

async function startProcessorService(config: ConsumerConfig): Promise<Running> {
  const policies = [
    createPolicy(config.policy, config.policy === 'cachesage' ? { sessionIdleMs: SESSION_IDLE_MS } : undefined),
  ];
  const processor: RunningProcessor = await startProcessor({
    brokers: config.brokers,
    natsUrl: config.natsUrl,
    groupId: config.groupId,
    policies,
    topics: {
      kvEvents: config.topics.kv,
      requests: config.topics.requests,
      deadLetters: config.topics.dlq,
      sessionsRepartition: config.topics.sessionsRepartition,
      sessions: config.topics.sessions,
      model: config.topics.model,
    },
    actSubject: config.actSubject,
    sessionIdleMs: SESSION_IDLE_MS,
    clientId: `bench-processor-${process.pid}`,
    metrics: createProcessorMetrics(),
    logger: createServiceLogger({ name: 'bench-processor', level: 'warn' }),
  });
  processor.closed.catch((err: unknown) => send({ type: 'error', message: String((err as Error)?.stack ?? err) }));
  let joinsSeen = 0;
  let prepared = 0;
  const sample = (): ConsumerSample => {
    const e = processor.status().engine;
    if (e.joins > joinsSeen) {
      joinsSeen = e.joins;
      send({ type: 'joined' });
    }
    if (e.preparedJoins > prepared && e.preparedJoins === e.joins) {
      prepared = e.preparedJoins;
      send({ type: 'ready' });
    }
    return {
      t: wallNow(),
      records: e.records,
      joins: e.joins,
      prepared: e.joins > 0 && e.preparedJoins === e.joins,
      acts: e.emitted.acts ?? 0,
    };
  };
  return {
    sample,
    async stop() {
      const e = processor.status().engine;
      await processor.drain();
      const failures = Object.values(e.failures).reduce((a, b) => a + b, 0);
      return {
        records: e.records,
        acts: e.emitted.acts ?? 0,
        batches: e.batches,
        commits: 0,
        failures,
        deadLettered: e.deadLettered,
        changelogTopics: [],
        changelogRecords: 0,
      };
    },
  };
}

/** Runs in the child process: starts, samples progress until the parent says stop, reports, exits. */
async function child(config: ConsumerConfig): Promise<void> {
  let running: Running;
  try {
    running =
      config.mode === 'raw'
        ? await startRaw(config)
        : config.mode === 'topology'
          ? await startEngineTopology(config)
          : await startProcessorService(config);
  } catch (err) {
    send({ type: 'error', message: String((err as Error)?.stack ?? err) });
    process.exit(1);
  }
  const timer = setInterval(() => send({ type: 'sample', sample: running.sample() }), config.sampleMs);
  process.on('message', async (message: unknown) => {
    if (message !== 'stop') return;
    clearInterval(timer);
    send({ type: 'sample', sample: running.sample() });
    try {
      send({ type: 'final', final: await running.stop() });
    } catch (err) {
      send({ type: 'error', message: String((err as Error)?.stack ?? err) });
    }
    process.disconnect?.();
    setTimeout(() => process.exit(0), 100).unref();
  });
}

/** A consumer process as the parent sees it. */
export interface ConsumerProcess {
  readonly pid: number;
  readonly samples: ConsumerSample[];
  /** Resolves when the process joined its group at least once. */
  readonly joined: Promise<void>;
  /** Resolves when the process holds its partitions with state ready to act (the processor: after its rebuild). */
  readonly ready: Promise<void>;
  /** Latest sample. */
  latest(): ConsumerSample | undefined;
  /** Stops it and returns its final counts. */
  stop(): Promise<ConsumerFinal>;
  /** Rejects if the child reports an error or exits early. */
  readonly failed: Promise<never>;
}

/** Forks a consumer process (`--cpu-prof` into `profileDir` when given). */
export function forkConsumer(config: ConsumerConfig, profileDir?: string): ConsumerProcess {
  const execArgv = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const proc = fork(fileURLToPath(import.meta.url), ['--consumer-child', JSON.stringify(config)], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const samples: ConsumerSample[] = [];
  let onJoined!: () => void;
  const joined = new Promise<void>((resolve) => {
    onJoined = resolve;
  });
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  let onFinal!: (f: ConsumerFinal) => void;
  const final = new Promise<ConsumerFinal>((resolve) => {
    onFinal = resolve;
  });
  let onFail!: (err: Error) => void;
  const failed = new Promise<never>((_, reject) => {
    onFail = reject;
  });
  failed.catch(() => undefined);
  let finished = false;
  proc.on('message', (m: ToParent) => {
    if (m.type === 'sample') samples.push(m.sample);
    else if (m.type === 'joined') onJoined();
    else if (m.type === 'ready') onReady();
    else if (m.type === 'final') {
      finished = true;
      onFinal(m.final);
    } else if (m.type === 'error') onFail(new Error(`consumer ${proc.pid}: ${m.message}`));
  });
  proc.on('exit', (code) => {
    if (!finished) onFail(new Error(`consumer ${proc.pid} exited with ${code} before its report`));
  });
  return {
    pid: proc.pid!,
    samples,
    joined,
    ready,
    failed,
    latest: () => samples[samples.length - 1],
    async stop() {
      proc.send('stop');
      const result = await Promise.race([final, failed]);
      await new Promise<void>((resolve) => {
        if (proc.exitCode !== null) resolve();
        else proc.once('exit', () => resolve());
      });
      return result;
    },
  };
}

if (process.argv[2] === '--consumer-child') {
  await child(JSON.parse(process.argv[3]!) as ConsumerConfig);
}
