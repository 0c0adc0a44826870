import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { KafkaSource, KafkaSourceStats } from '../../../adapters/kafka/kafka-source.js';
import type { SourceBatch } from '../../../core/io.js';
import { createGuardedSource, ownedPartitions } from '../../../services/processor/guarded-source.js';

function fakeSource() {
  const batches = new Subject<SourceBatch<Uint8Array>>();
  const stats = { joins: 0, assignment: {} as Record<string, number[]> } as KafkaSourceStats;
  const source = { name: 'fake', groupId: 'g', stats, batches: () => batches, close: async () => {} } as KafkaSource;
  return { source, stats, batches };
}

function batch(partition: number, offsets: number[], committed: number[]): SourceBatch<Uint8Array> {
  return {
    topic: 't',
    partition,
    records: offsets.map((o) => ({
      origin: { topic: 't', partition, offset: String(o) },
      key: null,
      value: new Uint8Array(),
      timestampMs: 0,
      headers: {},
    })),
    commit: () => {
      committed.push(partition);
    },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('guarded source', () => {
  it('prepares the state of every new assignment before delivering a batch of it, batches waiting meanwhile', async () => {
    const { source, stats, batches } = fakeSource();
    let release!: () => void;
    const prepared: number[][] = [];
    const guarded = createGuardedSource({
      source,
      pollMs: 10_000,
      prepare: (owned) => {
        prepared.push([...owned]);
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    });
    const delivered: number[] = [];
    const sub = guarded.batches().subscribe((b) => delivered.push(b.partition));
    stats.joins = 1;
    stats.assignment = { t: [2, 0], u: [2] };
    expect(ownedPartitions(source)).toEqual([0, 2]);
    batches.next(batch(0, [1], []));
    batches.next(batch(2, [5], []));
    await tick();
    expect(prepared).toEqual([[0, 2]]);
    expect(delivered).toEqual([]);
    release();
    await tick();
    expect(delivered).toEqual([0, 2]);
    expect(guarded.preparedJoins).toBe(1);
    stats.joins = 2;
    stats.assignment = { t: [1] };
    batches.next(batch(1, [9], []));
    await tick();
    expect(prepared).toEqual([[0, 2], [1]]);
    release();
    await tick();
    expect(delivered).toEqual([0, 2, 1]);
    sub.unsubscribe();
  });

  it('looks for a new assignment without batches, and commits a batch whose records were all folded in already', async () => {
    const { source, stats, batches } = fakeSource();
    const prepared: number[][] = [];
    const committed: number[] = [];
    const guarded = createGuardedSource({
      source,
      pollMs: 5,
      prepare: async (owned) => {
        prepared.push([...owned]);
      },
      admit: (b) => ({ ...b, records: b.records.filter((r) => Number(r.origin.offset) >= 10) }),
    });
    const delivered: string[][] = [];
    const sub = guarded.batches().subscribe((b) => delivered.push(b.records.map((r) => r.origin.offset)));
    stats.joins = 1;
    stats.assignment = { t: [3] };
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(prepared).toEqual([[3]]);
    batches.next(batch(3, [8, 9], committed));
    batches.next(batch(3, [9, 10, 11], committed));
    await tick();
    expect(committed).toEqual([3]);
    expect(delivered).toEqual([['10', '11']]);
    sub.unsubscribe();
  });
});
