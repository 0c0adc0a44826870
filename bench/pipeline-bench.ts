import type { Producer } from 'kafkajs';
import { createCodec } from '../schemas/codec.js';
import { type BusContext, drainBacklog, filledTopics, type ThroughputRun } from './bus-bench.js';
import { forkConsumer } from './consumer-child.js';
import { type CpuUse, startCpuSampler } from './cpu-sampler.js';
import { forkHook, type HookProcess, monoNowMs } from './hook-child.js';
import { type LatencySummary, latencySummary } from './stats.js';
import {
  connectProducer,
  createEventTopics,
  deleteTopics,
  type EventTopics,
  topicNames,
  uniqueName,
  type WireStream,
} from './wire.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Pipeline throughput of one run, with the acts it published. */
export interface PipelineThroughputRun extends ThroughputRun {
  acts: number;
  failures: number;
}

/** What drains the backlog in a pipeline throughput run. */
export interface PipelineVariant {
  /** `processor`: the `cachesage processor` service; `topology`: the engine topology alone on `startKafkaTopology`. */
  mode: 'processor' | 'topology';
  policy: 'cachesage' | 'lru';
  processes: number;
  /** Start the processes on empty topics and produce the backlog once the group settled (see `drainBacklog`). */
  fillAfterSettled?: boolean;
}

/**
 * Sustained throughput of processors (each in its own process) draining a fresh backlog of `count` events: the same
 * events, topics layout and rate window as the raw consume.
 */
export async function measurePipelineThroughput(
  ctx: BusContext,
  count: number,
  variant: PipelineVariant = { mode: 'processor', policy: 'cachesage', processes: 1 },
): Promise<PipelineThroughputRun> {
  const topics = variant.fillAfterSettled
    ? await createEventTopics(ctx.brokers, `bench.${variant.mode}`, ctx.partitions)
    : await filledTopics(ctx, `bench.${variant.mode}`, count);
  let changelogTopics: string[] = [];
  try {
    const run = await drainBacklog(ctx, topics, count, variant);
    changelogTopics = run.changelogTopics;
    const { changelogTopics: _c, ...rest } = run;
    return rest;
  } finally {
    await deleteTopics(ctx.brokers, [...topicNames(topics), ...changelogTopics]);
  }
}

/** End-to-end latency at one offered load. */
export interface LatencyRun {
  offeredPerSec: number;
  /** Events the driver actually handed to Kafka per second over the measured window. */
  producedPerSec: number;
  durationS: number;
  warmupS: number;
  /** Events produced in the measured window, and acts received for them. */
  eventsMeasured: number;
  actsMeasured: number;
  /** Bytes of those acts (NATS message bodies) per measured event: the act traffic an engine's hook decodes. */
  actBytesPerEvent: number;
  latency: LatencySummary;
  /** Events not yet processed when production stopped, and how long the processor took to catch up (ms). */
  backlogAtStop: number;
  catchUpMs: number;
  /** False when the processor had not caught up within the drain timeout (latency then undercounts the tail). */
  caughtUp: boolean;
  cpu: Record<string, CpuUse | null>;
}

/** Most events per `sendBatch` of a latency run (keeps each partition's record batch under the broker's 1 MB). */
const MAX_SEND_EVENTS = 200;

/** Maps pass k's block hashes to hashes no other pass uses (the same mapping for KV and request events). */
export function loopHash(h: bigint, loop: number): bigint {
  return loop === 0 ? h : BigInt.asIntN(64, h ^ (BigInt(loop) * 0x9e3779b97f4a7c15n));
}

interface CycledEvent {
  topic: 'kv' | 'requests';
  key: string;
  value: Buffer;
  eventId: string;
}

/**
 * Cycles through the stream. The first pass sends the recorded KV events as they are; request events are re-encoded
 * with the produce time as `producedAt`. A run that outlasts the stream sends it again as new traffic: every later
 * pass k starts with an ALL_CLEARED event per engine (an engine restart), and suffixes event, request and session
 * ids with `#k`, shifts times by the stream's span and maps block hashes by `loopHash`, so no pass finds the blocks
 * of another.
 */
