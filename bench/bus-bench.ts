import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import { connectOnce } from '../infra/nats/connect.js';
import type { EncodedAct } from './act-samples.js';
import { type ConsumerMode, type ConsumerProcess, forkConsumer } from './consumer-child.js';
import { type CpuUse, startCpuSampler } from './cpu-sampler.js';
import { type Spread, spread } from './stats.js';
import { steadyRate } from './window.js';
import {
  connectProducer,
  createEventTopics,
  deleteTopics,
  type EventTopics,
  produceAll,
  topicNames,
  uniqueName,
  type WireStream,
} from './wire.js';

/** What every bus measurement needs: where the services are, their pids, and the stream to send. */
export interface BusContext {
  brokers: string[];
  natsUrl: string;
  pids: { kafka: number | undefined; nats: number | undefined };
  stream: WireStream;
  /** Partitions of the event topics. */
  partitions: number;
  progress: (line: string) => void;
  /** `--cpu-prof` output folder for consumer processes, when profiling. */
  profileDir?: string;
}

/** One throughput figure: messages (events), KV blocks and bytes per second, and the CPU it took. */
export interface ThroughputRun {
  eventsPerSec: number;
  blocksPerSec: number;
  mbPerSec: number;
  events: number;
  windowMs: number;
  cpu: Record<string, CpuUse | null>;
}

export interface ThroughputFigure {
  eventsPerSec: Spread;
  blocksPerSec: Spread;
  mbPerSec: Spread;
  events: number;
  runs: ThroughputRun[];
}

export function throughputFigure(runs: readonly ThroughputRun[]): ThroughputFigure {
  return {
    eventsPerSec: spread(runs.map((r) => r.eventsPerSec)),
    blocksPerSec: spread(runs.map((r) => r.blocksPerSec)),
    mbPerSec: spread(runs.map((r) => r.mbPerSec)),
    events: runs[0]?.events ?? 0,
    runs: [...runs],
  };
}

function streamBytes(stream: WireStream, count: number): number {
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += stream.events[i]!.value.length;
  return bytes;
}

