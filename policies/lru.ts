import type { Policy } from './policy.js';

/**
 * LRU: the engine unmodified (vLLM's own free-queue order). It observes nothing and never acts, so the engine's
 * eviction stays exactly its LRU order; it runs through the same runtime as every other policy.
 */
export function createLruPolicy(): Policy<null> {
  return {
    name: 'lru',
    createState: () => null,
    observe: () => {},
    decisionPoint: () => null,
    score: (_state, point) => ({ engineId: point.engineId, now: point.now, changed: [] }),
    predict: () => null,
    act: () => [],
  };
}
