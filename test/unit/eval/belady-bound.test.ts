import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readEnv } from '../../../core/config.js';
import { policyOptionsFor } from '../../../eval/simulate-run.js';
import { runSweep } from '../../../eval/sweep.js';
import { loadWorkload } from '../../../workloads/load-workload.js';
import type { PreparedWorkload } from '../../../workloads/types.js';

const ONLINE = ['lru', 'cachesage', 'kvflow', 'continuum'];
const dir = resolve(readEnv().workloadsDir);

/** Shared logs checked, each cut to its first `sessions` sessions to keep the test short. */
const SHARED: { name: string; sessions: number }[] = [
  { name: 'chatdev', sessions: 14 },
  { name: 'captainagent', sessions: 126 },
];

function assertBound(workload: PreparedWorkload, budgets: number[]): string[] {
  const result = runSweep({
    workload,
    policies: [...ONLINE, 'belady'],
    budgets,
    concurrencies: [1, 4],
    engines: 1,
    cpuTierBlocks: 0,
    actDelayMs: 0,
    seed: 1,
    policyOptions: policyOptionsFor({ kvflowWarmup: { fraction: 0.1 }, continuumPinTtlMs: 'auto' }),
  });
  const lines: string[] = [];
  for (const c of [1, 4]) {
    for (const b of budgets) {
      const cell = result.rows.filter((r) => r.concurrency === c && r.budgetBlocks === b);
      const belady = cell.find((r) => r.policy === 'belady');
      expect(belady, `belady C=${c} B=${b}`).toBeDefined();
      const parts: string[] = [];
      for (const policy of ONLINE) {
        const row = cell.find((r) => r.policy === policy);
        expect(row, `${policy} C=${c} B=${b}`).toBeDefined();
        expect(row?.promptTokens).toBe(belady?.promptTokens);
        expect(
          row?.gpuHitTokens,
          `${workload.workloadId}: Belady ≥ ${policy} at C=${c}, budget ${b}`,
        ).toBeLessThanOrEqual(belady?.gpuHitTokens as number);
        parts.push(`${policy} ${(100 * (row?.tokenHitRate ?? 0)).toFixed(1)}`);
      }
      lines.push(`C${c} B${b}: ${parts.join(' ')} belady ${(100 * (belady?.tokenHitRate ?? 0)).toFixed(1)}`);
    }
  }
  return lines;
}

describe('Belady bounds every online policy (GPU only)', () => {
  it.each(['synthetic', 'synthetic:random'])('%s', async (spec) => {
    const workload = await loadWorkload(spec);
    const lines = assertBound(workload, [120, 500, 2000]);
    console.log(`${spec}: ${lines.join('; ')}`);
  });

  const present = SHARED.filter((w) => existsSync(join(dir, `${w.name}.jsonl.gz`)));
  if (present.length < SHARED.length) {
    console.warn(
      `skipping Belady-bound checks on ${SHARED.filter((w) => !present.includes(w))
        .map((w) => w.name)
        .join(', ')}: not found in ${dir} (set CACHESAGE_WORKLOADS)`,
    );
  }
  it.each(present)('$name (first $sessions sessions)', async ({ name, sessions }) => {
    const full = await loadWorkload(join(dir, `${name}.jsonl.gz`));
    const workload: PreparedWorkload = { ...full, sessions: full.sessions.slice(0, sessions) };
    const lines = assertBound(workload, [120, 250, 1000]);
    console.log(`${name}: ${lines.join('; ')}`);
  });
});
