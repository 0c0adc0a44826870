import type { OperatorFunction } from 'rxjs';
import { ConfigError } from '../core/errors.js';
import type { Store } from '../core/io.js';
import type { Act, ActKind } from '../schemas/types.js';
import type { DraftedAct } from './decide.js';
import { recordOperator } from './record-operator.js';
import { failure, type StageOutput, type StageRecord, withValue } from './stage-record.js';

/** Key of an act sequence in the seq store: one counter per (engine, kind, policy). */
export function actSeqKey(engineId: string, kind: ActKind, policy: string): string {
  return `${engineId}|${kind}|${policy}`;
}

export interface StampActsOptions {
  stage: string;
  /** Last issued seq per `actSeqKey`; the next act gets last + 1 (the first gets 1). */
  seqStore: Store<number>;
  /** Issue time (the injected scheduler's clock). Without it, the causing event's time. */
  now?: () => number;
  /** ttl of an act whose draft has no positive `ttlMs`. */
  defaultTtlMs: number;
}

/**
 * Completes each drafted act's header: engineId, seq (per engine, kind and policy, from the seq store), issuedAt,
 * ttlMs, causeId and causeProducedAt of the causing event, policy.
 */
export function stampActs(options: StampActsOptions): OperatorFunction<StageRecord<DraftedAct>, StageOutput<Act>> {
  const { stage, seqStore, now, defaultTtlMs } = options;
  if (!(Number.isFinite(defaultTtlMs) && defaultTtlMs > 0)) {
    throw new ConfigError(`stamp-acts ${stage}: defaultTtlMs must be a positive number, got ${defaultTtlMs}`);
  }
  return recordOperator((record: StageRecord<DraftedAct>, emit: (o: StageOutput<Act>) => void) => {
    const d = record.value;
    try {
      const key = actSeqKey(d.engineId, d.draft.kind, d.policy);
      const seq = (seqStore.get(key) ?? 0) + 1;
      seqStore.put(key, seq);
      const ttlMs = d.draft.ttlMs > 0 ? d.draft.ttlMs : defaultTtlMs;
      const act = Object.assign(
        {
          engineId: d.engineId,
          seq,
          issuedAt: now === undefined ? d.eventTs : now(),
          ttlMs,
          causeId: d.causeId,
          causeProducedAt: d.causeProducedAt,
          policy: d.policy,
        },
        d.draft,
      ) as Act;
      act.ttlMs = ttlMs;
      emit(withValue(record, act));
    } catch (err) {
      emit(failure(stage, record, err, d.policy));
    }
  });
}
