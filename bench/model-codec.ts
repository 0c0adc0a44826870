import { Packr } from 'msgpackr';
import type { ValueCodec } from '../adapters/kafka/value-codecs.js';
import { resolveCacheSageOptions } from '../policies/cachesage/options.js';
import { type CacheSageState, createCacheSageState, workloadOf } from '../policies/cachesage/state.js';
import type { TransitionModel } from '../policies/cachesage/transition-model.js';

/**
 * Changelog codec of CacheSage's store in the benchmark processor: every commit writes the learned model (each
 * workload's transition counts, msgpack); the per-engine state (resident blocks, contexts) is not written, since a
 * new owner rebuilds it by replaying the engine's KV events (DESIGN §7). `decode` gives a state holding the models.
 */
export function cacheSageModelCodec(): ValueCodec<CacheSageState> {
  const packr = new Packr({ mapsAsObjects: false, useRecords: false, moreTypes: true });
  return {
    encode: (state) => packr.pack([...state.workloads].map(([id, w]) => [id, w.model])),
    decode(bytes) {
      const state = createCacheSageState(resolveCacheSageOptions());
      for (const [id, model] of packr.unpack(bytes) as [string, TransitionModel][]) workloadOf(state, id).model = model;
      return state;
    },
  };
}
