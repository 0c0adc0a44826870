import type { Origin, SourceRecord } from '../core/io.js';

/**
 * A record in flight through the stages: the identity of the source record it came from (for ordering, commits and
 * dead letters) and the value the previous stage produced. Stages never mutate a record; they emit new ones.
 */
export interface StageRecord<T> {
  origin: Origin;
  key: string | null;
  /** Timestamp of the source record, epoch ms. */
  timestampMs: number;
  /** Headers of the source record. */
  headers: Readonly<Record<string, string>>;
  /** The value as read from the source (bytes, or a value on the in-memory bus), kept for dead letters. */
  raw: unknown;
  value: T;
  /**
   * True when a later record of the same source batch has the same key: a stage may leave per-key work that the
   * later record redoes anyway to that record (conflation under backlog). Absent or false otherwise.
   */
  keyFollows?: boolean;
}

/** A record a stage could not process, as a value (DESIGN §12: never a dead stream). */
export interface StageFailure {
  failed: true;
  stage: string;
  record: StageRecord<unknown>;
  error: unknown;
  /** The policy that failed, when the stage hosts several (observe, decide). */
  policy?: string;
}

/** What a stage emits: records for the next stage, or failures routed by the stage's `onError`. */
export type StageOutput<T> = StageRecord<T> | StageFailure;

export function isFailure(item: StageOutput<unknown>): item is StageFailure {
  return (item as StageFailure).failed === true;
}

export function toStageRecord<T>(record: SourceRecord<T>, keyFollows = false): StageRecord<T> {
  const out: StageRecord<T> = {
    origin: record.origin,
    key: record.key,
    timestampMs: record.timestampMs,
    headers: record.headers,
    raw: record.value,
    value: record.value,
  };
  if (keyFollows) out.keyFollows = true;
  return out;
}

export function withValue<I, O>(record: StageRecord<I>, value: O): StageRecord<O> {
  const out: StageRecord<O> = {
    origin: record.origin,
    key: record.key,
    timestampMs: record.timestampMs,
    headers: record.headers,
    raw: record.raw,
    value,
  };
  if (record.keyFollows === true) out.keyFollows = true;
  return out;
}

/** For each record of a batch, whether a later record of the batch has the same (non-null) key. */
export function keysFollowing(records: readonly { key: string | null }[]): boolean[] {
  const out = new Array<boolean>(records.length).fill(false);
  const seen = new Set<string>();
  for (let i = records.length - 1; i >= 0; i--) {
    const key = (records[i] as { key: string | null }).key;
    if (key === null) continue;
    if (seen.has(key)) out[i] = true;
    else seen.add(key);
  }
  return out;
}

export function failure(stage: string, record: StageRecord<unknown>, error: unknown, policy?: string): StageFailure {
  return policy === undefined ? { failed: true, stage, record, error } : { failed: true, stage, record, error, policy };
}
