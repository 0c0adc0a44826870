import { describe, expect, it } from 'vitest';
import { hashReadCost, readVarintHalves } from '../../../bench/in-process-bench.js';
import { encodeStream } from '../../../bench/wire.js';
import { BLOCK_HASH_LOGICAL_TYPE, parseAvroSchema } from '../../../schemas/avro-types.js';
import type { KvEvent } from '../../../schemas/types.js';

const EDGES = [0n, 1n, -1n, 63n, -64n, 2n ** 31n, -(2n ** 31n) - 1n, 2n ** 32n + 5n, 2n ** 63n - 1n, -(2n ** 63n)];

function kvEvent(seq: number, blockHashes: bigint[]): KvEvent {
  return {
    eventId: `kv-${seq}`,
    engineId: 'engine-0',
    seq,
    ts: seq,
    producedAt: seq,
    kind: 'BLOCK_STORED',
    blockHashes,
    parentHash: null,
    tokenIds: [],
    medium: 'GPU',
  };
}

describe('block-hash read costs (bench)', () => {
  it('reads Avro varints into the same 32-bit halves as the bigint decoder, signs and extremes included', () => {
    const type = parseAvroSchema({ type: 'array', items: { type: 'long', logicalType: BLOCK_HASH_LOGICAL_TYPE } });
    const out = new Int32Array(2 * EDGES.length);
    expect(readVarintHalves(type.toBuffer(EDGES), out)).toBe(EDGES.length);
    const expected = new Int32Array(BigInt64Array.from(EDGES).buffer);
    expect(Array.from(out)).toEqual(Array.from(expected));
    expect(readVarintHalves(type.toBuffer([]), out)).toBe(0);
  });

  it('times the three wire forms of a stream after checking they read the same hashes', () => {
    const stream = encodeStream([kvEvent(1, EDGES), kvEvent(2, EDGES.slice(2)), kvEvent(3, [])]);
    const cost = hashReadCost(stream, stream.events.length);
    for (const ns of [cost.avroBigint, cost.avroHalves, cost.packedHalves]) {
      expect(Number.isFinite(ns)).toBe(true);
      expect(ns).toBeGreaterThan(0);
    }
  });
});
