import { describe, expect, it } from 'vitest';
import { EngineHashMap } from '../../../adapters/vllm/engine-hash-map.js';
import { createKvEventTranslator, type Translation } from '../../../adapters/vllm/translate.js';
import { parseKvMessage } from '../../../adapters/vllm/zmq-message.js';
import { blockHashes, hashBlock } from '../../../schemas/block-hash.js';
import { fixture, loadVllmFixtures } from '../../fixtures/vllm/fixtures.js';

const ENDPOINT = 'tcp://127.0.0.1:5557';
const NOW = 1_767_225_700_000;

function storedTokens(name: string, index = 0): number[] {
  const event = fixture(name).expect.events?.[index];
  if (event?.type !== 'BlockStored') throw new Error(`${name} has no BlockStored at ${index}`);
  return event.tokenIds;
}

function run(): Map<string, Translation> {
  const hashMap = new EngineHashMap({ capacity: 1000 });
  const translator = createKvEventTranslator({ engineId: 'engine-a', endpoint: ENDPOINT, hashMap });
  const out = new Map<string, Translation>();
  for (const fx of loadVllmFixtures()) {
    let translation: Translation;
    try {
      translation = translator.translate(parseKvMessage(fx.parts), NOW);
    } catch (err) {
      translation = translator.rejectMessage(fx.parts, err, NOW, fx.seq);
    }
    out.set(fx.name, translation);
  }
  return out;
}

