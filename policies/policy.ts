import type { Act, BlockHash, EvictionHints, KvEvent, Pin, Prefetch, RequestEvent } from '../schemas/types.js';

/**
 * The four primitives (DESIGN §5). A policy is a set of pure-ish functions over an explicit state value that the
 * runtime keeps in a named store (`policy:<name>`); the policy never hides state in closures. `observe` folds an
 * event into the state (mutating the state object in place is allowed: the store owns it); `score`, `predict` and
 * `act` read it. The runtime calls `observe` for every event in key order, and at each decision point (see
 * `decisionPoint`) calls score → predict → act and publishes the acts.
 */
export type ObservedEvent = { type: 'request'; event: RequestEvent } | { type: 'kv'; event: KvEvent };

/** A decision point: after this event, score the engine's cache and act for it. */
export interface DecisionPoint {
  engineId: string;
  /** Session whose next step to predict, when the event is a request event. */
  sessionId: string | null;
  /** Event time (ms) of the triggering event. */
  now: number;
}

/** The value of one group of cached blocks (usually one context) on one engine. Higher is more worth keeping. */
export interface ScoredGroup {
  contextId: string | null;
  blockHashes: BlockHash[];
  /** Registered blocks of the context kept before `blockHashes` (see `EvictionEntry.fromBlock`); absent: 0. */
  fromBlock?: number;
  value: number;
}

export interface Scores {
  engineId: string;
  now: number;
  /** Groups whose value changed since the last scoring of this engine (incremental scoring). */
  changed: ScoredGroup[];
}

export interface NextAgent {
  agentId: string;
  p: number;
}

export interface Prediction {
  sessionId: string;
  workloadId: string;
  /** Agent that spoke last in the session (null before the first step). */
  currentAgent: string | null;
  /** Most likely next agents, descending by probability. */
  next: NextAgent[];
  /** Probability that the session ends instead. */
  endP: number;
}

/** An act as a policy drafts it; the runtime fills the header (seq, issuedAt, cause, engine, policy name). */
export type ActDraft =
  | Omit<EvictionHints, 'seq' | 'issuedAt' | 'causeId' | 'causeProducedAt' | 'policy' | 'engineId'>
  | Omit<Prefetch, 'seq' | 'issuedAt' | 'causeId' | 'causeProducedAt' | 'policy' | 'engineId'>
  | Omit<Pin, 'seq' | 'issuedAt' | 'causeId' | 'causeProducedAt' | 'policy' | 'engineId'>;

export interface ActInput {
  point: DecisionPoint;
  scores: Scores;
  prediction: Prediction | null;
  /** The event that caused this decision. */
  cause: ObservedEvent;
}

export interface Policy<S = unknown> {
  /** Lower-case id, e.g. `lru`, `cachesage`. */
  readonly name: string;
  /** A fresh state value. */
  createState(): S;
  observe(state: S, event: ObservedEvent): void;
  /** Whether `event` is a decision point; null when the policy does not act on it. */
  decisionPoint(state: S, event: ObservedEvent): DecisionPoint | null;
  score(state: S, point: DecisionPoint): Scores;
  predict(state: S, point: DecisionPoint): Prediction | null;
  act(state: S, input: ActInput): ActDraft[];
  /**
   * Whether deciding `point` may be left to a later decision point of the same engine (conflation under backlog):
   * true only when the later decision's acts cover everything this one's would (e.g. eviction priorities, which a
   * later scoring restates) and nothing is lost by skipping it (e.g. no one-off prefetch). Absent: never.
   */
  conflatable?(state: S, point: DecisionPoint): boolean;
  /** Serialized size in bytes of the model state (what a changelog would store). */
  stateBytes?(state: S): number;
  /** Serialize / restore for changelog-backed stores. */
  snapshot?(state: S): Uint8Array;
  restore?(bytes: Uint8Array): S;
}

export type PolicyFactory<O = Record<string, unknown>> = (options?: O) => Policy;

export type { Act };
