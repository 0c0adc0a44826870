import { ConfigError, reasonOf } from '../../core/errors.js';
import { BLOCK_SIZE, hashBlock, ROOT_HASH } from '../../schemas/block-hash.js';
import type { BlockHash, DeadLetter, KvEvent, Medium } from '../../schemas/types.js';
import type { EngineHashMap } from './engine-hash-map.js';
import { decodeEventBatch, type VllmBlockStored } from './event-batch.js';
import type { KvMessage } from './zmq-message.js';

/** Why (part of) a message did not become a KvEvent. Each occurrence is counted; some are also dead-lettered. */
export type BridgeIssue =
  /** Not a three-part message with an 8-byte sequence (dead-lettered). */
  | 'bad-frames'
  /** Payload is not a msgpack event batch (dead-lettered). */
  | 'bad-payload'
  /** Event tag not known to the bridge (dead-lettered). */
  | 'unknown-tag'
  /** Known tag, unusable fields (dead-lettered). */
  | 'bad-event'
  /** BlockStored chained after a block the bridge never saw stored (dead-lettered). */
  | 'unmapped-parent'
  /** BlockStored whose token_ids length is not blocks × block_size (dead-lettered). */
  | 'token-count-mismatch'
  /** Engine block size that is not a multiple of the layer's (dead-lettered). */
  | 'unsupported-block-size'
  /** Medium outside GPU/CPU/DISK (dead-lettered). */
  | 'unknown-medium'
  /** Removed engine hashes the bridge never saw stored (counted per hash). */
  | 'unmapped-removed'
  /** Hashes of a store without token ids (a CPU-tier copy) that the bridge never saw stored (counted per hash). */
  | 'unmapped-stored'
  /** Event of a KV-cache group other than the one the bridge follows (counted). */
  | 'other-group';

export const DEAD_LETTERED_ISSUES: ReadonlySet<BridgeIssue> = new Set<BridgeIssue>([
  'bad-frames',
  'bad-payload',
  'unknown-tag',
  'bad-event',
  'unmapped-parent',
  'token-count-mismatch',
  'unsupported-block-size',
  'unknown-medium',
]);

export interface KvEventTranslatorOptions {
  engineId: string;
  /** PUB endpoint; dead letters name their origin `vllm:<endpoint>`. */
  endpoint: string;
  /** Engine hash -> layer hash map; the translator reads and extends it. */
  hashMap: EngineHashMap;
  /** KV-cache group followed in hybrid models (events of other groups are counted and dropped). Default 0. */
  kvCacheGroup?: number;
  /** Stage name written into dead letters. Default `vllm-bridge`. */
  stage?: string;
}

/** What one message turned into. `issues` holds one entry per counted problem. */
export interface Translation {
  kvEvents: KvEvent[];
  deadLetters: DeadLetter[];
  issues: BridgeIssue[];
}

export interface KvEventTranslator {
  /** Decodes one message and maps its events into the layer's hash space. Never throws on bad input. */
  translate(message: KvMessage, producedAtMs: number): Translation;
  /** Dead-letters a message that could not even be parsed into topic/seq/payload. */
  rejectMessage(parts: readonly Uint8Array[], error: unknown, producedAtMs: number, seq?: number): Translation;
}

const MEDIA: Readonly<Record<string, Medium>> = { GPU: 'GPU', CPU: 'CPU', DISK: 'DISK' };

