import { CacheSageError } from '../../core/errors.js';
import type { BlockHash } from '../../schemas/types.js';
import type { PreparedWorkload } from '../../workloads/types.js';

/**
 * Static facts about a workload's blocks that every simulation of it needs: the block tree (each block's parent and
 * depth in its chain) and, on demand, the map from hash to block id (only acts carry hashes). Build it once per
 * workload and pass it to every simulation of a sweep.
 */
export interface WorkloadIndex {
  readonly workload: PreparedWorkload;
  readonly blockCount: number;
  /** Parent block id of each block, -1 for a chain's first block. */
  readonly parent: Int32Array;
  /** 0-based position of each block in its chain. */
  readonly depth: Uint32Array;
  /** Block id of a hash, or -1 when the workload has no such block. Builds the hash map on first use. */
  idOfHash(hash: BlockHash): number;
}

/** Indexes a workload; throws WORKLOAD_INVALID when a block id is out of range or has two different parents. */
export function indexWorkload(workload: PreparedWorkload): WorkloadIndex {
  const blockCount = workload.hashes.length;
  const parent = new Int32Array(blockCount).fill(-2);
  const depth = new Uint32Array(blockCount);
  const link = (id: number, p: number, d: number, where: string): void => {
    if (id >= blockCount) {
      throw new CacheSageError('WORKLOAD_INVALID', `${where}: block id ${id} out of range (${blockCount} hashes)`);
    }
    const known = parent[id] as number;
    if (known === -2) {
      parent[id] = p;
      depth[id] = d;
    } else if (known !== p) {
      throw new CacheSageError('WORKLOAD_INVALID', `${where}: block ${id} has parents ${known} and ${p}`);
    }
  };
  for (const session of workload.sessions) {
    for (const turn of session.turns) {
      const where = `session ${session.sessionId} turn ${turn.turn}`;
      let p = -1;
      let d = 0;
      for (const id of turn.promptBlocks) {
        link(id, p, d++, where);
        p = id;
      }
      for (const id of turn.outputBlocks) {
        link(id, p, d++, where);
        p = id;
      }
    }
  }
  for (let id = 0; id < blockCount; id++) if (parent[id] === -2) parent[id] = -1;

  let table: HashTable | null = null;
  return {
    workload,
    blockCount,
    parent,
    depth,
    idOfHash(hash: BlockHash): number {
      table ??= buildHashTable(workload.hashes);
      return table.find(hash);
    },
  };
}

interface HashTable {
  find(hash: BlockHash): number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Open addressing over the hashes' 32-bit halves (read through a Uint32Array view: no bigint per entry). */
function buildHashTable(hashes: BigInt64Array): HashTable {
  if (!LITTLE_ENDIAN) {
    const ids = new Map<BlockHash, number>();
    for (let id = 0; id < hashes.length; id++) ids.set(hashes[id] as bigint, id);
    return { find: (hash) => ids.get(hash) ?? -1 };
  }
  const words = new Uint32Array(hashes.buffer, hashes.byteOffset, hashes.length * 2);
  let size = 16;
  while (size < hashes.length * 2) size *= 2;
  const mask = size - 1;
  const slots = new Int32Array(size).fill(-1);
  const slotOf = (lo: number, hi: number): number => (lo ^ Math.imul(hi, 0x9e3779b1)) & mask;
  for (let id = 0; id < hashes.length; id++) {
    const lo = words[2 * id] as number;
    const hi = words[2 * id + 1] as number;
    let s = slotOf(lo, hi);
    for (;;) {
      const other = slots[s] as number;
      if (other < 0) {
        slots[s] = id;
        break;
      }
      if (words[2 * other] === lo && words[2 * other + 1] === hi) break;
      s = (s + 1) & mask;
    }
  }
  return {
    find(hash: BlockHash): number {
      const lo = Number(BigInt.asUintN(32, hash));
      const hi = Number(BigInt.asUintN(32, hash >> 32n));
      let s = slotOf(lo, hi);
      for (;;) {
        const id = slots[s] as number;
        if (id < 0) return -1;
        if (words[2 * id] === lo && words[2 * id + 1] === hi) return id;
        s = (s + 1) & mask;
      }
    },
  };
}
