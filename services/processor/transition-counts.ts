import type { ModelUpdate } from '../../schemas/types.js';

/** Marks the END column (the session ended) where an agent name is expected. */
export const END_AGENT = null;

/** Key of a workload's counts from one source partition in `cachesage.model`: `${workloadId}:${partition}`. */
export function modelKey(workloadId: string, partition: number): string {
  return `${workloadId}:${partition}`;
}

/** An empty ModelUpdate: no agents, no counts, covering nothing (offset 0). */
export function emptyModelUpdate(workloadId: string, partition: number): ModelUpdate {
  return { workloadId, partition, offset: 0, agents: [], counts: [0], updatedAt: 0, bucketMs: 0, buckets: [] };
}

/** Index of `agent` in `update.agents`, adding it (and growing the matrix) when new. */
export function internAgent(update: ModelUpdate, agent: string): number {
  const at = update.agents.indexOf(agent);
  if (at >= 0) return at;
  const n = update.agents.length;
  const old = update.counts;
  const width = n + 2;
  const grown = new Array<number>(width * width).fill(0);
  for (let i = 0; i <= n; i++) {
    for (let j = 0; j <= n; j++) {
      const c = old[i * (n + 1) + j] ?? 0;
      if (c === 0) continue;
      grown[(i === n ? n + 1 : i) * width + (j === n ? n + 1 : j)] = c;
    }
  }
  update.agents.push(agent);
  update.counts = grown;
  return n;
}

/** Counts one transition `from` → `to` (an agent, or `END_AGENT`). */
export function addTransition(update: ModelUpdate, from: string, to: string | typeof END_AGENT): void {
  const i = internAgent(update, from);
  const j = to === END_AGENT ? -1 : internAgent(update, to);
  const n = update.agents.length;
  const cell = i * (n + 1) + (j < 0 ? n : j);
  update.counts[cell] = (update.counts[cell] ?? 0) + 1;
}

/** Summed counts of one workload over every agent any part names (agents in first-seen order, END last). */
export interface SummedCounts {
  agents: string[];
  /** Row-major over agents + END, `(n+1)²` cells. */
  counts: number[];
}

/** Sums ModelUpdates of one workload (from different partitions, each with its own agent order). */
export function sumCounts(parts: Iterable<Pick<ModelUpdate, 'agents' | 'counts'>>): SummedCounts {
  const list = [...parts];
  const agents: string[] = [];
  const index = new Map<string, number>();
  for (const part of list) {
    for (const a of part.agents) {
      if (!index.has(a)) {
        index.set(a, agents.length);
        agents.push(a);
      }
    }
  }
  const n = agents.length;
  const counts = new Array<number>((n + 1) * (n + 1)).fill(0);
  for (const part of list) {
    const m = part.agents.length;
    const map = part.agents.map((a) => index.get(a) as number);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j <= m; j++) {
        const c = part.counts[i * (m + 1) + j] ?? 0;
        if (c === 0) continue;
        const cell = (map[i] as number) * (n + 1) + (j === m ? n : (map[j] as number));
        counts[cell] = (counts[cell] as number) + c;
      }
    }
  }
  return { agents, counts };
}

/** The count of `from` → `to` in summed counts (0 when either is unknown). */
export function countOf(summed: SummedCounts, from: string, to: string | typeof END_AGENT): number {
  const n = summed.agents.length;
  const i = summed.agents.indexOf(from);
  const j = to === END_AGENT ? n : summed.agents.indexOf(to);
  if (i < 0 || j < 0) return 0;
  return summed.counts[i * (n + 1) + j] ?? 0;
}
