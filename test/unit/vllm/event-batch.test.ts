import { describe, expect, it } from 'vitest';
import { decodeEventBatch, type VllmEvent } from '../../../adapters/vllm/event-batch.js';
import { decodeSeq, encodeSeq, parseKvMessage } from '../../../adapters/vllm/zmq-message.js';
import { DecodeError } from '../../../core/errors.js';
import { type ExpectedEvent, loadVllmFixtures } from '../../fixtures/vllm/fixtures.js';

function expected(event: ExpectedEvent): VllmEvent | { type: 'unknown'; tag: string } {
  switch (event.type) {
    case 'BlockStored':
      return {
        type: 'BlockStored',
        blockHashes: event.blockHashes.map(BigInt),
        parentBlockHash: event.parentBlockHash === null ? null : BigInt(event.parentBlockHash),
        tokenIds: event.tokenIds,
        blockSize: event.blockSize,
        loraId: event.loraId,
        medium: event.medium,
        loraName: null,
        groupIdx: event.groupIdx,
      };
    case 'BlockRemoved':
      return {
        type: 'BlockRemoved',
        blockHashes: event.blockHashes.map(BigInt),
        medium: event.medium,
        groupIdx: event.groupIdx,
      };
    case 'AllBlocksCleared':
      return { type: 'AllBlocksCleared' };
    case 'unknown':
      return { type: 'unknown', tag: event.tag };
  }
}

describe('vLLM KV-event decoding (fixtures from make-fixtures.py)', () => {
  const fixtures = loadVllmFixtures();

  it('has the fixtures the generator writes', () => {
    expect(fixtures.map((f) => f.seq)).toEqual(fixtures.map((_, i) => i));
    expect(fixtures.length).toBeGreaterThanOrEqual(14);
  });

  for (const fx of fixtures) {
    it(`${fx.name}: ${fx.note}`, () => {
      if (fx.expect.error === 'frames') {
        expect(() => parseKvMessage(fx.parts)).toThrow(DecodeError);
        return;
      }
      const message = parseKvMessage(fx.parts);
      expect(message.seq).toBe(fx.seq);
      expect(message.topic).toBe(fx.topic);
      if (fx.expect.error === 'payload') {
        expect(() => decodeEventBatch(message.payload)).toThrow(DecodeError);
        return;
      }
      const batch = decodeEventBatch(message.payload);
      expect(batch.ts).toBe(fx.expect.ts);
      expect(batch.dpRank).toBe(fx.expect.dpRank);
      const events = batch.events.map((e) => (e.type === 'unknown' ? { type: e.type, tag: e.tag } : e));
      expect(events).toEqual((fx.expect.events ?? []).map(expected));
    });
  }

  it('keeps uint64 hashes above 2^53 exact', () => {
    const batch = decodeEventBatch(parseKvMessage(fixtures[0]!.parts).payload);
    const stored = batch.events[0];
    expect(stored?.type).toBe('BlockStored');
    if (stored?.type !== 'BlockStored') return;
    expect(stored.blockHashes[0]).toBe(0xfedcba9876543210n);
    expect(stored.blockHashes[1]).toBe(0xdeadbeefn);
  });

  it('turns one malformed event into an invalid entry and keeps its neighbours', async () => {
    const { Packr } = await import('msgpackr');
    const packr = new Packr({ useRecords: false });
    const payload = packr.pack([1.5, [['BlockStored', 'not-a-list', null, [], 16], ['AllBlocksCleared']], 0]);
    const batch = decodeEventBatch(payload);
    expect(batch.events[0]).toMatchObject({ type: 'invalid', tag: 'BlockStored' });
    expect(batch.events[1]).toEqual({ type: 'AllBlocksCleared' });
  });

  it('rejects payloads that are not a batch', async () => {
    const { Packr } = await import('msgpackr');
    const packr = new Packr({ useRecords: false });
    expect(() => decodeEventBatch(packr.pack('hello'))).toThrow(/expected an array or a map/);
    expect(() => decodeEventBatch(packr.pack([1, 'x']))).toThrow(/events/);
    expect(() => decodeEventBatch(packr.pack(['x', []]))).toThrow(/ts/);
    expect(() => decodeEventBatch(new Uint8Array(0))).toThrow(DecodeError);
  });

  it('round-trips 8-byte big-endian sequence numbers, including the replay end marker', () => {
    expect(decodeSeq(encodeSeq(0))).toBe(0);
    expect(decodeSeq(encodeSeq(2 ** 40 + 3))).toBe(2 ** 40 + 3);
    expect(decodeSeq(encodeSeq(-1))).toBe(-1);
    expect([...encodeSeq(258)]).toEqual([0, 0, 0, 0, 0, 0, 1, 2]);
    expect(() => decodeSeq(new Uint8Array(4))).toThrow(DecodeError);
  });
});
