import type { SimEvent } from '../adapters/engine-sim/engine-sim.js';
import { createCacheSagePolicy } from '../policies/cachesage/cachesage-policy.js';
import { encodeActForNats } from '../schemas/act-codec.js';
import type { Act } from '../schemas/types.js';
import { observed } from './event-stream.js';

/** An act as it travels on NATS: Avro body and headers. */
export interface EncodedAct {
  data: Buffer;
  headers: Record<string, string>;
}

/** The acts CacheSage drafts over `events` (up to `max`), stamped and encoded as the processor publishes them. */
export function actSamples(events: readonly SimEvent[], max = 5000): EncodedAct[] {
  const policy = createCacheSagePolicy();
  const state = policy.createState();
  const out: EncodedAct[] = [];
  let seq = 0;
  for (const e of events) {
    const event = observed(e);
    policy.observe(state, event);
    const point = policy.decisionPoint(state, event);
    if (point === null) continue;
    const scores = policy.score(state, point);
    const prediction = policy.predict(state, point);
    for (const draft of policy.act(state, { point, scores, prediction, cause: event })) {
      const act = {
        ...draft,
        engineId: point.engineId,
        seq: ++seq,
        issuedAt: Date.now(),
        causeId: e.eventId,
        causeProducedAt: e.producedAt,
        policy: policy.name,
      } as Act;
      out.push(encodeActForNats(act));
      if (out.length >= max) return out;
    }
  }
  return out;
}
