import { CacheSageError, ConfigError, ProgrammerError } from '../core/errors.js';
import type { Policy, PolicyFactory } from './policy.js';

const NAME = /^[a-z][a-z0-9-]*$/;

/** Policies by name: the runtime and the CLI create policies from names found in options and configs. */
export interface PolicyRegistry {
  /** Refuses a name already registered (`DUPLICATE_NAME`) and names that are not lower-case ids. */
  register<O>(name: string, factory: PolicyFactory<O>): void;
  /** A new policy instance; an unknown name is a `ConfigError` listing the known ones. */
  create(name: string, options?: unknown): Policy;
  has(name: string): boolean;
  /** Registered names, sorted. */
  list(): string[];
  unregister(name: string): boolean;
}

export function createPolicyRegistry(): PolicyRegistry {
  const factories = new Map<string, PolicyFactory<unknown>>();
  return {
    register(name, factory) {
      if (typeof name !== 'string' || !NAME.test(name))
        throw new ConfigError(`policy name ${JSON.stringify(name)} is not a lower-case id`);
      if (typeof factory !== 'function') throw new ConfigError(`policy ${name}: factory is not a function`);
      if (factories.has(name)) throw new CacheSageError('DUPLICATE_NAME', `policy ${name} is already registered`);
      factories.set(name, factory as PolicyFactory<unknown>);
    },
    create(name, options) {
      const factory = factories.get(name);
      if (factory === undefined) {
        const known = [...factories.keys()].sort();
        throw new ConfigError(
          `unknown policy ${JSON.stringify(name)}; known: ${known.length > 0 ? known.join(', ') : '(none)'}`,
          {
            details: { known },
          },
        );
      }
      const policy = factory(options);
      if (policy?.name !== name) {
        throw new ProgrammerError(`policy factory registered as ${name} built a policy named ${String(policy?.name)}`);
      }
      return policy;
    },
    has: (name) => factories.has(name),
    list: () => [...factories.keys()].sort(),
    unregister: (name) => factories.delete(name),
  };
}

/** The process-wide registry behind `registerPolicy` / `createPolicy` / `listPolicies`. */
export const policyRegistry: PolicyRegistry = createPolicyRegistry();

export function registerPolicy<O>(name: string, factory: PolicyFactory<O>): void {
  policyRegistry.register(name, factory);
}

export function createPolicy(name: string, options?: unknown): Policy {
  return policyRegistry.create(name, options);
}

export function listPolicies(): string[] {
  return policyRegistry.list();
}