/** Creates the translator from vLLM messages to KvEvents (DESIGN §4): pure over the hash map it is given. */
export function createKvEventTranslator(options: KvEventTranslatorOptions): KvEventTranslator {
  const { engineId, endpoint, hashMap } = options;
  if (!engineId) throw new ConfigError('KvEventTranslator: engineId is required');
  if (!endpoint) throw new ConfigError('KvEventTranslator: endpoint is required');
  const kvCacheGroup = options.kvCacheGroup ?? 0;
  if (!Number.isInteger(kvCacheGroup) || kvCacheGroup < 0) {
    throw new ConfigError(`KvEventTranslator: kvCacheGroup must be a non-negative integer, got ${kvCacheGroup}`);
  }
  const stage = options.stage ?? 'vllm-bridge';
  const originTopic = `vllm:${endpoint}`;

  function deadLetter(seq: number, reason: string, payload: Uint8Array, failedAt: number): DeadLetter {
    return {
      originTopic,
      originPartition: 0,
      originOffset: String(seq),
      stage,
      reason,
      failedAt,
      payload,
      key: engineId,
      headers: { engineId },
    };
  }

  function mapStored(
    event: VllmBlockStored,
  ): { hashes: BlockHash[]; parent: BlockHash | null; unknown: number } | { issue: BridgeIssue; reason: string } {
    if (event.tokenIds.length === 0 && event.blockHashes.length > 0) {
      const known = mapKnown(event.blockHashes);
      return { hashes: known.hashes, parent: null, unknown: known.unknown };
    }
    if (event.blockSize <= 0 || event.blockSize % BLOCK_SIZE !== 0) {
      return {
        issue: 'unsupported-block-size',
        reason: `block_size ${event.blockSize} is not a multiple of the layer's ${BLOCK_SIZE}`,
      };
    }
    const expected = event.blockHashes.length * event.blockSize;
    if (event.tokenIds.length !== expected) {
      return {
        issue: 'token-count-mismatch',
        reason: `${event.tokenIds.length} token ids for ${event.blockHashes.length} blocks of ${event.blockSize}`,
      };
    }
    let parent: BlockHash | null = null;
    if (event.parentBlockHash !== null) {
      const mapped = hashMap.tail(event.parentBlockHash);
      if (mapped === undefined) {
        return { issue: 'unmapped-parent', reason: `parent block ${event.parentBlockHash} was never seen stored` };
      }
      parent = mapped;
    }
    const perEngineBlock = event.blockSize / BLOCK_SIZE;
    const hashes: BlockHash[] = [];
    let previous = parent ?? ROOT_HASH;
    for (let b = 0; b < event.blockHashes.length; b++) {
      const layer: BlockHash[] = [];
      for (let j = 0; j < perEngineBlock; j++) {
        previous = hashBlock(previous, event.tokenIds, b * event.blockSize + j * BLOCK_SIZE, BLOCK_SIZE);
        layer.push(previous);
      }
      hashMap.set(event.blockHashes[b] as bigint, layer);
      hashes.push(...layer);
    }
    return { hashes, parent, unknown: 0 };
  }

  /** Layer hashes of engine blocks already mapped; the others are only counted. */
  function mapKnown(engineHashes: readonly bigint[]): { hashes: BlockHash[]; unknown: number } {
    const hashes: BlockHash[] = [];
    let unknown = 0;
    for (const engineHash of engineHashes) {
      const layer = hashMap.get(engineHash);
      if (layer === undefined) unknown++;
      else hashes.push(...layer);
    }
    return { hashes, unknown };
  }

  return {
    translate(message, producedAtMs) {
      const out: Translation = { kvEvents: [], deadLetters: [], issues: [] };
      const { seq, payload } = message;
      let batch: ReturnType<typeof decodeEventBatch>;
      try {
        batch = decodeEventBatch(payload);
      } catch (err) {
        out.issues.push('bad-payload');
        out.deadLetters.push(deadLetter(seq, `bad-payload: ${reasonOf(err)}`, payload, producedAtMs));
        return out;
      }
      const ts = Math.round(batch.ts * 1000);
      const reject = (issue: BridgeIssue, index: number, reason: string) => {
        out.issues.push(issue);
        out.deadLetters.push(deadLetter(seq, `${issue}: event ${index}: ${reason}`, payload, producedAtMs));
      };
      batch.events.forEach((event, index) => {
        const base = { eventId: `${engineId}:${seq}:${index}`, engineId, seq, ts, producedAt: producedAtMs };
        switch (event.type) {
          case 'unknown':
            reject('unknown-tag', index, event.reason);
            return;
          case 'invalid':
            reject('bad-event', index, `${event.tag || 'event'}: ${event.reason}`);
            return;
          case 'AllBlocksCleared':
            out.kvEvents.push({
              ...base,
              kind: 'ALL_CLEARED',
              blockHashes: [],
              parentHash: null,
              tokenIds: [],
              medium: 'GPU',
            });
            return;
          case 'BlockStored':
          case 'BlockRemoved': {
            if (event.groupIdx !== null && event.groupIdx !== kvCacheGroup) {
              out.issues.push('other-group');
              return;
            }
            const medium = event.medium === null ? 'GPU' : MEDIA[event.medium.toUpperCase()];
            if (medium === undefined) {
              reject('unknown-medium', index, `medium ${JSON.stringify(event.medium)}`);
              return;
            }
            if (event.type === 'BlockStored') {
              const mapped = mapStored(event);
              if ('issue' in mapped) {
                reject(mapped.issue, index, mapped.reason);
                return;
              }
              for (let i = 0; i < mapped.unknown; i++) out.issues.push('unmapped-stored');
              if (mapped.hashes.length === 0) return;
              out.kvEvents.push({
                ...base,
                kind: 'BLOCK_STORED',
                blockHashes: mapped.hashes,
                parentHash: mapped.parent,
                tokenIds: event.tokenIds,
                medium,
              });
              return;
            }
            const removed = mapKnown(event.blockHashes);
            for (let i = 0; i < removed.unknown; i++) out.issues.push('unmapped-removed');
            if (removed.hashes.length > 0) {
              out.kvEvents.push({
                ...base,
                kind: 'BLOCK_REMOVED',
                blockHashes: removed.hashes,
                parentHash: null,
                tokenIds: [],
                medium,
              });
            }
            return;
          }
        }
      });
      return out;
    },

    rejectMessage(parts, error, producedAtMs, seq = -1) {
      const payload = parts.length > 0 ? (parts[parts.length - 1] as Uint8Array) : new Uint8Array(0);
      return {
        kvEvents: [],
        deadLetters: [deadLetter(seq, `bad-frames: ${reasonOf(error)}`, payload, producedAtMs)],
        issues: ['bad-frames'],
      };
    },
  };
}
