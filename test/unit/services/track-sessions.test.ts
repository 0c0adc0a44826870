import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../adapters/memory/memory-store.js';
import type { ModelUpdate, RequestEvent, SessionPosition } from '../../../schemas/types.js';
import { expireIdleSessions, type SessionStores, trackRequest } from '../../../services/processor/track-sessions.js';
import { countOf, END_AGENT, sumCounts } from '../../../services/processor/transition-counts.js';
import { requestEvent } from '../../support/events.js';

function stores(): SessionStores {
  return {
    positions: createMemoryStore<SessionPosition>({ name: 'positions' }),
    counts: createMemoryStore<ModelUpdate>({ name: 'counts' }),
  };
}

function arrived(sessionId: string, agentId: string, ts: number): RequestEvent {
  return requestEvent({ eventId: `${sessionId}-${ts}`, sessionId, agentId, ts, phase: 'ARRIVED', workloadId: 'w' });
}

describe('session tracking (positions and transition counts)', () => {
  it('starts a session, counts each later arrival as a transition and moves the covered offset', () => {
    const s = stores();
    expect(trackRequest(s, arrived('s1', 'A', 10), 2, 0, 1)).toBe('started');
    expect(trackRequest(s, { ...arrived('s1', 'A', 11), phase: 'FINISHED' }, 2, 1, 2)).toBe('ignored');
    expect(trackRequest(s, arrived('s1', 'B', 20), 2, 2, 3)).toBe('counted');
    expect(trackRequest(s, arrived('s1', 'A', 30), 2, 3, 4)).toBe('counted');
    const counts = s.counts.get('w:2')!;
    expect(counts.offset).toBe(4);
    expect(countOf(sumCounts([counts]), 'A', 'B')).toBe(1);
    expect(countOf(sumCounts([counts]), 'B', 'A')).toBe(1);
    expect(s.positions.get('s1')).toMatchObject({ lastAgent: 'A', prevAgent: 'B', steps: 3, lastTs: 30 });
  });

  it('ignores a re-written arrival (not after the last call) and counts nothing twice', () => {
    const s = stores();
    trackRequest(s, arrived('s1', 'A', 10), 0, 0, 0);
    trackRequest(s, arrived('s1', 'B', 20), 0, 1, 0);
    expect(trackRequest(s, arrived('s1', 'B', 20), 0, 2, 0)).toBe('duplicate');
    expect(trackRequest(s, arrived('s1', 'A', 10), 0, 3, 0)).toBe('duplicate');
    expect(sumCounts([s.counts.get('w:0')!]).counts.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('moves a lagging position without counting records the stored counts already cover', () => {
    const s = stores();
    trackRequest(s, arrived('s1', 'A', 10), 0, 0, 0);
    trackRequest(s, arrived('s1', 'B', 20), 0, 1, 0);
    s.positions.put('s1', { ...s.positions.get('s1')!, lastAgent: 'A', prevAgent: null, steps: 1, lastTs: 10 });
    expect(trackRequest(s, arrived('s1', 'B', 20), 0, 1, 0)).toBe('covered');
    expect(s.positions.get('s1')).toMatchObject({ lastAgent: 'B', steps: 2 });
    expect(trackRequest(s, arrived('s1', 'C', 30), 0, 2, 0)).toBe('counted');
    const summed = sumCounts([s.counts.get('w:0')!]);
    expect(countOf(summed, 'A', 'B')).toBe(1);
    expect(countOf(summed, 'B', 'C')).toBe(1);
  });

  it('ends idle sessions on the event time of their partition: END counted, position removed', () => {
    const s = stores();
    trackRequest(s, arrived('s1', 'A', 1000), 0, 0, 0);
    trackRequest(s, arrived('s2', 'B', 1000), 1, 0, 0);
    trackRequest(s, arrived('s2', 'C', 5000), 1, 1, 0);
    const partitionOf = (id: string) => (id === 's1' ? 0 : 1);
    const now = (p: number) => (p === 0 ? 3000 : 5500);
    expect(expireIdleSessions(s, now, 1500, partitionOf)).toEqual(['s1']);
    expect(s.positions.has('s1')).toBe(false);
    expect(s.positions.has('s2')).toBe(true);
    const p0 = s.counts.get('w:0')!;
    expect(countOf(sumCounts([p0]), 'A', END_AGENT)).toBe(1);
    expect(p0.offset).toBe(1);
    expect(expireIdleSessions(s, () => 10_000, 1500, partitionOf)).toEqual(['s2']);
    expect(countOf(sumCounts([s.counts.get('w:1')!]), 'C', END_AGENT)).toBe(1);
  });
});
