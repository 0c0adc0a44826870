/**
 * A workload prepared for simulation: every turn's prompt and output as block ids in a dense id space, with the
 * layer's block hash of each id. Produced by the trace loader (real logs, tokenized) and by the synthetic
 * generator; consumed by the engine simulator and the evaluation. Block ids are workload-local indices into
 * `hashes`; equal ids mean equal hashes (and so equal prefixes). Block-id arrays may be views into one buffer per
 * context: treat them as read-only.
 */
export interface PreparedTurn {
  /** 0-based position in the session. */
  turn: number;
  agentId: string;
  /** False when options mark this agent as non-LLM (its turn is a message, not an LLM call). */
  llm: boolean;
  /** All prompt tokens, including a trailing partial block. */
  promptTokens: number;
  /** Ids of the prompt's full blocks, head to tail (the chain starts at the agent's system prompt). */
  promptBlocks: Uint32Array;
  /** Output (generated) tokens. */
  outputTokens: number;
  /** Ids of the full blocks completed by prompt + output beyond `promptBlocks`, head to tail. */
  outputBlocks: Uint32Array;
  /** How many leading prompt blocks are the agent's system prompt alone (shared by every session: anchors). */
  anchorBlocks: number;
  /** Tool called in this turn, if the trace says so (its run is the gap before the session's next step). */
  toolCall: string | null;
  /** Source phase (e.g. ChatDev's `meta.phase`), null when absent. */
  phase: string | null;
}

export interface PreparedSession {
  sessionId: string;
  turns: PreparedTurn[];
}

export interface PreparedWorkload {
  workloadId: string;
  /** Distinct agent ids in first-appearance order. */
  agents: string[];
  /** Sessions in file order. */
  sessions: PreparedSession[];
  /** hashes[id] is block id's hash in the layer's hash space (schemas/block-hash.ts). */
  hashes: BigInt64Array;
  /** Where it came from, for reports: a path, or `synthetic:<profile>` with its seed. */
  source: string;
}
