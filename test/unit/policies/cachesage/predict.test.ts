import { describe, expect, it } from 'vitest';
import { resolveCacheSageOptions } from '../../../../policies/cachesage/options.js';
import { nextAgentDistribution } from '../../../../policies/cachesage/predict.js';
import { workloadOf } from '../../../../policies/cachesage/state.js';
import { CacheSageDriver } from './driver.js';

/** Ten sessions that go A → B → A → B, then one that went A → C → A: who speaks after its A? */
function topAfterOwnHistory(options: { sessionPrior: number; nextAgentPrior: number }): string | undefined {
  const d = new CacheSageDriver(options);
  for (let s = 0; s < 10; s++) for (const a of ['A', 'B', 'A', 'B']) d.step(`s${s}`, a);
  for (const a of ['A', 'C', 'A']) d.step('x', a);
  const session = d.state.sessions.get('x');
  if (session === undefined) throw new Error('session x is missing');
  const { next } = nextAgentDistribution(workloadOf(d.state, 'w1'), session, d.state.options, 3);
  return next[0]?.agentId;
}

describe('next-agent distribution', () => {
  it("weighs the workload chain against the session's own counts by nextAgentPrior, not by sessionPrior", () => {
    expect(topAfterOwnHistory({ sessionPrior: 100, nextAgentPrior: 0.05 })).toBe('C');
    expect(topAfterOwnHistory({ sessionPrior: 0.05, nextAgentPrior: 100 })).toBe('B');
  });

  it('rejects a weight that is not positive', () => {
    expect(() => resolveCacheSageOptions({ nextAgentPrior: 0 })).toThrow(/nextAgentPrior must be > 0/);
  });
});
