import { describe, expect, it } from 'vitest';
import { createBatchLedger } from '../../../../adapters/kafka/batch-ledger.js';
import { maxOffset, nextOffset, parseOffset } from '../../../../adapters/kafka/offsets.js';
import { ConfigError, ProgrammerError } from '../../../../core/errors.js';

const messages = (...offsets: string[]) => offsets.map((offset) => ({ offset }));

describe('offsets', () => {
  it('are decimal strings compared as bigints, beyond 2^53', () => {
    expect(nextOffset('9007199254740993')).toBe('9007199254740994');
    expect(maxOffset('10', '9')).toBe('10');
    expect(maxOffset(undefined, '3')).toBe('3');
    expect(maxOffset('3', undefined)).toBe('3');
    expect(() => parseOffset('-1')).toThrow(ProgrammerError);
    expect(() => parseOffset('01')).toThrow(ProgrammerError);
  });
});

describe('batch ledger', () => {
  it('pauses when the in-flight limit is reached and resumes once a batch settles', () => {
    const ledger = createBatchLedger({ maxInFlightBatches: 2 });
    expect(ledger.open()).toBeUndefined();
    expect(ledger.open()).toBe('pause');
    expect(ledger.paused).toBe(true);
    expect(ledger.open()).toBeUndefined();
    expect(ledger.inFlight).toBe(3);
    expect(ledger.settle()).toBeUndefined();
    expect(ledger.settle()).toBe('resume');
    expect(ledger.paused).toBe(false);
    expect(ledger.settle()).toBeUndefined();
    expect(ledger.settle()).toBeUndefined();
    expect(ledger.inFlight).toBe(0);
    expect(ledger.open()).toBeUndefined();
  });

  it('with a limit of one, pauses on every batch', () => {
    const ledger = createBatchLedger({ maxInFlightBatches: 1 });
    expect(ledger.open()).toBe('pause');
    expect(ledger.settle()).toBe('resume');
    expect(ledger.open()).toBe('pause');
  });

  it('drops messages below the processed position or the floor, per partition', () => {
    const ledger = createBatchLedger({ maxInFlightBatches: 4 });
    const batch = messages('5', '6', '7', '8');
    expect(ledger.unprocessed('t', 0, batch)).toEqual(batch);
    ledger.markProcessed('t', 0, '7');
    ledger.markProcessed('t', 0, '6');
    expect(ledger.processedNext('t', 0)).toBe('7');
    expect(ledger.unprocessed('t', 0, batch)).toEqual(messages('7', '8'));
    expect(ledger.unprocessed('t', 1, batch)).toEqual(batch);
    expect(ledger.unprocessed('u', 0, batch)).toEqual(batch);
    expect(ledger.unprocessed('t', 0, batch, '8')).toEqual(messages('8'));
    expect(ledger.unprocessed('t', 0, batch, '2')).toEqual(messages('7', '8'));
    expect(ledger.unprocessed('t', 1, batch, '9')).toEqual([]);
  });

  it('refuses a limit below one', () => {
    expect(() => createBatchLedger({ maxInFlightBatches: 0 })).toThrow(ConfigError);
    expect(() => createBatchLedger({ maxInFlightBatches: 1.5 })).toThrow(ConfigError);
  });
});
