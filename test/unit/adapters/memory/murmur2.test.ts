import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionOfKey } from '../../../../adapters/memory/murmur2.js';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

describe('murmur2 (Kafka default partitioner)', () => {
  it("matches the Java client's published test vectors", () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect(murmur2(new TextEncoder().encode(key))).toBe(hash);
  });

  it("agrees with kafkajs's implementation on many keys, so memory and Kafka partitions match", () => {
    for (let i = 0; i < 2000; i++) {
      const key = `engine-${i}-${'x'.repeat(i % 7)}é`;
      expect(murmur2(new TextEncoder().encode(key))).toBe(kafkajsMurmur2(Buffer.from(key)));
    }
    const seen = new Set(Array.from({ length: 200 }, (_, i) => partitionOfKey(`e${i}`, 12)));
    expect([...seen].every((p) => p >= 0 && p < 12)).toBe(true);
    expect(seen.size).toBe(12);
  });
});
