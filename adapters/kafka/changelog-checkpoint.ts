import { DecodeError } from '../../core/errors.js';
import { parseOffset } from './offsets.js';

/**
 * Key of the checkpoint record in a changelog topic. The NUL prefix keeps it apart from every store key (store keys
 * are text the runtime chooses; none starts with NUL).
 */
export const CHECKPOINT_KEY = '\u0000checkpoint';

/**
 * The source positions a changelog's contents cover (DESIGN §7: state stored with the offset it covers): topic →
 * partition → next offset. Written with every flush that changed state, in the same produce request, so a new owner
 * resumes exactly where the state stops and nothing is folded in twice.
 */
export type Checkpoint = Record<string, Record<string, string>>;

export function encodeCheckpoint(positions: Checkpoint): Buffer {
  return Buffer.from(JSON.stringify({ version: 1, positions }), 'utf8');
}

export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new DecodeError('DECODE_FAILED', 'changelog checkpoint: not JSON', { cause: err });
  }
  const positions = (parsed as { positions?: unknown })?.positions;
  if (typeof positions !== 'object' || positions === null) {
    throw new DecodeError('DECODE_FAILED', 'changelog checkpoint: no positions');
  }
  const out: Checkpoint = {};
  for (const [topic, partitions] of Object.entries(positions)) {
    if (typeof partitions !== 'object' || partitions === null) continue;
    for (const [partition, offset] of Object.entries(partitions as Record<string, unknown>)) {
      if (typeof offset !== 'string' || !/^[0-9]+$/.test(partition)) continue;
      try {
        parseOffset(offset);
      } catch {
        continue;
      }
      out[topic] ??= {};
      out[topic][partition] = offset;
    }
  }
  return out;
}

/**
 * The position every given checkpoint covers: per partition the lowest offset, and only partitions every
 * checkpoint names. Stores written in one request carry equal checkpoints; when they differ (a write torn between
 * brokers), the lowest is the safe one (records may be folded twice, never lost).
 */
export function commonCheckpoint(checkpoints: readonly Checkpoint[]): Checkpoint {
  const [first, ...rest] = checkpoints;
  if (first === undefined) return {};
  const out: Checkpoint = {};
  for (const [topic, partitions] of Object.entries(first)) {
    for (const [partition, offset] of Object.entries(partitions)) {
      let low = parseOffset(offset);
      let everywhere = true;
      for (const other of rest) {
        const o = other[topic]?.[partition];
        if (o === undefined) {
          everywhere = false;
          break;
        }
        const v = parseOffset(o);
        if (v < low) low = v;
      }
      if (!everywhere) continue;
      out[topic] ??= {};
      out[topic][partition] = low.toString();
    }
  }
  return out;
}
