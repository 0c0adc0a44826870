import { describe, expect, it } from 'vitest';
import { selectSessions } from '../../../services/engine-sim/select-sessions.js';
import { workloadOf } from '../engine-sim/fixtures.js';

describe('session selection', () => {
  const w = workloadOf([[{ prompt: [0] }], [{ prompt: [1] }], [{ prompt: [2] }], [{ prompt: [3] }]]);

  it('keeps a range of sessions in file order, sharing blocks and hashes', () => {
    const s = selectSessions(w, { from: 1, count: 2 });
    expect(s.sessions.map((x) => x.sessionId)).toEqual(['s1', 's2']);
    expect(s.hashes).toBe(w.hashes);
    expect(selectSessions(w, {})).toBe(w);
  });

  it('filters by session id before the range and refuses an empty selection', () => {
    expect(selectSessions(w, { filter: /s[23]/, count: 1 }).sessions.map((x) => x.sessionId)).toEqual(['s2']);
    expect(() => selectSessions(w, { from: 9 })).toThrow(/no session/);
    expect(() => selectSessions(w, { count: 0 })).toThrow(/count/);
  });
});
