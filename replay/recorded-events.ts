import { compareRecorded, type RecordedRecord } from '../adapters/recording/recording-format.js';
import { createCodec } from '../schemas/codec.js';
import type { RequestEvent } from '../schemas/types.js';
import type { RecordedRequest } from './requests-to-workload.js';

/** A recorded range put in replay order, with its request events decoded. */
export interface RecordedEvents {
  /** Every record, in replay order (Kafka timestamp, event time, topic, partition, offset). */
  records: RecordedRecord[];
  /** The request events that decoded, with their replay position. */
  requests: RecordedRequest[];
  kvTopic: string | null;
  requestsTopic: string | null;
  /** Records of either stream whose value does not decode (the topology dead-letters them). */
  undecodable: number;
}

/**
 * Orders recorded records for replay and decodes the request events. KV events and request events produced in the
 * same millisecond are ordered by their own event time, which keeps one engine's arrivals, cache steps and finishes
 * in the order the engine made them.
 */
export function orderRecorded(
  records: readonly RecordedRecord[],
  topics: { kv: string | null; requests: string | null },
): RecordedEvents {
  const kvCodec = createCodec('KvEvent');
  const requestCodec = createCodec('RequestEvent');
  const eventTs = new Map<RecordedRecord, number>();
  const decoded = new Map<RecordedRecord, RequestEvent>();
  let undecodable = 0;
  for (const r of records) {
    if (r.topic !== topics.kv && r.topic !== topics.requests) continue;
    try {
      if (r.value === null) throw new Error('tombstone');
      if (r.topic === topics.requests) {
        const event = requestCodec.decode(r.value);
        decoded.set(r, event);
        eventTs.set(r, event.ts);
      } else eventTs.set(r, kvCodec.decode(r.value).ts);
    } catch {
      undecodable++;
    }
  }
  const ordered = [...records].sort((a, b) => compareRecorded(a, b, (r) => eventTs.get(r) ?? Number.NaN));
  const requests: RecordedRequest[] = [];
  ordered.forEach((r, position) => {
    const event = decoded.get(r);
    if (event !== undefined) requests.push({ event, position });
  });
  return { records: ordered, requests, kvTopic: topics.kv, requestsTopic: topics.requests, undecodable };
}
