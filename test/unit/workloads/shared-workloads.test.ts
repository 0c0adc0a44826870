import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readEnv } from '../../../core/config.js';
import { loadWorkload } from '../../../workloads/load-workload.js';
import { checkPrefixProperty } from './helpers.js';

const dir = resolve(readEnv().workloadsDir);

/** Sessions, turns, agents and next-agent argmax-Markov accuracy as the shared workloads README lists them. */
const README = [
  { name: 'chatdev', sessions: 123, turns: 3428, agents: 13, top1: 0.65 },
  { name: 'captainagent', sessions: 126, turns: 1099, agents: 191, top1: 0.39 },
  { name: 'tau-bench-airline', sessions: 200, turns: 5108, agents: 3, top1: 0.76 },
  { name: 'autogen-notebooks', sessions: 225, turns: 1613, agents: 180, top1: 0.39 },
];

const present = existsSync(join(dir, 'chatdev.jsonl.gz'));
if (!present) console.warn(`skipping shared-workload tests: no workloads in ${dir} (set CACHESAGE_WORKLOADS)`);

describe.skipIf(!present)('shared workloads', () => {
  it.each(README)(
    'loads $name with the README’s sessions, turns and agents, tokenized once',
    async (row) => {
      const path = join(dir, `${row.name}.jsonl.gz`);
      const w = await loadWorkload(path);
      expect(w.stats.sessions).toBe(row.sessions);
      expect(w.stats.turns).toBe(row.turns);
      expect(w.stats.agents).toBe(row.agents);
      expect(Math.abs(w.stats.nextAgentTop1 - row.top1)).toBeLessThan(0.03);
      expect(w.stats.skippedLines).toBe(0);
      expect(w.stats.promptTokens).toBeGreaterThan(w.stats.outputTokens);
      expect(checkPrefixProperty(w)).toBeGreaterThan(0);

      const again = await loadWorkload(path);
      expect(again.stats.tokenCache).toBe('hit');
      expect(again.stats.tokenizedStrings).toBe(0);
      expect(again.stats.loadMs).toBeLessThan(5000);
      expect(again.hashes).toEqual(w.hashes);
    },
    180_000,
  );

  it('lays chatdev out per phase with the phase template, a far smaller prompt total', async () => {
    const path = join(dir, 'chatdev.jsonl.gz');
    const group = await loadWorkload(path);
    const phase = await loadWorkload(path, { template: 'auto' });
    expect(phase.stats.template).toBe('phase');
    expect(phase.stats.promptTokens).toBeLessThan(group.stats.promptTokens / 4);
    expect(checkPrefixProperty(phase, true)).toBeGreaterThan(0);
    expect(phase.sessions[0]?.turns.some((t) => t.phase !== null)).toBe(true);
  }, 180_000);

  it('reads tau-bench tool calls', async () => {
    const w = await loadWorkload(join(dir, 'tau-bench-airline.jsonl.gz'));
    const calls = w.sessions.flatMap((s) => s.turns.filter((t) => t.toolCall !== null));
    expect(calls.length).toBe(1164);
    expect(calls.every((t) => t.agentId === 'airline_agent')).toBe(true);
    expect(new Set(calls.map((t) => t.toolCall))).toContain('get_reservation_details');
  }, 180_000);
});
