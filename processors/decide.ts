import type { OperatorFunction } from 'rxjs';
import type { ActDraft, ObservedEvent } from '../policies/policy.js';
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
}

/**
 * At each decision point of each policy (`decisionPoint` non-null): score → predict → act, one output record per
 * drafted act, in policy order then draft order. Policies are isolated: one that throws yields a failure naming it
 * and the others still decide.
 */
export function decide(options: DecideOptions): OperatorFunction<StageRecord<ObservedEvent>, StageOutput<DraftedAct>> {
  const { stage, policies } = options;
  return recordOperator((record: StageRecord<ObservedEvent>, emit: (o: StageOutput<DraftedAct>) => void) => {
    const cause = record.value;
    for (const { policy, store } of policies) {
      let drafts: ActDraft[];
      let engineId: string;
      try {
        const state = stateOf({ policy, store });
        const point = policy.decisionPoint(state, cause);
        if (point === null) continue;
        const scores = policy.score(state, point);
        const prediction = policy.predict(state, point);
        drafts = policy.act(state, { point, scores, prediction, cause });
        engineId = point.engineId;
      } catch (err) {
        emit(failure(stage, record, err, policy.name));
        continue;
      }
      for (const draft of drafts) {
        emit(
          withValue(record, {
            policy: policy.name,
            engineId,
            draft,
            causeId: cause.event.eventId,
            causeProducedAt: cause.event.producedAt,
            eventTs: cause.event.ts,
          }),
        );
      }
    }
  });
}
