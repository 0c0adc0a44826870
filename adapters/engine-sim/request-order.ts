import { ConfigError } from '../../core/errors.js';
import type { PreparedWorkload } from '../../workloads/types.js';

/**
 * The order in which one engine serves requests (DESIGN §10), fixed before simulation and identical for every
 * policy and evictor. Request i of the engine is turn `turnIndex[i]` of session `sessionIndex[i]` (indices into
 * `workload.sessions` and its `turns`).
 */
export interface EngineOrder {
  engineIndex: number;
  length: number;
  sessionIndex: Uint32Array;
  turnIndex: Uint32Array;
  /**
   * Index in this order of the previous request issued from the same slot: the session's previous call, or the last
   * call of the session this one replaced when it is the session's first call; -1 for a slot's very first request.
   */
  prevInSlot: Int32Array;
  /**
   * Sessions active on the engine when the request was issued (≤ concurrency): occupied slots, a session counting
   * until its slot's next visit after its last call (that call is still running meanwhile).
   */
  activeSessions: Uint32Array;
}

export interface RequestOrder {
  concurrency: number;
  engines: EngineOrder[];
  /** Engine index of each session in file order; -1 for a session without any LLM call. */
  sessionEngine: Int32Array;
  totalRequests: number;
}

export interface RequestOrderOptions {
  /** Active sessions per engine (C). */
  concurrency: number;
  /** Engines sharing the workload (default 1). */
  engines?: number;
}

/**
 * Builds the fixed request order. Sessions with at least one LLM call are assigned to engines round-robin in file
 * order (the k-th such session goes to engine k mod N). On each engine C slots each hold an active session; the
 * engine visits the slots in round-robin, one call per visit; a session whose calls are exhausted is replaced in its
 * slot by the engine's next unassigned session, which issues its first call at the slot's next visit. Turns with
 * `llm === false` are not calls: they are skipped here, and stay in later prompts (the workload encodes them).
 */
export function buildRequestOrder(workload: PreparedWorkload, options: RequestOrderOptions): RequestOrder {
  const { concurrency } = options;
  const engines = options.engines ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ConfigError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
  }
  if (!Number.isInteger(engines) || engines < 1)
    throw new ConfigError(`engines must be an integer ≥ 1, got ${engines}`);

  const sessionEngine = new Int32Array(workload.sessions.length).fill(-1);
  const llmTurns: number[][] = workload.sessions.map((s) => {
    const out: number[] = [];
    s.turns.forEach((t, i) => {
      if (t.llm) out.push(i);
    });
    return out;
  });
  const perEngine: number[][] = Array.from({ length: engines }, () => []);
  let k = 0;
  for (let s = 0; s < workload.sessions.length; s++) {
    if ((llmTurns[s] as number[]).length === 0) continue;
    const e = k++ % engines;
    sessionEngine[s] = e;
    (perEngine[e] as number[]).push(s);
  }

  let totalRequests = 0;
  const orders = perEngine.map((sessions, engineIndex) => {
    const order = buildEngineOrder(engineIndex, sessions, llmTurns, concurrency);
    totalRequests += order.length;
    return order;
  });
  return { concurrency, engines: orders, sessionEngine, totalRequests };
}

interface Slot {
  session: number;
  pos: number;
  last: number;
}

function buildEngineOrder(
  engineIndex: number,
  sessions: number[],
  llmTurns: number[][],
  concurrency: number,
): EngineOrder {
  const sessionIndex: number[] = [];
  const turnIndex: number[] = [];
  const prevInSlot: number[] = [];
  const activeSessions: number[] = [];
  let nextSession = 0;
  const slots: (Slot | null)[] = [];
  for (let c = 0; c < concurrency && nextSession < sessions.length; c++) {
    slots.push({ session: sessions[nextSession++] as number, pos: 0, last: -1 });
  }
  let active = slots.length;
  while (active > 0) {
    for (let c = 0; c < slots.length; c++) {
      const slot = slots[c];
      if (!slot) continue;
      if (slot.pos < 0) {
        slots[c] = null;
        active--;
        continue;
      }
      const turns = llmTurns[slot.session] as number[];
      const index = sessionIndex.length;
      sessionIndex.push(slot.session);
      turnIndex.push(turns[slot.pos] as number);
      prevInSlot.push(slot.last);
      activeSessions.push(active);
      slot.last = index;
      slot.pos++;
      if (slot.pos >= turns.length) {
        if (nextSession < sessions.length) {
          slots[c] = { session: sessions[nextSession++] as number, pos: 0, last: index };
        } else {
          slot.pos = -1;
        }
      }
    }
  }
  return {
    engineIndex,
    length: sessionIndex.length,
    sessionIndex: Uint32Array.from(sessionIndex),
    turnIndex: Uint32Array.from(turnIndex),
    prevInSlot: Int32Array.from(prevInSlot),
    activeSessions: Uint32Array.from(activeSessions),
  };
}
