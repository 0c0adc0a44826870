import { Subject } from 'rxjs';
import { avroEngineDecoders } from '../adapters/kafka/start-kafka-topology.js';
import { wallClockScheduler } from '../adapters/kafka/wall-clock-scheduler.js';
import { createMemoryStores } from '../adapters/memory/memory-store.js';
import type { Sink, Source, SourceBatch } from '../core/io.js';
import { createCacheSagePolicy } from '../policies/cachesage/cachesage-policy.js';
import { createLruPolicy } from '../policies/lru.js';
import type { Policy } from '../policies/policy.js';
import { encodeActForNats } from '../schemas/act-codec.js';
import { createCodec } from '../schemas/codec.js';
import { engineTopology } from '../topology/engine-topology.js';
import { startTopology } from '../topology/runtime/start-topology.js';
import { type Spread, spread } from './stats.js';
import type { WireStream } from './wire.js';

/** What one processor thread does per event with no transport: decode, the policy, stamping and act encoding. */
export interface InProcessResult {
  /** Events/s through the engine topology in one thread, batches of `batchSize` handed over synchronously. */
  eventsPerSec: Record<'cachesage' | 'lru', Spread>;
  /** Avro decode alone, ns per event, per topic. */
  decodeNsPerKvEvent: Spread;
  decodeNsPerRequestEvent: Spread;
  batchSize: number;
  events: number;
}

function partitionOf(stream: WireStream, key: string): number {
  return Math.max(0, stream.engineIds.indexOf(key));
}

/** The stream as source batches of `size` records per topic partition, in stream order. */
function batchesOf(stream: WireStream, count: number, size: number): SourceBatch<Uint8Array>[] {
  const out: SourceBatch<Uint8Array>[] = [];
  const open = new Map<string, SourceBatch<Uint8Array>>();
  const offsets = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const e = stream.events[i]!;
    const topic = e.topic === 'kv' ? 'kv' : 'requests';
    const partition = partitionOf(stream, e.key);
    const id = `${topic}/${partition}`;
    let batch = open.get(id);
    if (batch === undefined || batch.records.length >= size) {
      batch = { topic, partition, records: [], commit: () => undefined };
      open.set(id, batch);
      out.push(batch);
    }
    const offset = offsets.get(id) ?? 0;
    offsets.set(id, offset + 1);
    batch.records.push({
      origin: { topic, partition, offset: String(offset) },
      key: e.key,
      value: e.value,
      timestampMs: 0,
      headers: {},
    });
  }
  return out;
}

const discard: Sink<unknown> = { name: 'discard', write: () => undefined, close: async () => undefined };

function runOnce(policy: Policy, batches: readonly SourceBatch<Uint8Array>[], events: number): number {
  const topology = engineTopology({
    policies: [policy.name],
    kvEventsTopic: 'kv',
    requestsTopic: 'requests',
    conflateDecisions: true,
  });
  const subject = new Subject<SourceBatch<Uint8Array>>();
  const source: Source<Uint8Array> = {
    name: 'in-process',
    batches: () => subject,
    close: async () => subject.complete(),
  };
  const running = startTopology(topology, {
    sources: { events: source as Source<unknown> },
    sinks: { acts: discard, dlq: discard },
    stores: createMemoryStores(topology.stores.map((s) => s.name)),
    policies: [policy],
    scheduler: wallClockScheduler(),
    decoders: avroEngineDecoders(),
    encoders: { act: encodeActForNats },
  });
  const t0 = performance.now();
  for (const b of batches) subject.next(b);
  const ms = performance.now() - t0;
  const failures = Object.values(running.stats.failures).reduce((a, b) => a + b, 0);
  if (running.stats.records !== events || failures > 0) {
    throw new Error(`in-process run: ${running.stats.records} of ${events} records, ${failures} failures`);
  }
  void running.close();
  return (events / ms) * 1000;
}

function decodeCost(stream: WireStream, count: number): { kv: number; request: number } {
  const kv = createCodec('KvEvent');
  const rq = createCodec('RequestEvent');
  let kvNs = 0;
  let rqNs = 0;
  let kvN = 0;
  let rqN = 0;
  for (let i = 0; i < count; i++) {
    const e = stream.events[i]!;
    const t0 = process.hrtime.bigint();
    if (e.topic === 'kv') kv.decode(e.value);
    else rq.decode(e.value);
    const ns = Number(process.hrtime.bigint() - t0);
    if (e.topic === 'kv') {
      kvNs += ns;
      kvN++;
    } else {
      rqNs += ns;
      rqN++;
    }
  }
  return { kv: kvNs / kvN, request: rqNs / rqN };
}

/**
 * The processor's CPU ceiling: the engine topology (Avro decode → observe → decide → stamp → route with act encoding)
 * fed the stream's first `count` encoded events in batches, in this thread, with no transport; once with CacheSage,
 * once with LRU. A first pass warms the JIT.
 */
export function benchInProcess(
  stream: WireStream,
  count: number,
  repetitions: number,
  batchSize = 500,
): InProcessResult {
  const n = Math.min(count, stream.events.length);
  const batches = batchesOf(stream, n, batchSize);
  const rates: Record<'cachesage' | 'lru', number[]> = { cachesage: [], lru: [] };
  const kv: number[] = [];
  const rq: number[] = [];
  decodeCost(stream, n);
  runOnce(createLruPolicy() as Policy, batches, n);
  for (let r = 0; r < repetitions; r++) {
    rates.cachesage.push(runOnce(createCacheSagePolicy() as Policy, batches, n));
    rates.lru.push(runOnce(createLruPolicy() as Policy, batches, n));
    const d = decodeCost(stream, n);
    kv.push(d.kv);
    rq.push(d.request);
  }
  return {
    eventsPerSec: { cachesage: spread(rates.cachesage), lru: spread(rates.lru) },
    decodeNsPerKvEvent: spread(kv),
    decodeNsPerRequestEvent: spread(rq),
    batchSize,
    events: n,
  };
}
