import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_KEY,
  commonCheckpoint,
  decodeCheckpoint,
  encodeCheckpoint,
} from '../../../../adapters/kafka/changelog-checkpoint.js';
import { createChangelogCommitter, restoredPosition } from '../../../../adapters/kafka/changelog-committer.js';
import {
  type ChangelogStore,
  checkpointRecord,
  createChangelogStore,
} from '../../../../adapters/kafka/changelog-store.js';
import type { ReadRecord } from '../../../../adapters/kafka/topic-reader.js';
import { jsonValueCodec } from '../../../../adapters/kafka/value-codecs.js';
import { ConfigError, DecodeError, ProgrammerError } from '../../../../core/errors.js';
import type { Sink, SinkMessage } from '../../../../core/io.js';

/** An in-memory append-only log standing in for a compacted topic: what was written, in order, read back whole. */
function memoryLog(): {
  log: SinkMessage<Uint8Array | null>[];
  writes: number;
  sink: Sink<Uint8Array | null>;
  read(topic: string): (on: (r: ReadRecord) => void) => Promise<void>;
} {
  const state = {
    log: [] as SinkMessage<Uint8Array | null>[],
    writes: 0,
    sink: {
      name: 'log',
      write(messages: readonly SinkMessage<Uint8Array | null>[]) {
        state.writes++;
        state.log.push(...messages);
      },
      close: async () => {},
    } as Sink<Uint8Array | null>,
    read: (topic: string) => async (on: (r: ReadRecord) => void) => {
      const records = state.log.filter((m) => m.destination === topic);
      records.forEach((m, i) => {
        on({
          partition: 0,
          offset: String(i),
          key: m.key,
          value: m.value === null ? null : Buffer.from(m.value),
          headers: {},
        });
      });
    },
  };
  return state;
}

function store<V>(log: ReturnType<typeof memoryLog>, name: string, topic = `${name}-changelog`): ChangelogStore<V> {
  return createChangelogStore<V>({ name, topic, codec: jsonValueCodec<V>(), sink: log.sink, read: log.read(topic) });
}

describe('changelog store', () => {
  it('writes only changed keys on flush, as they are at flush time, and a tombstone for a delete', async () => {
    const log = memoryLog();
    const s = store<{ n: number }>(log, 'counts');
    s.put('a', { n: 1 });
    s.put('b', { n: 2 });
    s.put('a', { n: 3 });
    await s.flush();
    expect(log.log.map((m) => [m.key, m.value === null ? null : Buffer.from(m.value).toString()])).toEqual([
      ['a', '{"n":3}'],
      ['b', '{"n":2}'],
    ]);
    await s.flush();
    expect(log.writes).toBe(1);
    s.delete('b');
    s.delete('never');
    s.put('c', { n: 4 });
    const changes = s.takeChanges();
    expect(changes.map((m) => [m.key, m.value === null])).toEqual([
      ['b', true],
      ['never', true],
      ['c', false],
    ]);
    expect(s.takeChanges()).toEqual([]);
    expect([...s.keys()]).toEqual(['a', 'c']);
    expect(s.size).toBe(2);
  });

  it('restores the latest value per key, drops tombstoned keys, and keeps the checkpoint apart', async () => {
    const log = memoryLog();
    const first = store<{ hashes: bigint[] }>(log, 'policy:x');
    first.put('state', { hashes: [1n, -(2n ** 63n)] });
    first.put('gone', { hashes: [] });
    await first.flush();
    first.delete('gone');
    first.put('state', { hashes: [2n ** 63n - 1n] });
    await first.flush();
    await log.sink.write([checkpointRecord('policy:x-changelog', { in: { '0': '17' } })]);
    const second = store<{ hashes: bigint[] }>(log, 'policy:x');
    second.put('stale', { hashes: [] });
    await second.restore();
    expect([...second.entries()]).toEqual([['state', { hashes: [2n ** 63n - 1n] }]]);
    expect(second.checkpoint).toEqual({ in: { '0': '17' } });
    expect(second.restoredRecords).toBe(5);
    expect(second.takeChanges()).toEqual([]);
    expect(() => second.put(CHECKPOINT_KEY, { hashes: [] })).toThrow(ProgrammerError);
  });

  it('fails the restore with a DecodeError naming the key when a value does not decode', async () => {
    const log = memoryLog();
    await log.sink.write([{ destination: 'bad-changelog', key: 'k', value: Buffer.from('{not json') }]);
    const s = store(log, 'bad');
    await expect(s.restore()).rejects.toThrow(DecodeError);
    await expect(s.restore()).rejects.toThrow(/key "k"/);
  });

  it('validates its options', () => {
    const log = memoryLog();
    expect(() =>
      createChangelogStore({ name: '', topic: 't', codec: jsonValueCodec(), sink: log.sink, read: log.read('t') }),
    ).toThrow(ConfigError);
    expect(() => createChangelogStore({ name: 'n', topic: 't', codec: jsonValueCodec(), sink: log.sink })).toThrow(
      /brokers/,
    );
    expect(() => createChangelogStore({ name: 'n', topic: 't', codec: {} as never, brokers: ['b:1'] })).toThrow(
      /codec/,
    );
  });
});

