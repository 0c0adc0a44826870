import { Subject } from 'rxjs';
import { avroEngineDecoders } from '../adapters/kafka/start-kafka-topology.js';
import { wallClockScheduler } from '../adapters/kafka/wall-clock-scheduler.js';
import { createMemoryStores } from '../adapters/memory/memory-store.js';
import type { Sink, Source, SourceBatch } from '../core/io.js';
import { createCacheSagePolicy } from '../policies/cachesage/cachesage-policy.js';
import { createLruPolicy } from '../policies/lru.js';
import type { Policy } from '../policies/policy.js';
import { encodeActForNats } from '../schemas/act-codec.js';
import { BLOCK_HASH_LOGICAL_TYPE, parseAvroSchema } from '../schemas/avro-types.js';
import { createCodec } from '../schemas/codec.js';
import { HI, LO, SLOT32, SLOT64 } from '../schemas/hash-slot.js';
import type { KvEvent } from '../schemas/types.js';
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
  /** What one block hash costs to read, by wire form (see `hashReadCost`); absent in older result files. */
  hashReadNs?: HashReadCost<Spread>;
  batchSize: number;
  events: number;
}

/** ns per block hash of the stream's KV-event hash arrays, read three ways. */
export interface HashReadCost<T = number> {
  /** The Avro `array<long>` as the layer decodes it: zig-zag varints into `bigint`s. */
  avroBigint: T;
  /** The same varints read into two 32-bit halves per hash (what is left without a `bigint` per hash). */
  avroHalves: T;
  /** The same hashes as one packed run of 8-byte little-endian values, read into two 32-bit halves. */
  packedHalves: T;
}

/** Zig-zag varint array (Avro's encoding of `array<long>`) into two 32-bit halves per hash; returns the count. */
export function readVarintHalves(buf: Uint8Array, out: Int32Array): number {
  let pos = 0;
  let n = 0;
  for (;;) {
    let count = 0;
    let shift = 0;
    let b: number;
    do {
      b = buf[pos++] as number;
      count |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    count = (count >>> 1) ^ -(count & 1);
    if (count === 0) return n;
    if (count < 0) throw new Error('array block with a byte size: not written by this encoder');
    for (let j = 0; j < count; j++) {
      let lo = 0;
      let hi = 0;
      let s = 0;
      for (;;) {
        const v = buf[pos++] as number;
        const w = v & 0x7f;
        if (s < 28) lo |= w << s;
        else if (s === 28) {
          lo |= w << 28;
          hi |= w >>> 4;
        } else hi |= w << (s - 32);
        s += 7;
        if ((v & 0x80) === 0) break;
      }
      const neg = -(lo & 1);
      out[2 * n] = ((lo >>> 1) | (hi << 31)) ^ neg;
      out[2 * n + 1] = (hi >>> 1) ^ neg;
      n++;
    }
  }
}

/**
 * How much of the decode is the wire form: the block-hash arrays of the stream's first KV events (re-encoded alone
 * as Avro `array<long>`, and as packed 8-byte runs) read as the layer does (`bigint`s), as 32-bit halves from the
 * same varints, and as halves from the packed run. Checks that the three agree.
 */
export function hashReadCost(stream: WireStream, count: number): HashReadCost {
  const kv = createCodec('KvEvent');
  const arrayType = parseAvroSchema({ type: 'array', items: { type: 'long', logicalType: BLOCK_HASH_LOGICAL_TYPE } });
  const varints: Buffer[] = [];
  const packed: Int32Array[] = [];
  let hashes = 0;
  for (let i = 0; i < Math.min(count, stream.events.length); i++) {
    const e = stream.events[i]!;
    if (e.topic !== 'kv') continue;
    const list = (kv.decode(e.value) as KvEvent).blockHashes;
    if (list.length === 0) continue;
    varints.push(arrayType.toBuffer(list));
    packed.push(new Int32Array(BigInt64Array.from(list).buffer));
    hashes += list.length;
  }
  const out = new Int32Array(2 * Math.max(1, ...packed.map((p) => p.length / 2)));
  // each timed pass folds what it read into a checksum, compared below: no read can be optimized away
  const time = (f: (i: number) => number): { ns: number; sum: number } => {
    let sum = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < varints.length; i++) sum ^= f(i);
    return { ns: Number(process.hrtime.bigint() - t0) / Math.max(1, hashes), sum };
  };
  const viaBigint = (i: number): number => {
    const list = arrayType.fromBuffer(varints[i] as Buffer) as bigint[];
    return Number(BigInt.asIntN(32, list[list.length - 1] as bigint));
  };
  const viaVarints = (i: number): number => {
    const n = readVarintHalves(varints[i] as Buffer, out);
    return out[2 * n - 2] as number;
  };
  const viaPacked = (i: number): number => {
    const p = packed[i] as Int32Array;
    for (let j = 0; j < p.length; j++) out[j] = p[j] as number;
    return out[p.length - 2] as number;
  };
  for (let i = 0; i < varints.length; i++) {
    const list = arrayType.fromBuffer(varints[i] as Buffer) as bigint[];
    const n = readVarintHalves(varints[i] as Buffer, out);
    const p = packed[i] as Int32Array;
    for (let j = 0; j < list.length; j++) {
      SLOT64[0] = list[j] as bigint;
      const lo = SLOT32[LO] as number;
      const hi = SLOT32[HI] as number;
      const packedOk = p[2 * j + LO] === lo && p[2 * j + HI] === hi;
      if (n !== list.length || out[2 * j] !== lo || out[2 * j + 1] !== hi || !packedOk) {
        throw new Error(`hash read check: event ${i}, hash ${j} reads differ`);
      }
    }
  }
  const bigint = time(viaBigint);
  const varint = time(viaVarints);
  const packedRead = time(viaPacked);
  if (bigint.sum !== varint.sum || bigint.sum !== packedRead.sum) throw new Error('hash read check: passes differ');
  return { avroBigint: bigint.ns, avroHalves: varint.ns, packedHalves: packedRead.ns };
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
  const reads: HashReadCost[] = [];
  decodeCost(stream, n);
  hashReadCost(stream, n);
  runOnce(createLruPolicy() as Policy, batches, n);
  for (let r = 0; r < repetitions; r++) {
    rates.cachesage.push(runOnce(createCacheSagePolicy() as Policy, batches, n));
    rates.lru.push(runOnce(createLruPolicy() as Policy, batches, n));
    const d = decodeCost(stream, n);
    kv.push(d.kv);
    rq.push(d.request);
    reads.push(hashReadCost(stream, n));
  }
  return {
    eventsPerSec: { cachesage: spread(rates.cachesage), lru: spread(rates.lru) },
    decodeNsPerKvEvent: spread(kv),
    decodeNsPerRequestEvent: spread(rq),
    hashReadNs: {
      avroBigint: spread(reads.map((r) => r.avroBigint)),
      avroHalves: spread(reads.map((r) => r.avroHalves)),
      packedHalves: spread(reads.map((r) => r.packedHalves)),
    },
    batchSize,
    events: n,
  };
}
