import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { simulate } from '../../../adapters/engine-sim/simulate.js';
import { indexWorkload } from '../../../adapters/engine-sim/workload-index.js';
import { readEnv } from '../../../core/config.js';
import { loadWorkload } from '../../../workloads/load-workload.js';

const dir = resolve(readEnv().workloadsDir);
const names = ['chatdev', 'captainagent', 'tau-bench-airline', 'autogen-notebooks'];
const present = existsSync(join(dir, 'chatdev.jsonl.gz'));
if (!present)
  console.warn(`skipping engine-sim shared-workload tests: no workloads in ${dir} (set CACHESAGE_WORKLOADS)`);

describe.skipIf(!present)('engine simulator on the shared workloads', () => {
  it.each(names)(
    '%s: Belady ≥ LRU in every cell of the sweep, and Belady never loses hits with more budget',
    async (name) => {
      const workload = await loadWorkload(join(dir, `${name}.jsonl.gz`));
      const index = indexWorkload(workload);
      const lines: string[] = [];
      for (const concurrency of [1, 4]) {
        let previous = -1;
        for (const budgetBlocks of [120, 250, 500, 1000, 2000]) {
          const base = { workload, index, budgetBlocks, concurrency, seed: 1 };
          const lru = simulate({ ...base, evictor: 'lru' }).total;
          const belady = simulate({ ...base, evictor: 'belady' }).total;
          expect(belady.gpuHitTokens).toBeGreaterThanOrEqual(lru.gpuHitTokens);
          expect(belady.gpuHitTokens).toBeGreaterThanOrEqual(previous);
          expect(lru.tokenHitRate).toBeGreaterThanOrEqual(0);
          expect(belady.tokenHitRate).toBeLessThanOrEqual(1);
          expect(lru.requests).toBe(workload.stats.turns);
          previous = belady.gpuHitTokens;
          lines.push(
            `C${concurrency} B${budgetBlocks}: LRU ${(100 * lru.tokenHitRate).toFixed(1)} % ` +
              `Belady ${(100 * belady.tokenHitRate).toFixed(1)} %`,
          );
        }
      }
      console.log(`${name}: ${lines.join('; ')}`);
    },
    180_000,
  );
});
