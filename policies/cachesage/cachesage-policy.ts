import type { DecisionPoint, Policy } from '../policy.js';
import { actFor, predictSession, scoreEngine } from './decide.js';
import { observeEvent } from './observe.js';
import { type CacheSageOptions, resolveCacheSageOptions } from './options.js';
import { encodeWorkloadModel, restoreState, snapshotState } from './snapshot.js';
import { type CacheSageState, createCacheSageState } from './state.js';

/**
 * CacheSage (DESIGN §6): learns online, per workload, when each agent of a session speaks again (transition chain,
 * return-time mixture, session liveness), ranks cached contexts by their survival value (will their agent speak
 * again before they would be evicted?) and sends the engine eviction priorities; a context whose request has
 * arrived is kept until it is served. With a CPU tier it prefetches the context of the engine's next cache step: a
 * waiting request's missing blocks while the request ahead of it is in prefill, and at each step end the likely next
 * agents' contexts (see `prefetch.ts`). State is plain data; `snapshot`/`restore` give an exact compact binary form
 * (see `snapshot.ts`).
 * Decision points: every request event (arrival and finish) of an engine, and every GPU store that extends a running
 * request's context (its output blocks get the context's priority before the request finishes). An engine with no
 * CPU-tier blocks can have its decisions conflated (a later scoring restates every priority; nothing is one-off).
 */
export function createCacheSagePolicy(options: Partial<CacheSageOptions> = {}): Policy<CacheSageState> {
  const resolved = resolveCacheSageOptions(options);
  return {
    name: 'cachesage',
    createState: () => createCacheSageState(resolved),
    observe: observeEvent,
    decisionPoint(state, event): DecisionPoint | null {
      if (event.type === 'kv') {
        return state.grewOn === null ? null : { engineId: state.grewOn, sessionId: null, now: event.event.ts };
      }
      const ev = event.event;
      if (ev.phase !== 'ARRIVED' && ev.phase !== 'FINISHED') return null;
      return { engineId: ev.engineId, sessionId: ev.sessionId, now: ev.ts };
    },
    score: scoreEngine,
    predict: predictSession,
    act: actFor,
    // a later scoring of the engine restates every changed priority; only prefetches (from the CPU tier) are one-off
    conflatable: (state, point) => (state.engines.get(point.engineId)?.cpu.size ?? 0) === 0,
    stateBytes: cacheSageModelBytes,
    snapshot: snapshotState,
    restore: restoreState,
  };
}

/**
 * Serialized size of the learned models (every workload's block in a snapshot: transition counts, return models,
 * liveness, rank judge, anchor samples). Sessions and engines (positions, resident blocks) are runtime state, not
 * counted here; `snapshot` carries them too.
 */
export function cacheSageModelBytes(state: CacheSageState): number {
  let bytes = 0;
  for (const w of state.workloads.values()) bytes += encodeWorkloadModel(w).length;
  return bytes;
}

/** Serialized bytes of the learned model per workload (its block in a snapshot). */
export function cacheSageModelBytesPerWorkload(state: CacheSageState): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [id, w] of state.workloads) out[id] = encodeWorkloadModel(w).length;
  return out;
}
