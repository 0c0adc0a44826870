import type { StageRecord } from '../../processors/stage-record.js';

/** A stage record as a source would produce it, for stage tests. */
export function stageRecord<T>(value: T, offset = 0, topic = 'cachesage.requests', partition = 3): StageRecord<T> {
  return {
    origin: { topic, partition, offset: String(offset) },
    key: 'e1',
    timestampMs: 100 + offset,
    headers: { trace: `t${offset}` },
    raw: value,
    value,
  };
}
