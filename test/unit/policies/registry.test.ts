import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/errors.js';
import {
  createPolicy,
  createPolicyRegistry,
  listPolicies,
  policyRegistry,
  registerPolicy,
} from '../../../policies/registry.js';
import { createEchoPolicy, type EchoOptions } from '../../support/echo-policy.js';

describe('policy registry', () => {
  afterEach(() => {
    policyRegistry.unregister('echo');
  });

  it('creates registered policies by name with their options', () => {
    registerPolicy('echo', (options?: EchoOptions) => createEchoPolicy(options));
    expect(listPolicies()).toContain('echo');
    const policy = createPolicy('echo', { ttlMs: 42 });
    expect(policy.name).toBe('echo');
    const act = policy.act(policy.createState(), {
      point: { engineId: 'e', sessionId: 's', now: 0 },
      scores: { engineId: 'e', now: 0, changed: [] },
      prediction: null,
      cause: {
        type: 'request',
        event: {
          eventId: 'x',
          requestId: 'r',
          engineId: 'e',
          workloadId: 'w',
          sessionId: 's',
          agentId: 'a',
          phase: 'FINISHED',
          ts: 0,
          producedAt: 0,
          promptTokens: 16,
          cachedTokens: 0,
          blockHashes: [1n],
          outputBlockHashes: [],
          outputTokens: 1,
          toolCall: null,
        },
      },
    });
    expect(act).toEqual([{ kind: 'pin', ttlMs: 42, pinTtlMs: 500, blockHashes: [1n] }]);
  });

  it('refuses unknown names listing the known ones, duplicates and bad names', () => {
    const registry = createPolicyRegistry();
    registry.register('lru', (o?: EchoOptions) => createEchoPolicy({ ...o, name: 'lru' }));
    registry.register('cachesage', () => createEchoPolicy({ name: 'cachesage' }));
    expect(registry.list()).toEqual(['cachesage', 'lru']);
    expect(() => registry.create('belady')).toThrow(ConfigError);
    expect(() => registry.create('belady')).toThrow('unknown policy "belady"; known: cachesage, lru');
    expect(() => registry.register('lru', () => createEchoPolicy({ name: 'lru' }))).toThrow(
      expect.objectContaining({ code: 'DUPLICATE_NAME' }),
    );
    expect(() => registry.register('Bad Name', () => createEchoPolicy())).toThrow(ConfigError);
    registry.register('mismatch', () => createEchoPolicy());
    expect(() => registry.create('mismatch')).toThrow(/built a policy named echo/);
    expect(() => registry.create('lru', { ttlMs: -1 })).toThrow(/echo: ttlMs/);
    expect(registry.unregister('lru')).toBe(true);
    expect(registry.has('lru')).toBe(false);
  });
});