function streamBlocks(stream: WireStream, count: number): number {
  let blocks = 0;
  for (let i = 0; i < count; i++) blocks += stream.events[i]!.blocks;
  return blocks;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until every process is prepared after its latest join and no process joined again for `quietMs`. */
async function settled(procs: readonly ConsumerProcess[], quietMs: number, deadline: number): Promise<void> {
  let since = Number.POSITIVE_INFINITY;
  let joins = -1;
  for (;;) {
    if (performance.now() > deadline) throw new Error('the consumer group did not settle');
    const latest = procs.map((p) => p.latest());
    const ready = latest.every((s) => s?.prepared === true);
    const total = latest.reduce((sum, s) => sum + (s?.joins ?? 0), 0);
    if (!ready) since = Number.POSITIVE_INFINITY;
    else if (total !== joins || since === Number.POSITIVE_INFINITY) since = performance.now();
    else if (performance.now() - since >= quietMs) return;
    joins = total;
    await Promise.race([sleep(50), ...procs.map((p) => p.failed)]);
  }
}

/** Fresh event topics filled with the first `count` events of the stream (not timed). */
export async function filledTopics(ctx: BusContext, prefix: string, count: number): Promise<EventTopics> {
  const topics = await createEventTopics(ctx.brokers, prefix, ctx.partitions);
  const producer = await connectProducer(ctx.brokers, 'cachesage-bench-fill');
  try {
    await produceAll(producer, topics, ctx.stream.events.slice(0, count));
  } finally {
    await producer.disconnect();
  }
  return topics;
}

/** kafkajs produce: the stream's first `count` events into fresh topics, 500 per `sendBatch`, acks from all. */
export async function measureProduce(ctx: BusContext, count: number): Promise<ThroughputRun> {
  const topics = await createEventTopics(ctx.brokers, 'bench.produce', ctx.partitions);
  const producer = await connectProducer(ctx.brokers, 'cachesage-bench-produce');
  const events = ctx.stream.events.slice(0, count);
  try {
    const cpu = startCpuSampler({ kafka: ctx.pids.kafka, driver: process.pid });
    const t0 = performance.now();
    await produceAll(producer, topics, events);
    const ms = performance.now() - t0;
    return {
      eventsPerSec: (count / ms) * 1000,
      blocksPerSec: (streamBlocks(ctx.stream, count) / ms) * 1000,
      mbPerSec: streamBytes(ctx.stream, count) / 1e6 / (ms / 1000),
      events: count,
      windowMs: ms,
      cpu: cpu.stop(),
    };
  } finally {
    await producer.disconnect();
    await deleteTopics(ctx.brokers, topicNames(topics));
  }
}

/**
 * Drains a filled backlog with consumer processes of one group (raw kafkajs or processors) and returns the steady
 * rate over the window in which all of them worked (see `steadyRate`).
 */
export async function drainBacklog(
  ctx: BusContext,
  topics: EventTopics,
  count: number,
  options: {
    mode: ConsumerMode;
    processes: number;
    policy?: 'cachesage' | 'lru';
    actSubject?: string;
    timeoutMs?: number;
    /**
     * The topics are empty: start the processes, wait until the group settled (every process holds its partitions
     * with its state ready, no join for `settleMs`), then produce the first `count` events of the stream as fast as
     * one producer can. Keeps a rebalance out of the measurement when several processes share the group.
     */
    fillAfterSettled?: boolean;
    settleMs?: number;
  },
): Promise<ThroughputRun & { acts: number; failures: number; changelogTopics: string[] }> {
  const groupId = uniqueName(`bench-${options.mode}`);
  const procs = Array.from({ length: options.processes }, () =>
    forkConsumer(
      {
        mode: options.mode,
        brokers: ctx.brokers,
        natsUrl: ctx.natsUrl,
        groupId,
        topics,
        actSubject: options.actSubject ?? `${uniqueName('bench.act')}.{engineId}.{kind}`,
        policy: options.policy ?? 'cachesage',
        sampleMs: 20,
      },
      ctx.profileDir,
    ),
  );
  const pids: Record<string, number | undefined> = { kafka: ctx.pids.kafka, nats: ctx.pids.nats };
  procs.forEach((p, i) => {
    pids[options.processes === 1 ? options.mode : `${options.mode}-${i + 1}`] = p.pid;
  });
  const cpu = startCpuSampler(pids);
  const deadline = performance.now() + (options.timeoutMs ?? 600_000);
  const done = (): number => procs.reduce((sum, p) => sum + (p.latest()?.records ?? 0), 0);
  try {
    if (options.fillAfterSettled === true) {
      await settled(procs, options.settleMs ?? 3000, deadline);
      const producer = await connectProducer(ctx.brokers, 'cachesage-bench-fill');
      try {
        await produceAll(producer, topics, ctx.stream.events.slice(0, count));
      } finally {
        await producer.disconnect();
      }
    }
    while (done() < count) {
      if (performance.now() > deadline) throw new Error(`${options.mode} drain timed out at ${done()} of ${count}`);
      await Promise.race([sleep(50), ...procs.map((p) => p.failed)]);
    }
    const rate = steadyRate(procs.map((p) => p.samples));
    const usage = Number.isFinite(rate.startT) ? cpu.between(rate.startT, rate.endT) : cpu.stop();
    cpu.stop();
    const finals = await Promise.all(procs.map((p) => p.stop()));
    const blocksPerEvent = streamBlocks(ctx.stream, count) / count;
    const bytesPerEvent = streamBytes(ctx.stream, count) / count;
    return {
      eventsPerSec: rate.perSecond,
      blocksPerSec: rate.perSecond * blocksPerEvent,
      mbPerSec: (rate.perSecond * bytesPerEvent) / 1e6,
      events: count,
      windowMs: rate.windowMs,
      cpu: usage,
      acts: finals.reduce((s, f) => s + f.acts, 0),
      failures: finals.reduce((s, f) => s + f.failures, 0),
      changelogTopics: finals.flatMap((f) => f.changelogTopics),
    };
  } catch (err) {
    cpu.stop();
    await Promise.allSettled(procs.map((p) => p.stop()));
    throw err;
  }
}

/** kafkajs consume (`eachBatch`, resolve + heartbeat + commit per batch) of a fresh, filled backlog. */
export async function measureRawConsume(ctx: BusContext, count: number): Promise<ThroughputRun> {
  const topics = await filledTopics(ctx, 'bench.consume', count);
  try {
    const {
      acts: _a,
      failures: _f,
      changelogTopics: _c,
      ...run
    } = await drainBacklog(ctx, topics, count, {
      mode: 'raw',
      processes: 1,
    });
    return run;
  } finally {
    await deleteTopics(ctx.brokers, topicNames(topics));
  }
}

export interface NatsRun {
  messagesPerSec: number;
  mbPerSec: number;
  messages: number;
  received: number;
  meanBytes: number;
  cpu: Record<string, CpuUse | null>;
}

export interface NatsFigure {
  messagesPerSec: Spread;
  mbPerSec: Spread;
  meanBytes: number;
  messages: number;
  runs: NatsRun[];
}

/**
 * NATS core publish → subscribe on a fresh subject: one connection publishes `count` encoded acts (flushing every
 * 2000), another receives them; rate = received / (last receipt − first publish).
 */
export async function measureNats(ctx: BusContext, acts: readonly EncodedAct[], count: number): Promise<NatsRun> {
  const pub: NatsConnection = await connectOnce(ctx.natsUrl, 5000, 'cachesage-bench-pub');
  const sub: NatsConnection = await connectOnce(ctx.natsUrl, 5000, 'cachesage-bench-sub');
  const subject = uniqueName('bench.nats');
  let received = 0;
  let lastAt = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((resolve) => {
    resolveAll = resolve;
  });
  const subscription = sub.subscribe(subject, {
    callback: () => {
      received++;
      lastAt = performance.now();
      if (received === count) resolveAll();
    },
  });
  await sub.flush();
  const prepared = acts.map((a) => {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(a.headers)) h.set(k, v);
    return { data: a.data, headers: h };
  });
  let bytes = 0;
  try {
    const cpu = startCpuSampler({ nats: ctx.pids.nats, driver: process.pid });
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const a = prepared[i % prepared.length]!;
      pub.publish(subject, a.data, { headers: a.headers });
      bytes += a.data.length;
      if (i % 2000 === 1999) await pub.flush();
    }
    await pub.flush();
    await Promise.race([all, sleep(30_000)]);
    const ms = lastAt - t0;
    return {
      messagesPerSec: (received / ms) * 1000,
      mbPerSec: ((bytes / count) * received) / 1e6 / (ms / 1000),
      messages: count,
      received,
      meanBytes: bytes / count,
      cpu: cpu.stop(),
    };
  } finally {
    subscription.unsubscribe();
    await pub.drain().catch(() => undefined);
    await sub.drain().catch(() => undefined);
  }
}

export function natsFigure(runs: readonly NatsRun[]): NatsFigure {
  return {
    messagesPerSec: spread(runs.map((r) => r.messagesPerSec)),
    mbPerSec: spread(runs.map((r) => r.mbPerSec)),
    meanBytes: runs[0]?.meanBytes ?? 0,
    messages: runs[0]?.messages ?? 0,
    runs: [...runs],
  };
}
