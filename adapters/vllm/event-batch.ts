import { Unpackr } from 'msgpackr';
import { DecodeError } from '../../core/errors.js';
import { type EngineHash, toEngineHash } from './engine-hash.js';

/**
 * vLLM `BlockStored`: blocks entered a cache tier. `tokenIds` holds `blockHashes.length × blockSize` ids, or none
 * (block size 0) when the producer does not know them (vLLM's offloading connector storing GPU blocks on the CPU).
 */
export interface VllmBlockStored {
  type: 'BlockStored';
  blockHashes: EngineHash[];
  parentBlockHash: EngineHash | null;
  tokenIds: number[];
  blockSize: number;
  loraId: number | null;
  /** Tier as the engine names it (`GPU`, `CPU`, ...); null in releases that predate the field. */
  medium: string | null;
  loraName: string | null;
  /** KV-cache group of hybrid models; null when the engine omits it (a single group). */
  groupIdx: number | null;
}

/** vLLM `BlockRemoved`: blocks left a cache tier. */
export interface VllmBlockRemoved {
  type: 'BlockRemoved';
  blockHashes: EngineHash[];
  medium: string | null;
  groupIdx: number | null;
}

/** vLLM `AllBlocksCleared`: the cache was reset. */
export interface VllmAllBlocksCleared {
  type: 'AllBlocksCleared';
}

/** An event whose tag this decoder does not know (`unknown`) or whose fields are unusable (`invalid`). */
export interface VllmUndecodedEvent {
  type: 'unknown' | 'invalid';
  tag: string;
  reason: string;
}

export type VllmEvent = VllmBlockStored | VllmBlockRemoved | VllmAllBlocksCleared | VllmUndecodedEvent;

/** One `KVEventBatch`: `[ts, events, data_parallel_rank]` or its map form. */
export interface VllmEventBatch {
  /** Engine wall clock, seconds since the epoch (float). */
  ts: number;
  events: VllmEvent[];
  /** Data-parallel rank of the publisher; null in releases without the field. */
  dpRank: number | null;
}

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' });

const BLOCK_STORED_FIELDS = [
  'block_hashes',
  'parent_block_hash',
  'token_ids',
  'block_size',
  'lora_id',
  'medium',
  'lora_name',
  'extra_keys',
  'group_idx',
] as const;
const BLOCK_REMOVED_FIELDS = ['block_hashes', 'medium', 'group_idx'] as const;
const BATCH_FIELDS = ['ts', 'events', 'data_parallel_rank'] as const;
/** msgspec's default tag field for tagged structs encoded as maps. */
const TAG_FIELD = 'type';

/**
 * Decodes the msgpack payload of one KV-event message. Accepts msgspec's `array_like` layout and the map layout,
 * any number of missing trailing optional fields and unknown extra ones. Throws DecodeError only when the payload
 * is not a batch at all; a single unusable event becomes a `VllmUndecodedEvent` so its neighbours survive.
 */
export function decodeEventBatch(payload: Uint8Array): VllmEventBatch {
  let raw: unknown;
  try {
    raw = unpackr.unpack(payload);
  } catch (err) {
    throw new DecodeError('DECODE_FAILED', `payload is not msgpack: ${(err as Error).message}`, { cause: err });
  }
  const [ts, events, dpRank] = fields(raw, BATCH_FIELDS);
  const tsNumber = toNumber(ts);
  if (tsNumber === undefined) throw new DecodeError('DECODE_FAILED', `batch ts is ${describe(ts)}, expected a number`);
  if (!Array.isArray(events)) {
    throw new DecodeError('DECODE_FAILED', `batch events is ${describe(events)}, expected an array`);
  }
  const rank = dpRank === undefined || dpRank === null ? null : toInteger(dpRank);
  if (rank === undefined) {
    throw new DecodeError('DECODE_FAILED', `batch data_parallel_rank is ${describe(dpRank)}, expected an integer`);
  }
  return { ts: tsNumber, events: events.map(decodeEvent), dpRank: rank };
}

function fields(raw: unknown, names: readonly string[]): unknown[] {
  if (Array.isArray(raw)) return raw;
  if (raw !== null && typeof raw === 'object' && !(raw instanceof Uint8Array)) {
    const record = raw as Record<string, unknown>;
    return names.map((name) => record[name]);
  }
  throw new DecodeError('DECODE_FAILED', `batch is ${describe(raw)}, expected an array or a map`);
}

