/**
 * TypeScript shapes of the layer's event contracts. The Avro schemas in this folder (`*.avsc`) are the source of
 * truth on the wire; these types match them field for field. Block hashes are values of the layer's own hash space
 * (see `block-hash.ts`): signed 64-bit integers carried as Avro `long`, `bigint` in TypeScript.
 */

/** A block hash in the layer's hash space: a signed 64-bit integer. */
export type BlockHash = bigint;

export type RequestPhase = 'ARRIVED' | 'PREFILLED' | 'FINISHED' | 'ABORTED';

/** One LLM call's lifecycle event, produced by the tagging proxy, an SDK, or the engine simulator. */
export interface RequestEvent {
  /** Unique id of this event (used as the `causeId` of acts it triggers). */
  eventId: string;
  requestId: string;
  engineId: string;
  workloadId: string;
  sessionId: string;
  agentId: string;
  phase: RequestPhase;
  /** Event time, epoch ms (simulated time in the simulator). */
  ts: number;
  /** Produce time, epoch ms wall clock (for act latency). */
  producedAt: number;
  promptTokens: number;
  /** Prompt tokens served from the GPU prefix cache (known at PREFILLED/FINISHED; 0 before). */
  cachedTokens: number;
  /** Prompt block hashes, head to tail, in the layer's hash space (full 16-token blocks only). */
  blockHashes: BlockHash[];
  /** Full output blocks cached at FINISHED (chained after the prompt blocks). */
  outputBlockHashes: BlockHash[];
  outputTokens: number;
  /** Name of a tool the agent called in this step, if any (its execution is the gap before the next step). */
  toolCall: string | null;
}

export type KvEventKind = 'BLOCK_STORED' | 'BLOCK_REMOVED' | 'ALL_CLEARED';
export type Medium = 'GPU' | 'CPU' | 'DISK';

/** One KV-cache event of an engine, mirroring vLLM's KV events, hashes mapped into the layer's hash space. */
export interface KvEvent {
  eventId: string;
  engineId: string;
  /** Engine-local sequence number (vLLM's ZMQ seq, or the simulator's counter). */
  seq: number;
  ts: number;
  producedAt: number;
  kind: KvEventKind;
  blockHashes: BlockHash[];
  parentHash: BlockHash | null;
  /** Token ids of the stored blocks (BlockStored only; may be empty when the producer omits them). */
  tokenIds: number[];
  medium: Medium;
}

/** Fields every act carries: who it is for, ordering, and what caused it. */
export interface ActHeader {
  engineId: string;
  /** Per (engine, kind) monotonically increasing; a hook drops an act whose seq is not newer than the last applied. */
  seq: number;
  /** Issue time, epoch ms (simulated time in the simulator). */
  issuedAt: number;
  /** The act is stale after issuedAt + ttlMs. */
  ttlMs: number;
  /** eventId of the event that caused this act. */
  causeId: string;
  /** producedAt of the causing event (wall clock, for latency). */
  causeProducedAt: number;
  /** Policy that produced it. */
  policy: string;
}

/** One group of blocks sharing an eviction priority. Lower priority is evicted first; ties by LRU order. */
export interface EvictionEntry {
  /** `sessionId/agentId` of the context, or null for a group not tied to one context (e.g. anchors). */
  contextId: string | null;
  /**
   * Blocks of the group, head to tail, from position `fromBlock` of the context's registration on. Empty with a
   * non-null `contextId` (and `fromBlock` 0) means "the blocks last registered for this context on this engine" (a
   * policy sends a context's blocks once and afterwards only re-prioritizes it).
   */
  blockHashes: BlockHash[];
  /**
   * 0 or absent: `blockHashes` are the whole group (with a `contextId`, its new registration). k > 0 (needs a
   * `contextId` and at least one hash): the group is the first k blocks registered for `contextId` followed by
   * `blockHashes`, which become the rest of its registration; a hook holding fewer than k blocks for the context
   * (it missed an act) skips the entry. A growing context is re-registered by what it added.
   */
  fromBlock?: number;
  priority: number;
}

export interface EvictionHints extends ActHeader {
  kind: 'evict';
  entries: EvictionEntry[];
}

export interface Prefetch extends ActHeader {
  kind: 'prefetch';
  sessionId: string;
  agentId: string;
  /** Blocks to bring into GPU (from the CPU tier), head to tail. */
  blockHashes: BlockHash[];
  /** Useless after this many ms from issuedAt. */
  deadlineMs: number;
}

export interface Pin extends ActHeader {
  kind: 'pin';
  blockHashes: BlockHash[];
  /** Pinned blocks are not evicted until issuedAt + pinTtlMs. */
  pinTtlMs: number;
}

export type Act = EvictionHints | Prefetch | Pin;
export type ActKind = Act['kind'];
export const ACT_KINDS: readonly ActKind[] = ['evict', 'prefetch', 'pin'];

/** Transition counts of one workload from one source partition, with the offset they cover (DESIGN §7). */
export interface ModelUpdate {
  workloadId: string;
  partition: number;
  /** Next offset to read: counts cover every record of the partition below it. */
  offset: number;
  agents: string[];
  /** Row-major counts over (agents + END): from i to j at index i*(agents.length+1)+j. */
  counts: number[];
  updatedAt: number;
  /** Width of one time bucket in ms; 0 (the default when omitted) when no buckets are kept. */
  bucketMs?: number;
  /** Time-bucketed counts, oldest first, for read-time decay; empty (the default) when bucketMs is 0. */
  buckets?: CountBucket[];
}

/** Transitions counted in [startMs, startMs + bucketMs), same layout as `ModelUpdate.counts`. */
export interface CountBucket {
  startMs: number;
  counts: number[];
}

/** Where a running session stands (compacted topic `cachesage.sessions`, key sessionId). */
export interface SessionPosition {
  workloadId: string;
  sessionId: string;
  /** Agent of the session's most recent call. */
  lastAgent: string;
  /** Agent of the call before it; null after the first call. */
  prevAgent: string | null;
  /** Calls of the session seen so far. */
  steps: number;
  /** Event time of the most recent call's last event, epoch ms. */
  lastTs: number;
  /** Engine that served the most recent call. */
  engineId: string;
}

/** A record that could not be processed, with where it came from. */
export interface DeadLetter {
  originTopic: string;
  originPartition: number;
  originOffset: string;
  stage: string;
  reason: string;
  failedAt: number;
  payload: Uint8Array;
  /** The record's key; null (the default when omitted) when it had none. */
  key?: string | null;
  /** The record's headers; empty (the default) when omitted. */
  headers?: Record<string, string>;
}
