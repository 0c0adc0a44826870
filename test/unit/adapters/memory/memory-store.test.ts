import { describe, expect, it } from 'vitest';
import {
  createMemoryChangelog,
  createMemoryStore,
  createMemoryStores,
} from '../../../../adapters/memory/memory-store.js';
import { ConfigError } from '../../../../core/errors.js';

describe('memory store', () => {
  it('is a key/value store whose flush and restore do nothing without a changelog', () => {
    const store = createMemoryStore<number>({ name: 's' });
    store.put('a', 1);
    store.put('b', 2);
    store.delete('a');
    expect(store.has('a')).toBe(false);
    expect(store.get('b')).toBe(2);
    expect(store.size).toBe(1);
    expect([...store.entries()]).toEqual([['b', 2]]);
    store.flush();
    store.restore();
    expect([...store.keys()]).toEqual(['b']);
    expect(() => createMemoryStore({ name: '' })).toThrow(ConfigError);
  });

  it('flushes copies of changed keys to its changelog; a new store restores what was last flushed', () => {
    const changelog = createMemoryChangelog<{ n: number; hashes: bigint[] }>();
    const first = createMemoryStore({ name: 'policy:x', changelog });
    const state = { n: 1, hashes: [1n] };
    first.put('state', state);
    first.put('gone', { n: 0, hashes: [] });
    first.flush();
    state.n = 2;
    state.hashes.push(2n);
    first.put('state', state);
    first.delete('gone');
    expect(changelog.entries.get('state')).toEqual({ n: 1, hashes: [1n] });
    first.flush();
    state.n = 3;
    first.put('state', state);
    const second = createMemoryStore({ name: 'policy:x', changelog });
    second.restore();
    expect(second.get('state')).toEqual({ n: 2, hashes: [1n, 2n] });
    expect(second.has('gone')).toBe(false);
    second.get('state')!.n = 99;
    expect(changelog.entries.get('state')!.n).toBe(2);
  });

  it('creates one store per name and fills a changelog map to restore from later', () => {
    const changelogs = new Map();
    const stores = createMemoryStores(['a', 'b'], { changelogs });
    expect(Object.keys(stores)).toEqual(['a', 'b']);
    stores.a!.put('k', 1);
    stores.a!.flush();
    expect([...changelogs.keys()]).toEqual(['a', 'b']);
    const again = createMemoryStores(['a', 'b'], { changelogs });
    again.a!.restore();
    expect(again.a!.get('k')).toBe(1);
  });
});
