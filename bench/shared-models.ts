import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SimEvent } from '../adapters/engine-sim/engine-sim.js';
import { createSimulation } from '../adapters/engine-sim/simulate.js';
import type { Sink, SinkMessage } from '../core/io.js';
import { cacheSageModelBytesPerWorkload, createCacheSagePolicy } from '../policies/cachesage/cachesage-policy.js';
import { loadWorkload } from '../workloads/load-workload.js';
import { observed } from './event-stream.js';

/** CacheSage's model state after one pass over a shared workload. */
export interface SharedModelBytes {
  workload: string;
  agents: number;
  requests: number;
  modelBytes: number;
}

/**
 * Model state per workload on the shared real workloads (trace format v1 files in `dir`): each workload is served by
 * one simulated engine (budget 1000 blocks, 4 sessions at a time) and CacheSage observes and decides on its events;
 * the figure is the policy's own serialized-size estimate of the learned model. Workloads whose tokenization is not
 * cached yet are tokenized (slow the first time).
 */
export async function sharedModelBytes(dir: string, onProgress: (line: string) => void): Promise<SharedModelBytes[]> {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl.gz') || f.endsWith('.jsonl'))
    .sort();
  const out: SharedModelBytes[] = [];
  for (const file of files) {
    const workload = await loadWorkload(join(dir, file));
    const policy = createCacheSagePolicy();
    const state = policy.createState();
    let requests = 0;
    const sink: Sink<SimEvent> = {
      name: 'policy',
      write(messages: readonly SinkMessage<SimEvent>[]) {
        for (const m of messages) {
          const event = observed(m.value);
          if (event.type === 'request') requests++;
          policy.observe(state, event);
          const point = policy.decisionPoint(state, event);
          if (point === null) continue;
          const scores = policy.score(state, point);
          const prediction = policy.predict(state, point);
          policy.act(state, { point, scores, prediction, cause: event });
        }
      },
      close: async () => undefined,
    };
    createSimulation({ workload, budgetBlocks: 1000, concurrency: 4, evictor: 'lru', seed: 1, sink }).run();
    const bytes = cacheSageModelBytesPerWorkload(state);
    out.push({
      workload: workload.workloadId,
      agents: workload.agents.length,
      requests: requests / 2,
      modelBytes: Math.max(0, ...Object.values(bytes)),
    });
    onProgress(`policy: model state on ${workload.workloadId}: ${out[out.length - 1]!.modelBytes} B`);
  }
  return out;
}
