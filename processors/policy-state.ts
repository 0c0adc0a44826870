import type { Store } from '../core/io.js';
import type { Policy } from '../policies/policy.js';

/**
 * Where a policy's state lives: store `policy:<name>`, one state value under the fixed key `POLICY_STATE_KEY`. A
 * policy that needs per-engine or per-workload state keeps that structure inside its state value; the runtime
 * stays out of it. One state per store keeps restore trivial: the store's changelog holds one entry per policy.
 */
export const POLICY_STATE_KEY = 'state';

export function policyStoreName(policyName: string): string {
  return `policy:${policyName}`;
}

/** A policy and the store holding its state, as handed to the observe and decide stages. */
export interface PolicyBinding {
  policy: Policy<unknown>;
  store: Store<unknown>;
}

/** The policy's state, created (and put) on first use. */
export function stateOf(binding: PolicyBinding): unknown {
  const existing = binding.store.get(POLICY_STATE_KEY);
  if (existing !== undefined) return existing;
  const created = binding.policy.createState();
  binding.store.put(POLICY_STATE_KEY, created);
  return created;
}
