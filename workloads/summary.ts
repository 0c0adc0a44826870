import type { PreparedSession, PreparedTurn, PreparedWorkload } from './types.js';

/** Size and structure of a prepared workload (the shared workloads README's columns, plus token counts). */
export interface WorkloadSummary {
  workloadId: string;
  source: string;
  sessions: number;
  turns: number;
  /** Turns that are LLM calls. */
  llmTurns: number;
  agents: number;
  turnsPerSession: number;
  promptTokens: number;
  outputTokens: number;
  /** Sum over LLM turns of full prompt blocks. */
  promptBlocks: number;
  distinctBlocks: number;
  /**
   * Next-agent top-1 accuracy of an argmax first-order Markov model, leave-one-session-out (counts from every
   * other session; an unseen row falls back to the most frequent next agent).
   */
  nextAgentTop1: number;
  /** Accuracy of always guessing the most frequent next agent (same protocol). */
  majorityTop1: number;
}

type Counts = Map<string, number>;

function bump(m: Counts, key: string, by = 1): void {
  m.set(key, (m.get(key) ?? 0) + by);
}

function argmax(global: Counts | undefined, minus: Counts | undefined): string | null {
  if (!global) return null;
  let best: string | null = null;
  let bestCount = 0;
  for (const [key, count] of global) {
    const c = count - (minus?.get(key) ?? 0);
    if (c > bestCount) {
      best = key;
      bestCount = c;
    }
  }
  return best;
}

function countTransitions(s: PreparedSession, rows: Map<string, Counts>, freq: Counts): void {
  for (let t = 1; t < s.turns.length; t++) {
    const a = (s.turns[t - 1] as PreparedTurn).agentId;
    const b = (s.turns[t] as PreparedTurn).agentId;
    const row = rows.get(a) ?? new Map<string, number>();
    rows.set(a, row);
    bump(row, b);
    bump(freq, b);
  }
}

function markovAccuracy(w: PreparedWorkload): { top1: number; majority: number } {
  const rows = new Map<string, Counts>();
  const freq: Counts = new Map();
  for (const s of w.sessions) countTransitions(s, rows, freq);
  let hits = 0;
  let majorityHits = 0;
  let total = 0;
  for (const s of w.sessions) {
    const own = new Map<string, Counts>();
    const ownFreq: Counts = new Map();
    countTransitions(s, own, ownFreq);
    const majority = argmax(freq, ownFreq);
    for (let t = 1; t < s.turns.length; t++) {
      const a = (s.turns[t - 1] as PreparedTurn).agentId;
      const b = (s.turns[t] as PreparedTurn).agentId;
      const guess = argmax(rows.get(a), own.get(a)) ?? majority;
      if (guess === b) hits++;
      if (majority === b) majorityHits++;
      total++;
    }
  }
  return { top1: total ? hits / total : 0, majority: total ? majorityHits / total : 0 };
}

/** Sessions, turns, agents, tokens, blocks and next-agent predictability of a workload. */
export function workloadSummary(w: PreparedWorkload): WorkloadSummary {
  let turns = 0;
  let llmTurns = 0;
  let promptTokens = 0;
  let outputTokens = 0;
  let promptBlocks = 0;
  for (const s of w.sessions) {
    for (const t of s.turns) {
      turns++;
      outputTokens += t.outputTokens;
      if (!t.llm) continue;
      llmTurns++;
      promptTokens += t.promptTokens;
      promptBlocks += t.promptBlocks.length;
    }
  }
  const { top1, majority } = markovAccuracy(w);
  return {
    workloadId: w.workloadId,
    source: w.source,
    sessions: w.sessions.length,
    turns,
    llmTurns,
    agents: w.agents.length,
    turnsPerSession: w.sessions.length ? turns / w.sessions.length : 0,
    promptTokens,
    outputTokens,
    promptBlocks,
    distinctBlocks: w.hashes.length,
    nextAgentTop1: top1,
    majorityTop1: majority,
  };
}