export function streamCycler(stream: WireStream): () => CycledEvent {
  const kvCodec = createCodec('KvEvent');
  const requestCodec = createCodec('RequestEvent');
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const e of stream.events) {
    first = Math.min(first, e.ts);
    last = Math.max(last, e.ts);
  }
  const span = Math.max(1, last - first + 1);
  const pending: CycledEvent[] = [];
  let i = 0;
  let loop = 0;
  return () => {
    const restart = pending.shift();
    if (restart !== undefined) return restart;
    const e = stream.events[i]!;
    const k = loop;
    i++;
    if (i === stream.events.length) {
      i = 0;
      loop++;
      for (const engineId of stream.engineIds) {
        const eventId = `${engineId}:cleared#${loop}`;
        const value = kvCodec.encode({
          eventId,
          engineId,
          seq: 0,
          ts: first + loop * span,
          producedAt: Date.now(),
          kind: 'ALL_CLEARED',
          blockHashes: [],
          parentHash: null,
          tokenIds: [],
          medium: 'GPU',
        });
        pending.push({ topic: 'kv', key: engineId, value, eventId });
      }
    }
    if (e.topic === 'kv') {
      if (k === 0) return { topic: 'kv', key: e.key, value: e.value, eventId: e.eventId };
      const ev = kvCodec.decode(e.value);
      const eventId = `${ev.eventId}#${k}`;
      const value = kvCodec.encode({
        ...ev,
        eventId,
        ts: ev.ts + k * span,
        producedAt: Date.now(),
        blockHashes: ev.blockHashes.map((h) => loopHash(h, k)),
        parentHash: ev.parentHash === null ? null : loopHash(ev.parentHash, k),
      });
      return { topic: 'kv', key: e.key, value, eventId };
    }
    const r = requestCodec.decode(e.value);
    const suffix = k === 0 ? '' : `#${k}`;
    const eventId = `${r.eventId}${suffix}`;
    const value = requestCodec.encode({
      ...r,
      eventId,
      requestId: `${r.requestId}${suffix}`,
      sessionId: `${r.sessionId}${suffix}`,
      ts: r.ts + k * span,
      producedAt: Date.now(),
      blockHashes: k === 0 ? r.blockHashes : r.blockHashes.map((h) => loopHash(h, k)),
      outputBlockHashes: k === 0 ? r.outputBlockHashes : r.outputBlockHashes.map((h) => loopHash(h, k)),
    });
    return { topic: 'requests', key: e.key, value, eventId };
  };
}

/**
 * End-to-end latency at a fixed offered load: a fresh set of topics, one processor (`cachesage processor` service
 * with CacheSage) in its own process, a NATS subscriber acting as the engine hook in another (it decodes every act
 * and notes its arrival). The driver produces the stream at `ratePerSec` events (Kafka messages) per second, in
 * small batches on the engines' producer settings, noting when it handed each event to kafkajs; every act received
 * is matched to its cause by `causeId` and its latency taken against that time (both on the machine's monotonic
 * clock). The first `warmupS` seconds fill the processor's state and are not measured.
 */
