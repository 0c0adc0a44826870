import { describe, expect, it } from 'vitest';
import type { Sink, SinkMessage } from '../../../core/io.js';
import { createTableStoreGroup, type TableStore } from '../../../services/processor/table-stores.js';

function recordingSink(): Sink<Uint8Array | null> & { writes: SinkMessage<Uint8Array | null>[][] } {
  const writes: SinkMessage<Uint8Array | null>[][] = [];
  return { name: 'recording', writes, write: (m) => void writes.push([...m]), close: async () => {} };
}

const text = (v: string) => new TextEncoder().encode(v);

describe('table stores', () => {
  it('writes the changes of every store of the group in one write, earlier stores first, tombstones for deletes', async () => {
    const sink = recordingSink();
    const group = createTableStoreGroup({
      sink,
      stores: [
        { name: 'counts', topic: 't.model', encode: (v: string) => text(v) },
        { name: 'positions', topic: 't.sessions', encode: (v: string) => text(v) },
      ] as never,
    });
    const [counts, positions] = group.stores as TableStore<string>[];
    positions!.put('s1', 'B');
    counts!.put('w:0', 'c1');
    positions!.put('s2', 'A');
    positions!.delete('s2');
    await positions!.flush();
    expect(sink.writes).toHaveLength(1);
    expect(
      sink.writes[0]!.map((m) => [m.destination, m.key, m.value === null ? null : new TextDecoder().decode(m.value)]),
    ).toEqual([
      ['t.model', 'w:0', 'c1'],
      ['t.sessions', 's1', 'B'],
      ['t.sessions', 's2', null],
    ]);
    expect(counts!.flush()).toBeUndefined();
    await group.settled();
  });

  it('loads and forgets keys without writing anything', () => {
    const sink = recordingSink();
    const group = createTableStoreGroup({
      sink,
      stores: [{ name: 'positions', topic: 't.sessions', encode: (v: string) => text(v) }] as never,
    });
    const [positions] = group.stores as TableStore<string>[];
    positions!.load('s1', 'A');
    positions!.put('s2', 'B');
    positions!.forget('s2');
    expect(positions!.get('s1')).toBe('A');
    expect(positions!.has('s2')).toBe(false);
    expect(group.flush()).toBeUndefined();
    expect(sink.writes).toHaveLength(0);
  });
});
