import type { NatsConnection } from '@nats-io/transport-node';
import type { Producer } from 'kafkajs';
import { natsSubscribe } from '../adapters/nats/nats-subscribe.js';
import { connectOnce } from '../infra/nats/connect.js';
import { createCodec } from '../schemas/codec.js';
import type { Act } from '../schemas/types.js';
import { type BusContext, drainBacklog, filledTopics, type ThroughputRun } from './bus-bench.js';
import { forkConsumer } from './consumer-child.js';
import { type CpuUse, startCpuSampler } from './cpu-sampler.js';
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
  latency: LatencySummary;
  /** Events not yet processed when production stopped, and how long the processor took to catch up (ms). */
  backlogAtStop: number;
  catchUpMs: number;
  /** False when the processor had not caught up within the drain timeout (latency then undercounts the tail). */
  caughtUp: boolean;
  cpu: Record<string, CpuUse | null>;
}

const KV_HEADER_BYTES = 5;

/** Most events per `sendBatch` of a latency run (keeps each partition's record batch under the broker's 1 MB). */
const MAX_SEND_EVENTS = 600;

function zigzagVarint(n: number): Buffer {
  let v = n * 2;
  const bytes: number[] = [];
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

function readZigzag(buf: Buffer, at: number): { value: number; next: number } {
  let v = 0;
  let shift = 1;
  let i = at;
  for (;;) {
    const b = buf[i++]!;
    v += (b & 0x7f) * shift;
    if (b < 0x80) break;
    shift *= 128;
  }
  return { value: v / 2, next: i };
}

/**
 * A KvEvent's encoded bytes with another eventId (its first field): the schema header, the new id, and the rest of
 * the original body. Lets a latency run send every loop of the stream with unique ids without re-encoding.
 */
export function withEventId(encoded: Buffer, eventId: string): Buffer {
  const { value: len, next } = readZigzag(encoded, KV_HEADER_BYTES);
  const id = Buffer.from(eventId, 'utf8');
  return Buffer.concat([
    encoded.subarray(0, KV_HEADER_BYTES),
    zigzagVarint(id.length),
    id,
    encoded.subarray(next + len),
  ]);
}

/**
 * Cycles through the stream forever; loop k > 0 renames events and sessions with suffix `#k`. Request events are
 * decoded and encoded again with the produce time as `producedAt`.
 */
function streamCycler(stream: WireStream) {
  const requestCodec = createCodec('RequestEvent');
  const kvIds = stream.events.map((e) => (e.topic === 'kv' ? readKvId(e.value) : ''));
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const e of stream.events) {
    if (e.topic === 'requests') {
      first = Math.min(first, e.ts);
      last = Math.max(last, e.ts);
    }
  }
  const span = Math.max(1, last - first + 1);
  let i = 0;
  let loop = 0;
  return (): { topic: 'kv' | 'requests'; key: string; value: Buffer; eventId: string } => {
    const e = stream.events[i]!;
    const k = loop;
    const kvId = kvIds[i]!;
    i++;
    if (i === stream.events.length) {
      i = 0;
      loop++;
    }
    if (e.topic === 'kv') {
      const eventId = k === 0 ? kvId : `${kvId}#${k}`;
      return { topic: 'kv', key: e.key, value: k === 0 ? e.value : withEventId(e.value, eventId), eventId };
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
    });
    return { topic: 'requests', key: e.key, value, eventId };
  };
}

function readKvId(encoded: Buffer): string {
  const { value: len, next } = readZigzag(encoded, KV_HEADER_BYTES);
  return encoded.subarray(next, next + len).toString('utf8');
}

/**
 * End-to-end latency at a fixed offered load: a fresh set of topics, one processor (`cachesage processor` service
 * with CacheSage) in its own process, a NATS subscriber acting
 * as the engine hook (it decodes every act). The driver produces the stream at `ratePerSec` events (Kafka messages)
 * per second, in small batches on the engines' producer settings, noting when it handed each event to kafkajs; every
 * act received is matched to its cause by `causeId` and its latency taken against that time. The first `warmupS`
 * seconds fill the processor's state and are not measured.
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
  let nc: NatsConnection | undefined;
  let producer: Producer | undefined;
  let changelogTopics: string[] = [];
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let measureFrom = Number.POSITIVE_INFINITY;
  let measureTo = Number.POSITIVE_INFINITY;
  try {
    await Promise.race([proc.ready, proc.failed, sleep(60_000).then(() => Promise.reject(new Error('not ready')))]);
    nc = await connectOnce(ctx.natsUrl, 5000, 'cachesage-bench-hook');
    const unsubscribe = natsSubscribe(nc)(`${subjectPrefix}.*.*`, (m) => {
      const at = performance.now();
      const act = m.value as Act | undefined;
      if (act === undefined) return;
      const sent = sentAt.get(act.causeId);
      if (sent !== undefined && sent >= measureFrom && sent <= measureTo) latencies.push(at - sent);
    });
    await nc.flush();
    producer = await connectProducer(ctx.brokers, 'cachesage-bench-engines');
    const next = streamCycler(ctx.stream);
    const start = performance.now();
    measureFrom = start + warmupS * 1000;
    const end = measureFrom + durationS * 1000;
    let produced = 0;
    let measured = 0;
    let cpu: ReturnType<typeof startCpuSampler> | undefined;
    for (;;) {
      const now = performance.now();
      if (now >= end) break;
      if (cpu === undefined && now >= measureFrom) {
        cpu = startCpuSampler({ processor: proc.pid, kafka: ctx.pids.kafka, nats: ctx.pids.nats, driver: process.pid });
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
      const handedAt = performance.now();
      for (const id of ids) sentAt.set(id, handedAt);
      if (handedAt >= measureFrom) measured += due;
      const topicMessages = [];
      if (kv.length > 0) topicMessages.push({ topic: topics.kv, messages: kv });
      if (requests.length > 0) topicMessages.push({ topic: topics.requests, messages: requests });
      await producer.sendBatch({ topicMessages, acks: -1 });
      produced += due;
    }
    measureTo = performance.now();
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
    unsubscribe();
    return {
      offeredPerSec: ratePerSec,
      producedPerSec: (measured / (measureTo - measureFrom)) * 1000,
      durationS,
      warmupS,
      eventsMeasured: measured,
      actsMeasured: latencies.length,
      latency: latencySummary(latencies),
      backlogAtStop: Math.max(0, produced - processedAtStop),
      catchUpMs: caughtUp ? catchUpMs : Number.NaN,
      caughtUp,
      cpu: usage,
    };
  } finally {
    await producer?.disconnect().catch(() => undefined);
    await nc?.drain().catch(() => undefined);
    const final = await proc.stop().catch(() => undefined);
    changelogTopics = final?.changelogTopics ?? [];
    sentAt.clear();
    await deleteTopics(ctx.brokers, [...topicNames(topics), ...changelogTopics]);
  }
}
