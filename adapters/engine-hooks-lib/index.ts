/**
 * The engine hook library: what an engine process (a vLLM plugin, an SGLang patch, a simulator) links to receive
 * CacheSage's acts over NATS. See docs/vllm.md for what the callbacks must do inside vLLM's block pool.
 */

export type { Act, BlockHash, EvictionEntry, EvictionHints, Pin, Prefetch } from '../../schemas/types.js';
export type { HookCounters, RejectReason } from '../hooks/engine-hooks.js';
export {
  type CreateEngineHooksOptions,
  createEngineHooks,
  type EngineHookCallbacks,
  type EngineHookCounters,
  type EngineHookHandle,
  type NatsCredentials,
} from './create-engine-hooks.js';
