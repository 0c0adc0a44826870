import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/errors.js';
import { loadWorkload } from '../../../workloads/load-workload.js';
import { Prng } from '../../../workloads/prng.js';
import {
  generateSynthetic,
  generateTransitions,
  type SyntheticOptions,
  syntheticTransitionMatrix,
} from '../../../workloads/synthetic.js';
import { isSyntheticSpec, parseSyntheticSpec, SYNTHETIC_PROFILES } from '../../../workloads/synthetic-spec.js';
import type { PreparedWorkload } from '../../../workloads/types.js';
import { checkPrefixProperty } from './helpers.js';

const small: SyntheticOptions = {
  seed: 11,
  agents: 4,
  transitions: 'structured',
  sessions: 12,
  sessionTurns: { min: 4, max: 9 },
  systemPromptTokens: { min: 40, max: 90 },
  turnTokens: { min: 5, max: 60 },
  toolCallProbability: 0.3,
};

function fingerprint(w: PreparedWorkload): unknown {
  return {
    agents: w.agents,
    hashes: Array.from(w.hashes),
    sessions: w.sessions.map((s) =>
      s.turns.map((t) => [t.agentId, t.promptTokens, t.outputTokens, t.toolCall, Array.from(t.promptBlocks)]),
    ),
  };
}

function empiricalTransitions(w: PreparedWorkload): Map<string, Map<string, number>> {
  const rows = new Map<string, Map<string, number>>();
  for (const s of w.sessions) {
    for (let i = 1; i < s.turns.length; i++) {
      const a = s.turns[i - 1]?.agentId as string;
      const b = s.turns[i]?.agentId as string;
      const row = rows.get(a) ?? new Map<string, number>();
      rows.set(a, row);
      row.set(b, (row.get(b) ?? 0) + 1);
    }
  }
  return rows;
}

describe('Prng', () => {
  it('is deterministic per seed and uniform enough', () => {
    const a = new Prng(5);
    const b = new Prng(5);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(new Prng(6).next()).not.toBe(xs[0]);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    const counts = [0, 0, 0];
    const p = new Prng(9);
    for (let i = 0; i < 6000; i++) {
      const k = p.pick([1, 2, 3]);
      counts[k] = (counts[k] as number) + 1;
    }
    expect(counts[0]).toBeGreaterThan(800);
    expect(counts[2]).toBeGreaterThan(2700);
  });
});

describe('synthetic generator', () => {
  it('gives an identical workload for the same seed and a different one for another seed', () => {
    const a = generateSynthetic(small);
    const b = generateSynthetic(small);
    expect(fingerprint(b)).toEqual(fingerprint(a));
    const c = generateSynthetic({ ...small, seed: 12 });
    expect(fingerprint(c)).not.toEqual(fingerprint(a));
  });

  it('respects the options and the template properties', () => {
    const w = generateSynthetic(small);
    expect(w.sessions).toHaveLength(12);
    expect(w.agents.slice().sort()).toEqual(['agent-0', 'agent-1', 'agent-2', 'agent-3']);
    for (const s of w.sessions) {
      expect(s.turns.length).toBeGreaterThanOrEqual(4);
      expect(s.turns.length).toBeLessThanOrEqual(9);
      expect(s.turns[0]?.agentId).toBe('agent-0');
      for (const t of s.turns) {
        expect(t.outputTokens).toBeGreaterThanOrEqual(6);
        expect(t.outputTokens).toBeLessThanOrEqual(61);
        expect(t.anchorBlocks).toBeGreaterThanOrEqual(2);
        expect(t.toolCall === null || t.toolCall === `${t.agentId}.tool`).toBe(true);
      }
    }
    expect(checkPrefixProperty(w)).toBeGreaterThan(20);
    expect(new Set(w.hashes).size).toBe(w.hashes.length);
  });

  it('shares nothing across sessions beyond the system prompt and the first header (distinct random tokens)', () => {
    const w = generateSynthetic(small);
    const owners = new Map<number, string>();
    for (const s of w.sessions) {
      for (const t of s.turns) {
        t.promptBlocks.forEach((id, i) => {
          if (i <= t.anchorBlocks) return;
          const owner = owners.get(id);
          if (owner !== undefined) expect(owner).toBe(s.sessionId);
          owners.set(id, s.sessionId);
        });
      }
    }
  });

  it('ends sessions with endProbability within the turn range', () => {
    const w = generateSynthetic({ ...small, sessions: 200, sessionTurns: { min: 2, max: 30 }, endProbability: 0.5 });
    const lengths = w.sessions.map((s) => s.turns.length);
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(30);
    const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
    expect(mean).toBeGreaterThan(2.5);
    expect(mean).toBeLessThan(4);
  });

  it('structured rows are peaked and random rows are uniform, as generated and as observed', () => {
    const structured = generateTransitions('structured', 6, new Prng(3));
    for (const [i, row] of structured.entries()) {
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(Math.max(...row)).toBeGreaterThan(0.7);
      expect(row.indexOf(Math.max(...row))).not.toBe(i);
    }
    const random = generateSynthetic({ ...SYNTHETIC_PROFILES.random!, sessions: 600 } as SyntheticOptions);
    const rows = empiricalTransitions(random);
    expect(rows.size).toBe(6);
    for (const row of rows.values()) {
      const total = [...row.values()].reduce((a, b) => a + b, 0);
      expect(row.size).toBe(6);
      for (const count of row.values()) expect(Math.abs(count / total - 1 / 6)).toBeLessThan(0.06);
    }
    const peaked = empiricalTransitions(generateSynthetic(SYNTHETIC_PROFILES.structured!));
    for (const row of peaked.values()) {
      const total = [...row.values()].reduce((a, b) => a + b, 0);
      if (total >= 30) expect(Math.max(...row.values()) / total).toBeGreaterThan(0.5);
    }
  });

  it('uses an explicit transition matrix, normalised', () => {
    const m = syntheticTransitionMatrix({
      ...small,
      agents: ['a', 'b'],
      transitions: [
        [0, 2],
        [1, 1],
      ],
    });
    expect(m).toEqual([
      [0, 1],
      [0.5, 0.5],
    ]);
    const w = generateSynthetic({
      ...small,
      agents: ['a', 'b'],
      transitions: [
        [0, 1],
        [1, 0],
      ],
      initial: [1, 0],
    });
    for (const s of w.sessions) {
      s.turns.forEach((t, i) => {
        expect(t.agentId).toBe(i % 2 === 0 ? 'a' : 'b');
      });
    }
  });

  it('validates its options with ConfigError', () => {
    expect(() => generateSynthetic({ ...small, agents: 0 })).toThrow(ConfigError);
    expect(() => generateSynthetic({ ...small, agents: ['a', 'a'] })).toThrow(ConfigError);
    expect(() => generateSynthetic({ ...small, sessions: 0 })).toThrow(ConfigError);
    expect(() => generateSynthetic({ ...small, turnTokens: { min: 9, max: 3 } })).toThrow(ConfigError);
    expect(() => generateSynthetic({ ...small, toolCallProbability: 1.5 })).toThrow(ConfigError);
    expect(() => generateSynthetic({ ...small, transitions: [[1, 0]] })).toThrow(ConfigError);
    expect(() => generateSynthetic({ ...small, seed: 1.5 })).toThrow(ConfigError);
  });
});