export async function measureLatency(
  ctx: BusContext,
  ratePerSec: number,
  durationS: number,
  warmupS: number,
): Promise<LatencyRun> {
  const topics: EventTopics = await createEventTopics(ctx.brokers, 'bench.latency', ctx.partitions);
  const subjectPrefix = uniqueName('bench.latency.act');
  const proc = forkConsumer(
    {
      mode: 'processor',
      brokers: ctx.brokers,
      natsUrl: ctx.natsUrl,
      groupId: uniqueName('bench-latency'),
      topics,
      actSubject: `${subjectPrefix}.{engineId}.{kind}`,
      policy: 'cachesage',
      sampleMs: 50,
    },
    ctx.profileDir,
  );
  let hook: HookProcess | undefined;
  let producer: Producer | undefined;
  let changelogTopics: string[] = [];
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let measureFrom = Number.POSITIVE_INFINITY;
  let measureTo = Number.POSITIVE_INFINITY;
  try {
    await Promise.race([proc.ready, proc.failed, sleep(60_000).then(() => Promise.reject(new Error('not ready')))]);
    hook = forkHook({ natsUrl: ctx.natsUrl, subject: `${subjectPrefix}.*.*` });
    await hook.ready;
    producer = await connectProducer(ctx.brokers, 'cachesage-bench-engines');
    const next = streamCycler(ctx.stream);
    const start = monoNowMs();
    measureFrom = start + warmupS * 1000;
    const end = measureFrom + durationS * 1000;
    let produced = 0;
    let measured = 0;
    let cpu: ReturnType<typeof startCpuSampler> | undefined;
    for (;;) {
      const now = monoNowMs();
      if (now >= end) break;
      if (cpu === undefined && now >= measureFrom) {
        cpu = startCpuSampler({
          processor: proc.pid,
          kafka: ctx.pids.kafka,
          nats: ctx.pids.nats,
          driver: process.pid,
          hook: hook.pid,
        });
      }
      const due = Math.min(MAX_SEND_EVENTS, Math.floor(((now - start) / 1000) * ratePerSec) - produced);
      if (due <= 0) {
        await sleep(1);
        continue;
      }
      const kv: { key: string; value: Buffer }[] = [];
      const requests: { key: string; value: Buffer }[] = [];
      const ids: string[] = [];
      for (let j = 0; j < due; j++) {
        const e = next();
        (e.topic === 'kv' ? kv : requests).push({ key: e.key, value: e.value });
        ids.push(e.eventId);
      }
      const handedAt = monoNowMs();
      for (const id of ids) sentAt.set(id, handedAt);
      if (handedAt >= measureFrom) measured += due;
      const topicMessages = [];
      if (kv.length > 0) topicMessages.push({ topic: topics.kv, messages: kv });
      if (requests.length > 0) topicMessages.push({ topic: topics.requests, messages: requests });
      await producer.sendBatch({ topicMessages, acks: -1 });
      produced += due;
    }
    measureTo = monoNowMs();
    const usage = cpu?.stop() ?? {};
    const stoppedAt = performance.now();
    const processedAtStop = proc.latest()?.records ?? 0;
    const drainDeadline = stoppedAt + 30_000;
    while ((proc.latest()?.records ?? 0) < produced && performance.now() < drainDeadline) {
      await Promise.race([sleep(20), proc.failed]);
    }
    const caughtUp = (proc.latest()?.records ?? 0) >= produced;
    const catchUpMs = performance.now() - stoppedAt;
    await sleep(500);
    const arrivals = await hook.stop();
    hook = undefined;
    let actBytes = 0;
    for (let i = 0; i < arrivals.causeIds.length; i++) {
      const sent = sentAt.get(arrivals.causeIds[i]!);
      if (sent !== undefined && sent >= measureFrom && sent <= measureTo) {
        latencies.push(arrivals.atMs[i]! - sent);
        actBytes += arrivals.bytes[i]!;
      }
    }
    return {
      offeredPerSec: ratePerSec,
      producedPerSec: (measured / (measureTo - measureFrom)) * 1000,
      durationS,
      warmupS,
      eventsMeasured: measured,
      actsMeasured: latencies.length,
      actBytesPerEvent: measured > 0 ? actBytes / measured : 0,
      latency: latencySummary(latencies),
      backlogAtStop: Math.max(0, produced - processedAtStop),
      catchUpMs: caughtUp ? catchUpMs : Number.NaN,
      caughtUp,
      cpu: usage,
    };
  } finally {
    await producer?.disconnect().catch(() => undefined);
    await hook?.stop().catch(() => undefined);
    const final = await proc.stop().catch(() => undefined);
    changelogTopics = final?.changelogTopics ?? [];
    sentAt.clear();
    await deleteTopics(ctx.brokers, [...topicNames(topics), ...changelogTopics]);
  }
}
