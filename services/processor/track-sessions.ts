import type { OperatorFunction } from 'rxjs';
import type { Store } from '../../core/io.js';
import type { ObservedEvent } from '../../policies/policy.js';
import { recordOperator } from '../../processors/record-operator.js';
import { failure, type StageOutput, type StageRecord } from '../../processors/stage-record.js';
import type { ModelUpdate, RequestEvent, SessionPosition } from '../../schemas/types.js';
import { addTransition, END_AGENT, emptyModelUpdate, modelKey } from './transition-counts.js';

/** The two stores the session sub-topology folds into. */
export interface SessionStores {
  /** Key sessionId. */
  positions: Store<SessionPosition>;
  /** Key `${workloadId}:${partition}` (`modelKey`). */
  counts: Store<ModelUpdate>;
}

/** What happened to one request event. */
export type TrackOutcome = 'counted' | 'started' | 'covered' | 'duplicate' | 'ignored';

/**
 * Folds one request event read at `partition`/`offset` of the session-keyed topic (DESIGN §7). Only ARRIVED events
 * move a session: the first one starts it, every later one counts the transition from the session's last agent.
 * - An event whose time is not after the session's last call (`lastTs`) is a duplicate (the engine side re-wrote a
 *   batch after a rebalance) and changes nothing.
 * - An event below the offset the workload's stored counts cover was counted by an earlier owner: it moves the
 *   position (if the position lagged) but is not counted again.
 * - Otherwise the transition is counted and the counts' offset moves past the event.
 */
export function trackRequest(
  stores: SessionStores,
  event: RequestEvent,
  partition: number,
  offset: number,
  recordTimeMs: number,
): TrackOutcome {
  if (event.phase !== 'ARRIVED') return 'ignored';
  const position = stores.positions.get(event.sessionId);
  if (position !== undefined && event.ts <= position.lastTs) return 'duplicate';
  const key = modelKey(event.workloadId, partition);
  const stored = stores.counts.get(key);
  const covered = stored !== undefined && offset < stored.offset;
  stores.positions.put(event.sessionId, {
    workloadId: event.workloadId,
    sessionId: event.sessionId,
    lastAgent: event.agentId,
    prevAgent: position?.lastAgent ?? null,
    steps: (position?.steps ?? 0) + 1,
    lastTs: event.ts,
    engineId: event.engineId,
  });
  if (covered) return 'covered';
  const counts = stored ?? emptyModelUpdate(event.workloadId, partition);
  if (position !== undefined) addTransition(counts, position.lastAgent, event.agentId);
  counts.offset = offset + 1;
  counts.updatedAt = recordTimeMs;
  stores.counts.put(key, counts);
  return position === undefined ? 'started' : 'counted';
}

/**
 * Ends every session whose last call is more than `idleMs` before the event time of its partition (`nowOf`):
 * counts its last agent → END in the counts of its partition (the offset they cover does not move) and deletes its
 * position (a tombstone). Returns the ended session ids.
 */
export function expireIdleSessions(
  stores: SessionStores,
  nowOf: (partition: number) => number,
  idleMs: number,
  partitionOf: (sessionId: string) => number,
): string[] {
  const ended: string[] = [];
  for (const [sessionId, position] of [...stores.positions.entries()]) {
    const partition = partitionOf(sessionId);
    const nowMs = nowOf(partition);
    if (nowMs - position.lastTs <= idleMs) continue;
    const key = modelKey(position.workloadId, partition);
    const counts = stores.counts.get(key) ?? emptyModelUpdate(position.workloadId, partition);
    addTransition(counts, position.lastAgent, END_AGENT);
    counts.updatedAt = Math.round(nowMs);
    stores.counts.put(key, counts);
    stores.positions.delete(sessionId);
    ended.push(sessionId);
  }
  return ended;
}

export interface TrackSessionsOptions {
  stage: string;
  stores: SessionStores;
  /** Told about every outcome with the record's partition (metrics, stream time). */
  onOutcome?: (outcome: TrackOutcome, event: RequestEvent, partition: number) => void;
}

/** The `track-sessions` stage: `trackRequest` for every decoded request event; emits nothing downstream. */
export function trackSessions(
  options: TrackSessionsOptions,
): OperatorFunction<StageRecord<ObservedEvent>, StageOutput<never>> {
  const { stage, stores, onOutcome } = options;
  return recordOperator((record: StageRecord<ObservedEvent>, emit: (o: StageOutput<never>) => void) => {
    const value = record.value;
    if (value.type !== 'request') return;
    try {
      const outcome = trackRequest(
        stores,
        value.event,
        record.origin.partition,
        Number(record.origin.offset),
        record.timestampMs,
      );
      onOutcome?.(outcome, value.event, record.origin.partition);
    } catch (err) {
      emit(failure(stage, record, err));
    }
  });
}
