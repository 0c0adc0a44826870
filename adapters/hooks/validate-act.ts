import type { Act } from '../../schemas/types.js';

type Fields = Record<string, unknown>;

const isText = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
const isTime = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const isSpan = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isHashes = (v: unknown): boolean => Array.isArray(v) && v.every((h) => typeof h === 'bigint');

/** `fromBlock` 0, or k > 0 extending a registration: only with a context and at least one block. */
function isFromBlock(entry: Fields): boolean {
  const k = entry.fromBlock;
  if (!Number.isSafeInteger(k) || (k as number) < 0) return false;
  return k === 0 || (typeof entry.contextId === 'string' && (entry.blockHashes as unknown[]).length > 0);
}

function headerProblem(a: Fields): string | null {
  if (!isText(a.engineId)) return 'engineId';
  if (!Number.isSafeInteger(a.seq) || (a.seq as number) < 0) return 'seq';
  if (!isTime(a.issuedAt)) return 'issuedAt';
  if (!isSpan(a.ttlMs)) return 'ttlMs';
  if (typeof a.causeId !== 'string') return 'causeId';
  if (!isTime(a.causeProducedAt)) return 'causeProducedAt';
  if (!isText(a.policy)) return 'policy';
  return null;
}

function bodyProblem(a: Fields): string | null {
  switch (a.kind) {
    case 'evict': {
      if (!Array.isArray(a.entries)) return 'entries';
      for (const e of a.entries as unknown[]) {
        const entry = e as Fields | null;
        if (typeof entry !== 'object' || entry === null) return 'entries[]';
        if (entry.contextId !== null && typeof entry.contextId !== 'string') return 'entries[].contextId';
        if (!isHashes(entry.blockHashes)) return 'entries[].blockHashes';
        if (entry.fromBlock !== undefined && !isFromBlock(entry)) return 'entries[].fromBlock';
        if (!isTime(entry.priority)) return 'entries[].priority';
      }
      return null;
    }
    case 'prefetch':
      if (!isText(a.sessionId)) return 'sessionId';
      if (!isText(a.agentId)) return 'agentId';
      if (!isHashes(a.blockHashes)) return 'blockHashes';
      return isSpan(a.deadlineMs) ? null : 'deadlineMs';
    case 'pin':
      if (!isHashes(a.blockHashes)) return 'blockHashes';
      return isSpan(a.pinTtlMs) ? null : 'pinTtlMs';
    default:
      return 'kind';
  }
}

/** Null when `value` is a well-formed act; otherwise the name of the first missing or invalid field. */
export function actProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const a = value as Fields;
  return bodyProblem(a) ?? headerProblem(a);
}

export function isAct(value: unknown): value is Act {
  return actProblem(value) === null;
}