describe('KvEvent translation: engine hashes mapped into the layer hash space', () => {
  const results = run();
  const get = (name: string) => results.get(name)!;
  const root = blockHashes(storedTokens('00-stored-root'));

  it('maps blocks stored from the root to the layer hashes of their tokens', () => {
    const [event] = get('00-stored-root').kvEvents;
    expect(event).toMatchObject({
      eventId: 'engine-a:0:0',
      engineId: 'engine-a',
      seq: 0,
      ts: 1_767_225_600_250,
      producedAt: NOW,
      kind: 'BLOCK_STORED',
      parentHash: null,
      medium: 'GPU',
    });
    expect(event?.blockHashes).toEqual(root);
    expect(event?.tokenIds).toEqual(storedTokens('00-stored-root'));
    expect(root).toHaveLength(2);
  });

  it('chains a child after the mapped hash of its engine parent', () => {
    const [event] = get('01-stored-child-extra').kvEvents;
    const child = hashBlock(root[1]!, storedTokens('01-stored-child-extra'));
    expect(event?.parentHash).toBe(root[1]);
    expect(event?.blockHashes).toEqual([child]);
    expect(get('02-removed').kvEvents[0]).toMatchObject({ kind: 'BLOCK_REMOVED', blockHashes: [child], seq: 2 });
  });

  it('reads the first release layout (no medium: GPU) and the map layout (CPU)', () => {
    const legacy = get('03-legacy').kvEvents;
    const legacyHash = hashBlock(root[1]!, storedTokens('03-legacy'));
    expect(legacy.map((e) => [e.kind, e.medium, e.blockHashes])).toEqual([
      ['BLOCK_STORED', 'GPU', [legacyHash]],
      ['BLOCK_REMOVED', 'GPU', [legacyHash]],
    ]);
    const mapped = get('04-map').kvEvents;
    const mapHash = hashBlock(root[0]!, storedTokens('04-map'));
    expect(mapped.map((e) => [e.kind, e.medium, e.parentHash, e.blockHashes, e.eventId])).toEqual([
      ['BLOCK_STORED', 'CPU', root[0], [mapHash], 'engine-a:4:0'],
      ['BLOCK_REMOVED', 'CPU', null, [mapHash], 'engine-a:4:1'],
    ]);
  });

  it('passes AllBlocksCleared through', () => {
    expect(get('05-cleared').kvEvents).toEqual([
      expect.objectContaining({ kind: 'ALL_CLEARED', blockHashes: [], seq: 5, eventId: 'engine-a:5:0' }),
    ]);
  });

  it('splits a 32-token engine block into two layer blocks, for storing and removing', () => {
    const wide = blockHashes(storedTokens('06-wide-block'));
    expect(wide).toHaveLength(2);
    expect(get('06-wide-block').kvEvents.map((e) => e.blockHashes)).toEqual([wide, wide]);
  });

  it('dead-letters a payload that is not msgpack, with its origin and raw bytes', () => {
    const t = get('07-garbage');
    expect(t.kvEvents).toEqual([]);
    expect(t.issues).toEqual(['bad-payload']);
    expect(t.deadLetters).toHaveLength(1);
    expect(t.deadLetters[0]).toMatchObject({
      originTopic: `vllm:${ENDPOINT}`,
      originPartition: 0,
      originOffset: '7',
      stage: 'vllm-bridge',
      failedAt: NOW,
      key: 'engine-a',
    });
    expect(Buffer.from(t.deadLetters[0]!.payload)).toEqual(fixture('07-garbage').parts[2]);
  });

  it('dead-letters an unknown tag and still applies the known event beside it', () => {
    const t = get('08-unknown-tag');
    expect(t.issues).toEqual(['unknown-tag']);
    expect(t.deadLetters[0]?.reason).toMatch(/unknown-tag: event 0: .*BlockTouched/);
    expect(t.kvEvents).toEqual([
      expect.objectContaining({ kind: 'BLOCK_REMOVED', blockHashes: [root[0]], eventId: 'engine-a:8:1' }),
    ]);
  });

  it('dead-letters a child of an unknown parent and a token count that does not fit', () => {
    expect(get('09-unknown-parent').issues).toEqual(['unmapped-parent']);
    expect(get('09-unknown-parent').deadLetters[0]?.originOffset).toBe('9');
    expect(get('09-unknown-parent').kvEvents).toEqual([]);
    expect(get('10-bad-token-count').issues).toEqual(['token-count-mismatch']);
    expect(get('10-bad-token-count').deadLetters[0]?.reason).toMatch(/20 token ids for 1 blocks of 16/);
  });

  it('accepts a hash sent as digest bytes', () => {
    expect(get('11-bytes-hash').kvEvents[0]?.blockHashes).toEqual(blockHashes(storedTokens('11-bytes-hash')));
  });

  it('dead-letters a message without three parts', () => {
    const t = get('12-short-message');
    expect(t.issues).toEqual(['bad-frames']);
    expect(t.deadLetters[0]?.reason).toMatch(/2 parts/);
  });

  it('counts events of another KV-cache group without publishing them', () => {
    expect(get('13-dp-rank')).toEqual({ kvEvents: [], deadLetters: [], issues: ['other-group'] });
  });

  it('maps a CPU-tier store without token ids through hashes it already knows, counting the others', () => {
    const t = get('14-offloaded-store');
    expect(t.kvEvents).toEqual([
      expect.objectContaining({
        kind: 'BLOCK_STORED',
        medium: 'CPU',
        blockHashes: [root[0]],
        parentHash: null,
        tokenIds: [],
      }),
    ]);
    expect(t.issues).toEqual(['unmapped-stored']);
    expect(t.deadLetters).toEqual([]);
  });

  it('counts removals of hashes it never saw', () => {
    const translator = createKvEventTranslator({
      engineId: 'e',
      endpoint: ENDPOINT,
      hashMap: new EngineHashMap(),
    });
    const t = translator.translate(parseKvMessage(fixture('02-removed').parts), NOW);
    expect(t).toEqual({ kvEvents: [], deadLetters: [], issues: ['unmapped-removed'] });
  });
});

describe('EngineHashMap', () => {
  it('forgets the least recently used engine hash beyond its capacity', () => {
    const map = new EngineHashMap({ capacity: 2 });
    map.set(1n, [11n]);
    map.set(2n, [22n]);
    expect(map.get(1n)).toEqual([11n]);
    map.set(3n, [33n, 34n]);
    expect(map.has(2n)).toBe(false);
    expect(map.get(1n)).toEqual([11n]);
    expect(map.tail(3n)).toBe(34n);
    expect(map.size).toBe(2);
  });

  it('validates its capacity', () => {
    expect(() => new EngineHashMap({ capacity: 0 })).toThrow(/capacity/);
  });
});
