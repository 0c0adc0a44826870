import { describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../../../adapters/memory/memory-bus.js';
import { partitionOfKey } from '../../../../adapters/memory/murmur2.js';
import { createVirtualScheduler } from '../../../../adapters/memory/virtual-scheduler.js';
import { ConfigError } from '../../../../core/errors.js';
import type { SourceBatch, SubjectMessage } from '../../../../core/io.js';

function collect(batches: SourceBatch<unknown>[]): { topic: string; partition: number; values: unknown[] }[] {
  return batches.map((b) => ({ topic: b.topic, partition: b.partition, values: b.records.map((r) => r.value) }));
}

describe('memory bus: topics', () => {
  it('partitions by key like Kafka, numbers offsets per partition and stamps the scheduler time', () => {
    const scheduler = createVirtualScheduler({ startMs: 1_000 });
    const bus = createMemoryBus({ scheduler, partitions: 6 });
    const a1 = bus.publish('t', 'engine-a', 1);
    const b1 = bus.publish('t', 'engine-b', 2);
    scheduler.runUntil(1_500);
    const a2 = bus.publish('t', 'engine-a', 3);
    expect(a1.partition).toBe(partitionOfKey('engine-a', 6));
    expect(bus.partitionFor('engine-b')).toBe(b1.partition);
    expect([a1.offset, a2.offset]).toEqual(['0', '1']);
    expect(a2.partition).toBe(a1.partition);
    const records = bus.read('t');
    expect(records.map((r) => r.value)).toEqual([1, 2, 3]);
    expect(records.map((r) => r.timestampMs)).toEqual([1_000, 1_000, 1_500]);
    expect(bus.read('t', a1.partition).map((r) => r.value)).toEqual(a1.partition === b1.partition ? [1, 2, 3] : [1, 3]);
    expect(bus.endOffsets('t').reduce((s, n) => s + n, 0)).toBe(3);
  });

  it('delivers a live record to a subscribed source before publish returns', () => {
    const bus = createMemoryBus({ scheduler: createVirtualScheduler() });
    const seen: SourceBatch<unknown>[] = [];
    bus
      .source('t')
      .batches()
      .subscribe((b) => seen.push(b));
    bus.publish('t', 'k', 'x');
    expect(collect(seen)).toEqual([{ topic: 't', partition: bus.partitionFor('k'), values: ['x'] }]);
  });

  it('replays the retained log from the beginning, interleaving topics in append order', () => {
    const bus = createMemoryBus({ scheduler: createVirtualScheduler(), partitions: 3, maxBatchRecords: 2 });
    const key = 'e1';
    bus.publish('kv', key, 'k1');
    bus.publish('kv', key, 'k2');
    bus.publish('kv', key, 'k3');
    bus.publish('req', key, 'r1');
    bus.publish('kv', key, 'k4');
    bus.publish('other', key, 'ignored');
    const p = bus.partitionFor(key);
    const late: SourceBatch<unknown>[] = [];
    bus
      .source(['kv', 'req'])
      .batches()
      .subscribe((b) => late.push(b));
    expect(late).toEqual([]);
    const replay: SourceBatch<unknown>[] = [];
    bus
      .source(['kv', 'req'], { fromBeginning: true, groupId: 'replay' })
      .batches()
      .subscribe((b) => replay.push(b));
    expect(collect(replay)).toEqual([
      { topic: 'kv', partition: p, values: ['k1', 'k2'] },
      { topic: 'kv', partition: p, values: ['k3'] },
      { topic: 'req', partition: p, values: ['r1'] },
      { topic: 'kv', partition: p, values: ['k4'] },
    ]);
  });

  it('resumes a group from its committed offsets; commits never move back', () => {
    const bus = createMemoryBus({ scheduler: createVirtualScheduler(), partitions: 1, maxBatchRecords: 2 });
    for (let i = 0; i < 5; i++) bus.publish('t', 'k', i);
    const first = bus.source('t', { fromBeginning: true, groupId: 'g' });
    const batches: SourceBatch<unknown>[] = [];
    first.batches().subscribe((b) => batches.push(b));
    expect(batches.map((b) => b.records.map((r) => r.value))).toEqual([[0, 1], [2, 3], [4]]);
    expect(bus.committed('g', 't')).toEqual([undefined]);
    batches[0]!.commit();
    expect(bus.committed('g', 't')).toEqual([2]);
    batches[2]!.commit();
    batches[1]!.commit();
    expect(bus.committed('g', 't')).toEqual([5]);
    void first.close();
    bus.publish('t', 'k', 5);
    const second = bus.source('t', { groupId: 'g' });
    const resumed: unknown[] = [];
    second.batches().subscribe((b) => {
      resumed.push(...b.records.map((r) => r.value));
      b.commit();
    });
    expect(resumed).toEqual([5]);
    expect(bus.committed('g', 't')).toEqual([6]);
    expect(bus.committed('other', 't')).toEqual([undefined]);
  });

  it('reads only the assigned partitions, completes on close, and allows one subscriber', async () => {
    const bus = createMemoryBus({ scheduler: createVirtualScheduler(), partitions: 4 });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    for (const k of keys) bus.publish('t', k, k);
    const mine = bus.partitionFor('a');
    const source = bus.source('t', { fromBeginning: true, partitions: [mine] });
    const got: unknown[] = [];
    let completed = false;
    source
      .batches()
      .subscribe({ next: (b) => got.push(...b.records.map((r) => r.value)), complete: () => (completed = true) });
    expect(got).toEqual(keys.filter((k) => bus.partitionFor(k) === mine));
    let second: unknown;
    source.batches().subscribe({ error: (e) => (second = e) });
    expect(String(second)).toMatch(/already has a subscriber/);
    await source.close();
    expect(completed).toBe(true);
    bus.publish('t', 'a', 'after');
    expect(got).not.toContain('after');
  });

  it('refuses bad options and, in bytes mode, values that are not bytes', () => {
    const scheduler = createVirtualScheduler();
    expect(() => createMemoryBus({ scheduler, partitions: 0 })).toThrow(ConfigError);
    expect(() => createMemoryBus({ scheduler, actDelayMs: -1 })).toThrow(ConfigError);
    const bus = createMemoryBus({ scheduler, mode: 'bytes' });
    expect(() => bus.publish('t', 'k', { not: 'bytes' })).toThrow(/not a Uint8Array/);
    expect(bus.publish('t', 'k', new Uint8Array([1])).offset).toBe('0');
    expect(() => bus.sink().write([{ destination: 'cachesage.act.e1.pin', key: 'e1', value: 'x' }])).toThrow(
      /not a Uint8Array/,
    );
  });
});

describe('memory bus: subjects', () => {
  it('delivers act subjects through the scheduler after actDelayMs; other destinations are topics', () => {
    const scheduler = createVirtualScheduler({ startMs: 100 });
    const bus = createMemoryBus({ scheduler, actDelayMs: 7 });
    const seen: [number, SubjectMessage<unknown>][] = [];
    bus.subscribe('cachesage.act.e1.*', (m) => seen.push([scheduler.now(), m]));
    const all: string[] = [];
    const stop = bus.subscribe('cachesage.act.>', (m) => all.push(m.subject));
    bus.sink().write([
      { destination: 'cachesage.act.e1.pin', key: 'e1', value: 'p1', headers: { h: '1' } },
      { destination: 'cachesage.act.e2.evict', key: 'e2', value: 'x' },
      { destination: 'cachesage.dlq', key: 'e1', value: 'dead' },
    ]);
    expect(seen).toEqual([]);
    expect(bus.read('cachesage.dlq').map((r) => r.value)).toEqual(['dead']);
    scheduler.runUntil(106);
    expect(seen).toEqual([]);
    scheduler.runUntil(107);
    expect(seen).toEqual([[107, { subject: 'cachesage.act.e1.pin', value: 'p1', headers: { h: '1' } }]]);
    expect(all).toEqual(['cachesage.act.e1.pin', 'cachesage.act.e2.evict']);
    stop();
    stop();
    bus.sink().write([{ destination: 'cachesage.act.e1.pin', key: 'e1', value: 'p2' }]);
    scheduler.runAll();
    expect(all).toHaveLength(2);
    expect(seen.map(([, m]) => m.value)).toEqual(['p1', 'p2']);
  });
});
