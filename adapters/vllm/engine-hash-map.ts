import { ConfigError } from '../../core/errors.js';
import type { BlockHash } from '../../schemas/types.js';
import type { EngineHash } from './engine-hash.js';

export interface EngineHashMapOptions {
  /** Most engine hashes remembered; the least recently used is forgotten beyond it. Default 200,000. */
  capacity?: number;
}

/**
 * Engine hash -> the layer hashes of that engine block (one per 16-token layer block it covers: one when the
 * engine's block size is 16). Bounded, least-recently-used entries are dropped first. A lookup counts as a use.
 */
export class EngineHashMap {
  readonly capacity: number;
  readonly #entries = new Map<EngineHash, BlockHash | BlockHash[]>();

  constructor(options: EngineHashMapOptions = {}) {
    const capacity = options.capacity ?? 200_000;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new ConfigError(`EngineHashMap capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Layer hashes of an engine block, head to tail, or undefined when unknown. */
  get(engineHash: EngineHash): readonly BlockHash[] | undefined {
    const value = this.#entries.get(engineHash);
    if (value === undefined) return undefined;
    this.#entries.delete(engineHash);
    this.#entries.set(engineHash, value);
    return typeof value === 'bigint' ? [value] : value;
  }

  /** Last layer hash of an engine block (what its children chain after), or undefined when unknown. */
  tail(engineHash: EngineHash): BlockHash | undefined {
    const value = this.#entries.get(engineHash);
    if (value === undefined) return undefined;
    this.#entries.delete(engineHash);
    this.#entries.set(engineHash, value);
    return typeof value === 'bigint' ? value : value[value.length - 1];
  }

  set(engineHash: EngineHash, layerHashes: readonly BlockHash[]): void {
    const value = layerHashes.length === 1 ? (layerHashes[0] as BlockHash) : [...layerHashes];
    this.#entries.delete(engineHash);
    this.#entries.set(engineHash, value);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  has(engineHash: EngineHash): boolean {
    return this.#entries.has(engineHash);
  }

  clear(): void {
    this.#entries.clear();
  }
}
