import { describe, expect, it } from 'vitest';
import type { ObservedEvent } from '../../../policies/policy.js';
import { replayOrder } from '../../../services/processor/replay-order.js';
import { kvEvent, requestEvent } from '../../support/events.js';

const kv = (engineId: string, n: number, ts: number): ObservedEvent => ({
  type: 'kv',
  event: kvEvent({ engineId, eventId: `${engineId}:${n}`, ts }),
});
const rq = (engineId: string, n: number, ts: number): ObservedEvent => ({
  type: 'request',
  event: requestEvent({ engineId, eventId: `${engineId}:${n}`, ts }),
});
const ids = (events: ObservedEvent[]) => events.map((e) => e.event.eventId);

describe('replay order of a rebuild', () => {
  it("restores an engine's own numbering across its two topics", () => {
    const events = [kv('e1', 1, 5), kv('e1', 2, 5), kv('e1', 4, 9), rq('e1', 0, 5), rq('e1', 3, 9)];
    expect(ids(replayOrder(events))).toEqual(['e1:0', 'e1:1', 'e1:2', 'e1:3', 'e1:4']);
  });

  it('falls back to event time, KV events first at equal times, when ids carry no numbering', () => {
    const events: ObservedEvent[] = [
      { type: 'request', event: requestEvent({ engineId: 'v', eventId: 'a', ts: 7 }) },
      { type: 'kv', event: kvEvent({ engineId: 'v', eventId: 'b', ts: 7 }) },
      { type: 'kv', event: kvEvent({ engineId: 'v', eventId: 'c', ts: 3 }) },
    ];
    expect(ids(replayOrder(events))).toEqual(['c', 'b', 'a']);
  });

  it('merges engines by event time, keeping each engine in its own order', () => {
    const events = [rq('x', 0, 10), rq('y', 0, 1), kv('x', 1, 10), rq('y', 1, 20), kv('x', 2, 15)];
    const out = ids(replayOrder(events));
    expect(out).toEqual(['y:0', 'x:0', 'x:1', 'x:2', 'y:1']);
  });
});
