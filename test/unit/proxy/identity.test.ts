import { describe, expect, it } from 'vitest';
import { identityFromHeaders, identityFromUser, resolveIdentity } from '../../../adapters/proxy/identity.js';

describe('agent identity', () => {
  it('reads the x-agent-id / x-session-id / x-workload-id headers', () => {
    expect(identityFromHeaders({ 'x-agent-id': 'Coder', 'x-session-id': 's-1', 'x-workload-id': 'chatdev' })).toEqual({
      agentId: 'Coder',
      sessionId: 's-1',
      workloadId: 'chatdev',
    });
    expect(identityFromHeaders({ 'x-agent-id': ['A', 'B'], 'x-session-id': '  ' })).toEqual({ agentId: 'A' });
  });

  it('reads the user field as workload/session/agent, session/agent or JSON', () => {
    expect(identityFromUser('magentic/task-7/Orchestrator')).toEqual({
      workloadId: 'magentic',
      sessionId: 'task-7',
      agentId: 'Orchestrator',
    });
    expect(identityFromUser('task-7/Coder')).toEqual({ sessionId: 'task-7', agentId: 'Coder' });
    expect(identityFromUser('{"workload":"w","session":"s/1","agent":"a"}')).toEqual({
      workloadId: 'w',
      sessionId: 's/1',
      agentId: 'a',
    });
    expect(identityFromUser('{"sessionId":"s","agentId":"a"}')).toEqual({ sessionId: 's', agentId: 'a' });
    expect(identityFromUser('user-1234')).toEqual({});
    expect(identityFromUser('{not json')).toEqual({});
    expect(identityFromUser(42)).toEqual({});
  });

  it('tags a call only when an agent and a session are known; headers win field by field', () => {
    expect(resolveIdentity({ agentId: 'A' }, {}, 'default')).toEqual({ identity: null, source: 'none' });
    expect(resolveIdentity({ agentId: 'A', sessionId: 'S' }, {}, 'wl')).toEqual({
      identity: { agentId: 'A', sessionId: 'S', workloadId: 'wl' },
      source: 'headers',
    });
    expect(resolveIdentity({ agentId: 'H' }, { agentId: 'U', sessionId: 'S', workloadId: 'W' }, 'd')).toEqual({
      identity: { agentId: 'H', sessionId: 'S', workloadId: 'W' },
      source: 'headers+user',
    });
    expect(resolveIdentity({}, { agentId: 'U', sessionId: 'S' }, 'd').source).toBe('user');
  });
});
