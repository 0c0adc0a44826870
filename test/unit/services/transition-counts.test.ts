import { describe, expect, it } from 'vitest';
import {
  addTransition,
  countOf,
  END_AGENT,
  emptyModelUpdate,
  internAgent,
  modelKey,
  sumCounts,
} from '../../../services/processor/transition-counts.js';

describe('transition counts (ModelUpdate layout)', () => {
  it('keys counts by workload and source partition', () => {
    expect(modelKey('chatdev', 3)).toBe('chatdev:3');
  });

  it('grows the (agents + END)² matrix as agents appear, keeping every count and END last', () => {
    const u = emptyModelUpdate('w', 0);
    addTransition(u, 'A', 'B');
    addTransition(u, 'B', END_AGENT);
    expect(u.agents).toEqual(['A', 'B']);
    expect(u.counts).toEqual([0, 1, 0, 0, 0, 1, 0, 0, 0]);
    addTransition(u, 'B', 'C');
    addTransition(u, 'A', 'B');
    expect(u.agents).toEqual(['A', 'B', 'C']);
    expect(u.counts).toHaveLength(16);
    const summed = sumCounts([u]);
    expect(countOf(summed, 'A', 'B')).toBe(2);
    expect(countOf(summed, 'B', END_AGENT)).toBe(1);
    expect(countOf(summed, 'B', 'C')).toBe(1);
    expect(countOf(summed, 'C', 'A')).toBe(0);
    expect(internAgent(u, 'B')).toBe(1);
  });

  it('sums partitions whose agents come in different orders', () => {
    const p0 = emptyModelUpdate('w', 0);
    addTransition(p0, 'A', 'B');
    addTransition(p0, 'B', 'A');
    const p1 = emptyModelUpdate('w', 1);
    addTransition(p1, 'B', 'C');
    addTransition(p1, 'A', 'B');
    addTransition(p1, 'C', END_AGENT);
    const summed = sumCounts([p0, p1]);
    expect(summed.agents).toEqual(['A', 'B', 'C']);
    expect(summed.counts).toHaveLength(16);
    expect(countOf(summed, 'A', 'B')).toBe(2);
    expect(countOf(summed, 'B', 'A')).toBe(1);
    expect(countOf(summed, 'B', 'C')).toBe(1);
    expect(countOf(summed, 'C', END_AGENT)).toBe(1);
    expect(summed.counts.reduce((a, b) => a + b, 0)).toBe(5);
  });
});
