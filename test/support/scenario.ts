import type { KvEvent, RequestEvent } from '../../schemas/types.js';
import { kvEvent, requestEvent } from './events.js';

/** One record to publish: a topic, its key, a value (possibly malformed on purpose) and its time. */
export interface ScenarioRecord {
  topic: 'cachesage.kv-events' | 'cachesage.requests';
  key: string;
  value: RequestEvent | KvEvent | Record<string, unknown>;
  ts: number;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seeded mix of KV events, request events (ARRIVED/FINISHED of sessions on three engines) and, with probability
 * `badP`, malformed records, 10 ms apart.
 */
export function scenario(seed: number, count: number, badP = 0.03): ScenarioRecord[] {
  const rand = mulberry32(seed);
  const agents = ['Planner', 'Coder', 'Critic'];
  const out: ScenarioRecord[] = [];
  for (let i = 0; i < count; i++) {
    const ts = i * 10;
    const engineId = `e${1 + Math.floor(rand() * 3)}`;
    const r = rand();
    if (r < badP) {
      out.push({ topic: 'cachesage.requests', key: engineId, value: { garbage: i }, ts });
    } else if (r < 0.4) {
      const hashes = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => BigInt(Math.floor(rand() * 1e6)));
      out.push({
        topic: 'cachesage.kv-events',
        key: engineId,
        value: kvEvent({ eventId: `ev-${i}`, engineId, seq: i, ts, producedAt: ts + 1, blockHashes: hashes }),
        ts,
      });
    } else {
      const session = `s${Math.floor(rand() * 4)}-${engineId}`;
      const event = requestEvent({
        eventId: `ev-${i}`,
        requestId: `q-${i}`,
        engineId,
        sessionId: session,
        agentId: agents[Math.floor(rand() * agents.length)]!,
        phase: rand() < 0.5 ? 'ARRIVED' : 'FINISHED',
        ts,
        producedAt: ts + 1,
        blockHashes: [BigInt(i), BigInt(i + 1)],
      });
      out.push({ topic: 'cachesage.requests', key: engineId, value: event, ts });
    }
  }
  return out;
}
