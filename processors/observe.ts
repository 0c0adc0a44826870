import type { OperatorFunction } from 'rxjs';
import type { ObservedEvent } from '../policies/policy.js';
import { POLICY_STATE_KEY, type PolicyBinding, stateOf } from './policy-state.js';
import { recordOperator } from './record-operator.js';
import { failure, type StageOutput, type StageRecord } from './stage-record.js';

export interface ObserveOptions {
  stage: string;
  /** Every policy folds every event, in this order. */
  policies: readonly PolicyBinding[];
}

/**
 * Folds each event into every policy's state (`policy.observe`), writes the state back to its store (so a
 * changelog-backed store sees the change), and passes the record on. Policies are isolated: one that throws yields a
 * failure naming it, the others still observe the event, and the record goes on.
 */
export function observe(
  options: ObserveOptions,
): OperatorFunction<StageRecord<ObservedEvent>, StageOutput<ObservedEvent>> {
  const { stage, policies } = options;
  return recordOperator((record: StageRecord<ObservedEvent>, emit: (o: StageOutput<ObservedEvent>) => void) => {
    for (const binding of policies) {
      try {
        const state = stateOf(binding);
        binding.policy.observe(state, record.value);
        binding.store.put(POLICY_STATE_KEY, state);
      } catch (err) {
        emit(failure(stage, record, err, binding.policy.name));
      }
    }
    emit(record);
  });
}
