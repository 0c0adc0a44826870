import { createCacheSagePolicy } from './cachesage/cachesage-policy.js';
import type { CacheSageOptions } from './cachesage/options.js';
import { type ContinuumOptions, createContinuumPolicy } from './continuum.js';
import { createKvflowPolicy, type KvflowOptions } from './kvflow.js';
import { createLruPolicy } from './lru.js';
import type { PolicyFactory } from './policy.js';
import { type PolicyRegistry, policyRegistry } from './registry.js';

export { cacheSageModelBytesPerWorkload, createCacheSagePolicy } from './cachesage/cachesage-policy.js';
export { type ContinuumOptions, type ContinuumState, createContinuumPolicy } from './continuum.js';
export { createKvflowPolicy, KVFLOW_UNREACHABLE_PRIORITY, type KvflowOptions, type KvflowState } from './kvflow.js';
export { createLruPolicy } from './lru.js';
export type { Policy, PolicyFactory } from './policy.js';
export { createPolicy, listPolicies, policyRegistry, registerPolicy } from './registry.js';

/** Names of the policies that run behind the Policy interface, in report order. */
export const BUILTIN_POLICIES = ['lru', 'cachesage', 'kvflow', 'continuum'] as const;
export type BuiltinPolicy = (typeof BUILTIN_POLICIES)[number];

/**
 * Registers every built-in policy (`lru`, `cachesage`, `kvflow`, `continuum`) in `registry` (default: the
 * process-wide one), skipping names already there, so calling it twice is harmless. Belady is not a policy: it is
 * the simulator's clairvoyant evictor.
 */
export function registerBuiltinPolicies(registry: PolicyRegistry = policyRegistry): void {
  const add = <O>(name: BuiltinPolicy, factory: PolicyFactory<O>): void => {
    if (!registry.has(name)) registry.register<O>(name, factory);
  };
  add('lru', () => createLruPolicy());
  add<Partial<CacheSageOptions>>('cachesage', (o) => createCacheSagePolicy(o ?? {}));
  add<Partial<KvflowOptions>>('kvflow', (o) => createKvflowPolicy(o ?? {}));
  add<Partial<ContinuumOptions>>('continuum', (o) => createContinuumPolicy(o ?? {}));
}

registerBuiltinPolicies();
