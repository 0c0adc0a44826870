import { describe, expect, it } from 'vitest';
import { SequenceTracker } from '../../../adapters/vllm/sequence-tracker.js';

describe('SequenceTracker', () => {
  it('accepts the first number, then expects consecutive ones', () => {
    const t = new SequenceTracker();
    expect(t.classify(41)).toEqual({ kind: 'first' });
    t.applied(41);
    expect(t.classify(42)).toEqual({ kind: 'next' });
    t.applied(42);
    expect(t.expected).toBe(43);
  });

  it('reports the skipped range of a gap', () => {
    const t = new SequenceTracker();
    t.applied(2);
    expect(t.classify(6)).toEqual({ kind: 'gap', from: 3, to: 6 });
  });

  it('reads a lower number on the live stream as a publisher restart', () => {
    const t = new SequenceTracker();
    t.applied(99);
    expect(t.classify(0)).toEqual({ kind: 'restart', expected: 100 });
    t.reset();
    expect(t.classify(0)).toEqual({ kind: 'first' });
  });
});
