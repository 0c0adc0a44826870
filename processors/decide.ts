import type { OperatorFunction } from 'rxjs';
import type { ActDraft, DecisionPoint, ObservedEvent } from '../policies/policy.js';
import { type PolicyBinding, stateOf } from './policy-state.js';
import { recordOperator } from './record-operator.js';
import { failure, type StageOutput, type StageRecord, withValue } from './stage-record.js';

/** An act as a policy drafted it, with what the stamp stage needs to complete its header. */
export interface DraftedAct {
  policy: string;
  engineId: string;
  draft: ActDraft;
  /** eventId and producedAt of the event that caused it; `eventTs` its event time. */
  causeId: string;
  causeProducedAt: number;
  eventTs: number;
}

export interface DecideOptions {
  stage: string;
  policies: readonly PolicyBinding[];
  /**
   * Conflation under backlog: where the policy calls a decision point `conflatable` and a later record of the same
   * batch has the same key, the decision is left to that record (which decides the deferred point first, then its own).
   * Default false: every decision point decides.
   */
  conflate?: boolean;
  /** Decision points deferred by conflation, per policy and record key (default: a fresh buffer of this stage). */
  deferred?: DeferredDecisions;
}

/** A decision point left to a later record, with the event that caused it. */
export interface DeferredDecision {
  point: DecisionPoint;
  cause: ObservedEvent;
}

/** Deferred decision points by policy name, then record key. Empty again after every batch. */
export type DeferredDecisions = Map<string, Map<string, DeferredDecision>>;

export function createDeferredDecisions(): DeferredDecisions {
  return new Map();
}

/**
 * At each decision point of each policy (`decisionPoint` non-null): score → predict → act, one output record per
 * drafted act, in policy order then draft order. Policies are isolated: one that throws yields a failure naming it
 * and the others still decide. With `conflate`, a conflatable point followed by a record of the same key in the
 * batch is deferred; the key's next record that has a point it does not defer, or its last record of the batch,
 * decides the deferred point first (its acts name the deferred point's cause, so measured latency counts from the
 * earlier event), then its own point if it has one.
 */
export function decide(options: DecideOptions): OperatorFunction<StageRecord<ObservedEvent>, StageOutput<DraftedAct>> {
  const { stage, policies } = options;
  const deferred = options.conflate === true ? (options.deferred ?? createDeferredDecisions()) : null;
  return recordOperator((record: StageRecord<ObservedEvent>, emit: (o: StageOutput<DraftedAct>) => void) => {
    for (const binding of policies) {
      const { policy } = binding;
      let state: unknown;
      let point: DecisionPoint | null;
      try {
        state = stateOf(binding);
        point = policy.decisionPoint(state, record.value);
      } catch (err) {
        emit(failure(stage, record, err, policy.name));
        continue;
      }
      if (deferred !== null && record.key !== null) {
        let mine = deferred.get(policy.name);
        try {
          if (point !== null && record.keyFollows === true && policy.conflatable?.(state, point) === true) {
            if (mine === undefined) {
              mine = new Map();
              deferred.set(policy.name, mine);
            }
            // the latest point (the engine as it stands now), the earliest cause (latency counts from it)
            mine.set(record.key, { point, cause: mine.get(record.key)?.cause ?? record.value });
            continue;
          }
        } catch (err) {
          emit(failure(stage, record, err, policy.name));
          continue;
        }
        const earlier = point !== null || record.keyFollows !== true ? mine?.get(record.key) : undefined;
        if (earlier !== undefined) {
          mine?.delete(record.key);
          decideAt(binding, state, earlier.point, earlier.cause, record, emit);
        }
      }
      if (point !== null) decideAt(binding, state, point, record.value, record, emit);
    }
  });

  /** score → predict → act at `point`, one output per drafted act (a failure instead when the policy throws). */
  function decideAt(
    binding: PolicyBinding,
    state: unknown,
    point: DecisionPoint,
    cause: ObservedEvent,
    record: StageRecord<ObservedEvent>,
    emit: (o: StageOutput<DraftedAct>) => void,
  ): void {
    const { policy } = binding;
    let drafts: ActDraft[];
    try {
      const scores = policy.score(state, point);
      const prediction = policy.predict(state, point);
      drafts = policy.act(state, { point, scores, prediction, cause });
    } catch (err) {
      emit(failure(stage, record, err, policy.name));
      return;
    }
    for (const draft of drafts) {
      emit(
        withValue(record, {
          policy: policy.name,
          engineId: point.engineId,
          draft,
          causeId: cause.event.eventId,
          causeProducedAt: cause.event.producedAt,
          eventTs: cause.event.ts,
        }),
      );
    }
  }
}
