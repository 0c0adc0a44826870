import { mulberry32 } from '../../../adapters/engine-sim/seeded-random.js';
import type { PreparedSession, PreparedTurn, PreparedWorkload } from '../../../workloads/types.js';

/** A turn given by block ids directly (the caller keeps chains consistent). */
export interface TurnSpec {
  agent?: string;
  prompt: number[];
  /** Defaults to 16 · prompt.length + 5 (a trailing partial block, so every full block is within the hit limit). */
  promptTokens?: number;
  output?: number[];
  outputTokens?: number;
  toolCall?: string | null;
  llm?: boolean;
}

/** Hash of block id `id` in these fixtures (distinct, deterministic, far from 0). */
export function hashOf(id: number): bigint {
  return BigInt(id) * 1_000_003n + 7n;
}

export function workloadOf(sessions: TurnSpec[][], blockCount?: number): PreparedWorkload {
  let max = -1;
  for (const s of sessions)
    for (const t of s) for (const id of [...t.prompt, ...(t.output ?? [])]) max = Math.max(max, id);
  const n = blockCount ?? max + 1;
  const hashes = new BigInt64Array(n);
  for (let id = 0; id < n; id++) hashes[id] = hashOf(id);
  const agents: string[] = [];
  const prepared: PreparedSession[] = sessions.map((turns, s) => ({
    sessionId: `s${s}`,
    turns: turns.map((t, i): PreparedTurn => {
      const agentId = t.agent ?? 'A';
      if (!agents.includes(agentId)) agents.push(agentId);
      return {
        turn: i,
        agentId,
        llm: t.llm ?? true,
        promptTokens: t.promptTokens ?? t.prompt.length * 16 + 5,
        promptBlocks: Uint32Array.from(t.prompt),
        outputTokens: t.outputTokens ?? (t.output?.length ?? 0) * 16 + 3,
        outputBlocks: Uint32Array.from(t.output ?? []),
        anchorBlocks: 0,
        toolCall: t.toolCall ?? null,
        phase: null,
      };
    }),
  }));
  return { workloadId: 'fixture', agents, sessions: prepared, hashes, source: 'test' };
}

export interface RandomWorkloadOptions {
  seed: number;
  sessions: number;
  agents: number;
  /** Turns per session: 1..maxTurns. */
  maxTurns: number;
  /** System-prompt blocks per agent: 1..maxSystemBlocks. */
  maxSystemBlocks: number;
  /** Message blocks per turn: 0..maxMessageBlocks. */
  maxMessageBlocks: number;
  /** Probability that a turn calls a tool. */
  toolP?: number;
}

/**
 * A group-chat workload: the prompt of turn t by agent a is system(a) + the session's messages 0..t-1; message t is
 * the output. Block ids come from a trie over (parent id, content label), so equal prefixes share ids.
 */
export function randomWorkload(o: RandomWorkloadOptions): PreparedWorkload {
  const rnd = mulberry32(o.seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const trie = new Map<string, number>();
  let next = 0;
  const child = (parent: number, label: string): number => {
    const key = `${parent}|${label}`;
    let id = trie.get(key);
    if (id === undefined) {
      id = next++;
      trie.set(key, id);
    }
    return id;
  };
  const systemLen = Array.from({ length: o.agents }, () => int(1, o.maxSystemBlocks));
  const specs: TurnSpec[][] = [];
  for (let s = 0; s < o.sessions; s++) {
    const turns = int(1, o.maxTurns);
    const messages: string[][] = [];
    const spec: TurnSpec[] = [];
    for (let t = 0; t < turns; t++) {
      const a = int(0, o.agents - 1);
      const labels: string[] = [];
      for (let b = 0; b < (systemLen[a] as number); b++) labels.push(`sys${a}.${b}`);
      for (const m of messages) labels.push(...m);
      const prompt: number[] = [];
      let p = -1;
      for (const l of labels) {
        p = child(p, l);
        prompt.push(p);
      }
      const msg = Array.from({ length: int(0, o.maxMessageBlocks) }, (_, b) => `s${s}.t${t}.${b}`);
      const output: number[] = [];
      for (const l of msg) {
        p = child(p, l);
        output.push(p);
      }
      messages.push(msg);
      spec.push({
        agent: `agent${a}`,
        prompt,
        promptTokens: prompt.length * 16 + int(0, 15),
        output,
        outputTokens: output.length * 16 + int(1, 15),
        toolCall: rnd() < (o.toolP ?? 0.2) ? 'tool' : null,
      });
    }
    specs.push(spec);
  }
  return workloadOf(specs, next);
}