describe('synthetic specs', () => {
  it('recognises synthetic specs', () => {
    expect(isSyntheticSpec('synthetic')).toBe(true);
    expect(isSyntheticSpec('synthetic:random')).toBe(true);
    expect(isSyntheticSpec('synthetic?seed=3')).toBe(true);
    expect(isSyntheticSpec('synthetic.jsonl')).toBe(false);
    expect(isSyntheticSpec('./synthetic')).toBe(false);
  });

  it('parses profiles and parameters', () => {
    const plain = parseSyntheticSpec('synthetic');
    expect(plain.profile).toBe('structured');
    expect(plain.source).toBe('synthetic:structured?seed=1');
    const p = parseSyntheticSpec('synthetic:structured?agents=8&sessions=200&seed=7');
    expect(p.options).toMatchObject({ agents: 8, sessions: 200, seed: 7, transitions: 'structured' });
    expect(p.source).toBe('synthetic:structured?seed=7&agents=8&sessions=200');
    expect(parseSyntheticSpec('synthetic:random').options.transitions).toBe('random');
    expect(parseSyntheticSpec('synthetic:large').options.sessions).toBeGreaterThan(plain.options.sessions);
    expect(parseSyntheticSpec('synthetic?agents=a,b,c&minTurns=2&maxTurns=3').options).toMatchObject({
      agents: ['a', 'b', 'c'],
      sessionTurns: { min: 2, max: 3 },
    });
    expect(parseSyntheticSpec('synthetic:random?seed=4', { seed: 9 }).options.seed).toBe(9);
    expect(() => parseSyntheticSpec('synthetic:nope')).toThrow(ConfigError);
    expect(() => parseSyntheticSpec('synthetic?colour=red')).toThrow(ConfigError);
    expect(() => parseSyntheticSpec('synthetic?seed=x')).toThrow(ConfigError);
    expect(() => parseSyntheticSpec('synthetic?transitions=weird')).toThrow(ConfigError);
  });

  it('loads through loadWorkload with stats, the default profile small enough for a quick sweep', async () => {
    const w = await loadWorkload('synthetic');
    expect(w.source).toBe('synthetic:structured?seed=1');
    expect(w.stats.sessions).toBe(60);
    expect(w.stats.agents).toBe(6);
    expect(w.stats.turnsPerSession).toBeGreaterThan(10);
    expect(w.stats.turnsPerSession).toBeLessThan(14);
    expect(w.stats.promptBlocks).toBeLessThanOrEqual(500_000);
    expect(w.stats.promptBlocks).toBeGreaterThan(20_000);
    expect(w.stats.nextAgentTop1).toBeGreaterThan(0.6);
    const random = await loadWorkload('synthetic:random', { seed: 2 });
    expect(random.source).toBe('synthetic:random?seed=2');
    expect(random.stats.nextAgentTop1).toBeLessThan(0.3);
  });
});