describe('checkpoints', () => {
  it('round-trip and ignore malformed positions', () => {
    expect(decodeCheckpoint(encodeCheckpoint({ t: { '0': '5', '3': '18446744073709551615' } }))).toEqual({
      t: { '0': '5', '3': '18446744073709551615' },
    });
    expect(decodeCheckpoint(Buffer.from('{"positions":{"t":{"0":"x","1":"4","a":"3"},"u":7}}'))).toEqual({
      t: { '1': '4' },
    });
    expect(() => decodeCheckpoint(Buffer.from('nope'))).toThrow(DecodeError);
    expect(() => decodeCheckpoint(Buffer.from('{}'))).toThrow(DecodeError);
  });

  it('agree on the lowest position of the partitions every checkpoint names', () => {
    expect(commonCheckpoint([{ a: { '0': '10', '1': '5' }, b: { '0': '3' } }, { a: { '0': '8', '1': '5' } }])).toEqual({
      a: { '0': '8', '1': '5' },
    });
    expect(commonCheckpoint([])).toEqual({});
  });
});

describe('changelog committer', () => {
  it("writes all stores' changes and one checkpoint per store in one write, only when state changed", async () => {
    const log = memoryLog();
    const a = store<number>(log, 'a');
    const b = store<number>(log, 'b');
    const committer = createChangelogCommitter({ stores: [a, b], sink: log.sink });
    a.put('x', 1);
    await committer.commit({ topic: 'in', partition: 0, nextOffset: '4' });
    expect(log.writes).toBe(1);
    expect(log.log.map((m) => `${m.destination}:${m.key === CHECKPOINT_KEY ? 'checkpoint' : m.key}`)).toEqual([
      'a-changelog:x',
      'a-changelog:checkpoint',
      'b-changelog:checkpoint',
    ]);
    await committer.commit({ topic: 'in', partition: 1, nextOffset: '9' });
    expect(log.writes).toBe(1);
    expect(committer.processedBelow('in', 1)).toBe('9');
    b.put('y', 2);
    await committer.commit({ topic: 'in', partition: 0, nextOffset: '6' });
    expect(log.writes).toBe(2);
    expect(committer.positions()).toEqual({ in: { '0': '6', '1': '9' } });
    expect(committer.stats).toEqual({ writes: 2, records: 6 });

    const a2 = store<number>(log, 'a');
    const b2 = store<number>(log, 'b');
    await Promise.all([a2.restore(), b2.restore()]);
    const next = createChangelogCommitter({ stores: [a2, b2], sink: log.sink });
    expect(next.processedBelow('in', 0)).toBeUndefined();
    next.restored();
    expect(next.positions()).toEqual({ in: { '0': '6', '1': '9' } });
    expect(next.processedBelow('in', 0)).toBe('6');
    expect([...a2.entries()]).toEqual([['x', 1]]);
    expect([...b2.entries()]).toEqual([['y', 2]]);
  });

  it('trusts no checkpoint when a store holds data without one; ignores empty stores', async () => {
    const log = memoryLog();
    const a = store<number>(log, 'a');
    const empty = store<number>(log, 'empty');
    await log.sink.write([checkpointRecord('a-changelog', { in: { '0': '3' } })]);
    await Promise.all([a.restore(), empty.restore()]);
    expect(restoredPosition([a, empty])).toEqual({ in: { '0': '3' } });
    const plain = store<number>(log, 'plain');
    plain.put('k', 1);
    await plain.flush();
    await plain.restore();
    expect(restoredPosition([a, plain])).toEqual({});
  });
});
