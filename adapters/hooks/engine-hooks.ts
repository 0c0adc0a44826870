import type { Act, EvictionHints, Pin, Prefetch } from '../../schemas/types.js';

/**
 * What an engine implements to apply acts (DESIGN §9). Every act is a hint: an engine that ignores one falls back to
 * its own LRU order and loses only hit rate, never correctness. Implementations must be cheap and non-blocking.
 */
export interface EngineHooks {
  readonly engineId: string;
  /** Set eviction priorities of the listed blocks (lower evicted first; unlisted blocks keep theirs). */
  applyEvictionHints(hints: EvictionHints): void;
  /** Bring the listed blocks into GPU (from a CPU tier) before `issuedAt + deadlineMs`, if they are not resident. */
  prefetch(act: Prefetch): void;
  /** Keep the listed blocks resident until `issuedAt + pinTtlMs`. */
  pin(act: Pin): void;
}

export type RejectReason = 'foreign' | 'stale-ttl' | 'stale-seq' | 'malformed';

export interface HookCounters {
  applied: Record<Act['kind'], number>;
  rejected: Record<RejectReason, number>;
}