function decodeEvent(raw: unknown): VllmEvent {
  let tag: unknown;
  let values: unknown[];
  if (Array.isArray(raw)) {
    tag = raw[0];
    values = raw.slice(1);
  } else if (raw !== null && typeof raw === 'object' && !(raw instanceof Uint8Array)) {
    const record = raw as Record<string, unknown>;
    tag = record[TAG_FIELD];
    const names = tag === 'BlockStored' ? BLOCK_STORED_FIELDS : tag === 'BlockRemoved' ? BLOCK_REMOVED_FIELDS : [];
    values = names.map((name) => record[name]);
  } else {
    return { type: 'invalid', tag: '', reason: `event is ${describe(raw)}, expected a tagged array or a map` };
  }
  if (typeof tag !== 'string') return { type: 'invalid', tag: '', reason: `event tag is ${describe(tag)}` };
  switch (tag) {
    case 'BlockStored':
      return blockStored(values);
    case 'BlockRemoved':
      return blockRemoved(values);
    case 'AllBlocksCleared':
      return { type: 'AllBlocksCleared' };
    default:
      return { type: 'unknown', tag, reason: `unknown event tag ${JSON.stringify(tag.slice(0, 64))}` };
  }
}

function blockStored(values: unknown[]): VllmEvent {
  const [hashes, parent, tokenIds, blockSize, loraId, medium, loraName, , groupIdx] = values;
  const invalid = (reason: string): VllmUndecodedEvent => ({ type: 'invalid', tag: 'BlockStored', reason });
  const blockHashes = hashList(hashes);
  if (blockHashes === undefined) return invalid(`block_hashes is ${describe(hashes)}, expected a list of hashes`);
  let parentBlockHash: EngineHash | null = null;
  if (parent !== null && parent !== undefined) {
    const parsed = toEngineHash(parent);
    if (parsed === undefined) return invalid(`parent_block_hash is ${describe(parent)}`);
    parentBlockHash = parsed;
  }
  const tokens = intList(tokenIds);
  if (tokens === undefined) return invalid(`token_ids is ${describe(tokenIds)}, expected a list of integers`);
  const size = toInteger(blockSize);
  if (size === undefined || size < 0) return invalid(`block_size is ${describe(blockSize)}`);
  const lora = optionalInteger(loraId);
  const group = optionalInteger(groupIdx);
  const mediumText = optionalString(medium);
  const loraText = optionalString(loraName);
  if (lora === undefined) return invalid(`lora_id is ${describe(loraId)}`);
  if (group === undefined) return invalid(`group_idx is ${describe(groupIdx)}`);
  if (mediumText === undefined) return invalid(`medium is ${describe(medium)}`);
  if (loraText === undefined) return invalid(`lora_name is ${describe(loraName)}`);
  return {
    type: 'BlockStored',
    blockHashes,
    parentBlockHash,
    tokenIds: tokens,
    blockSize: size,
    loraId: lora,
    medium: mediumText,
    loraName: loraText,
    groupIdx: group,
  };
}

function blockRemoved(values: unknown[]): VllmEvent {
  const [hashes, medium, groupIdx] = values;
  const invalid = (reason: string): VllmUndecodedEvent => ({ type: 'invalid', tag: 'BlockRemoved', reason });
  const blockHashes = hashList(hashes);
  if (blockHashes === undefined) return invalid(`block_hashes is ${describe(hashes)}, expected a list of hashes`);
  const mediumText = optionalString(medium);
  const group = optionalInteger(groupIdx);
  if (mediumText === undefined) return invalid(`medium is ${describe(medium)}`);
  if (group === undefined) return invalid(`group_idx is ${describe(groupIdx)}`);
  return { type: 'BlockRemoved', blockHashes, medium: mediumText, groupIdx: group };
}

function hashList(value: unknown): EngineHash[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out = new Array<EngineHash>(value.length);
  for (let i = 0; i < value.length; i++) {
    const hash = toEngineHash(value[i]);
    if (hash === undefined) return undefined;
    out[i] = hash;
  }
  return out;
}

function intList(value: unknown): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  for (const item of value) {
    if (typeof item !== 'number' || !Number.isInteger(item) || item < 0 || item > 0x7fffffff) return undefined;
  }
  return value as number[];
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

function toInteger(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (
    typeof value === 'bigint' &&
    value <= BigInt(Number.MAX_SAFE_INTEGER) &&
    value >= -BigInt(Number.MAX_SAFE_INTEGER)
  ) {
    return Number(value);
  }
  return undefined;
}

/** null for absent/nil, the integer, or undefined when the value is something else. */
function optionalInteger(value: unknown): number | null | undefined {
  return value === undefined || value === null ? null : toInteger(value);
}

function optionalString(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'nil';
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 32))}`;
  if (typeof value === 'object') return 'a map';
  return `${typeof value} ${String(value)}`;
}
