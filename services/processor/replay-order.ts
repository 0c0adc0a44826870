import type { ObservedEvent } from '../../policies/policy.js';

const SEQUENCED = /^(.*):(\d+)$/;

function sequenceOf(event: ObservedEvent): number | null {
  const match = SEQUENCED.exec(event.event.eventId);
  if (match === null || match[1] !== event.event.engineId) return null;
  const n = Number(match[2]);
  return Number.isSafeInteger(n) ? n : null;
}

function engineOrder(events: ObservedEvent[]): ObservedEvent[] {
  const seqs = events.map(sequenceOf);
  if (seqs.every((s) => s !== null)) {
    return events
      .map((e, i) => ({ e, s: seqs[i] as number }))
      .sort((a, b) => a.s - b.s)
      .map((x) => x.e);
  }
  const rank = (e: ObservedEvent): number => (e.type === 'kv' ? 0 : 1);
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.event.ts - b.e.event.ts || rank(a.e) - rank(b.e) || a.i - b.i)
    .map((x) => x.e);
}

/**
 * The order in which events read back from the two engine topics are folded into a rebuilt state: per engine, the
 * order the engine produced them in (its `<engineId>:<n>` event ids when it numbers them, as the simulator does;
 * else event time, KV events first at equal times), and engines merged by event time.
 */
export function replayOrder(events: readonly ObservedEvent[]): ObservedEvent[] {
  const byEngine = new Map<string, ObservedEvent[]>();
  for (const e of events) {
    const list = byEngine.get(e.event.engineId);
    if (list === undefined) byEngine.set(e.event.engineId, [e]);
    else list.push(e);
  }
  const lanes = [...byEngine.values()].map(engineOrder);
  const heads = lanes.map(() => 0);
  const headOf = (l: number): ObservedEvent | undefined => lanes[l]?.[heads[l] as number];
  const out: ObservedEvent[] = [];
  for (;;) {
    let best = -1;
    let bestTs = 0;
    for (let l = 0; l < lanes.length; l++) {
      const e = headOf(l);
      if (e === undefined) continue;
      if (best < 0 || e.event.ts < bestTs) {
        best = l;
        bestTs = e.event.ts;
      }
    }
    const next = best < 0 ? undefined : headOf(best);
    if (next === undefined) return out;
    out.push(next);
    heads[best] = (heads[best] as number) + 1;
  }
}
