import { describe, expect, it } from 'vitest';
import { createCacheSagePolicy } from '../../../policies/cachesage/cachesage-policy.js';
import { installSharedCounts } from '../../../policies/cachesage/shared-model.js';
import type { CacheSageState } from '../../../policies/cachesage/state.js';
import { END, evidenceOf, firstOrderP, observeTransition } from '../../../policies/cachesage/transition-model.js';

describe('installSharedCounts', () => {
  it("makes a workload's first-order counts equal the shared sums, END included, agents interned", () => {
    const state = createCacheSagePolicy().createState() as CacheSageState;
    const agents = ['Planner', 'Coder'];
    // from Planner: 3 → Coder, 1 → END; from Coder: 2 → Planner; END row empty
    installSharedCounts(state, 'w', agents, [0, 3, 1, 2, 0, 0, 0, 0, 0]);
    const m = state.workloads.get('w')!.model;
    expect(m.agents).toEqual(['Planner', 'Coder']);
    expect(evidenceOf(m, 0)).toBe(4);
    expect(evidenceOf(m, 1)).toBe(2);
    const a = m.options.firstOrderPrior;
    expect(firstOrderP(m, 0, 1, 0.5)).toBeCloseTo((3 + a * 0.5) / (4 + a), 12);
    expect(firstOrderP(m, 0, END, 0.25)).toBeCloseTo((1 + a * 0.25) / (4 + a), 12);
    expect(firstOrderP(m, 1, 0, 0.5)).toBeCloseTo((2 + a * 0.5) / (2 + a), 12);
  });

  it('replaces counts the policy learned itself and keeps agent indices it already had', () => {
    const state = createCacheSagePolicy().createState() as CacheSageState;
    installSharedCounts(state, 'w', ['Critic'], [0, 0, 0, 0]);
    const m = state.workloads.get('w')!.model;
    observeTransition(m, null, 0, 0);
    installSharedCounts(state, 'w', ['Coder', 'Critic'], [0, 5, 0, 0, 0, 0, 0, 0, 0]);
    expect(m.agents).toEqual(['Critic', 'Coder']);
    expect(evidenceOf(m, 0)).toBe(0);
    expect(evidenceOf(m, 1)).toBe(5);
    expect(m.first.get(1)?.get(0)).toBe(5);
  });

  it('refuses a matrix of the wrong size', () => {
    const state = createCacheSagePolicy().createState() as CacheSageState;
    expect(() => installSharedCounts(state, 'w', ['A', 'B'], [1, 2, 3])).toThrow(/cells/);
  });
});
