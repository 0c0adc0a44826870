import { BadRecordError } from '../core/errors.js';
import type { ObservedEvent } from '../policies/policy.js';
import type { KvEvent, KvEventKind, RequestEvent, RequestPhase } from '../schemas/types.js';

const PHASES: ReadonlySet<RequestPhase> = new Set(['ARRIVED', 'PREFILLED', 'FINISHED', 'ABORTED']);
const KV_KINDS: ReadonlySet<KvEventKind> = new Set(['BLOCK_STORED', 'BLOCK_REMOVED', 'ALL_CLEARED']);

function fail(what: string, field: string): never {
  throw new BadRecordError(`${what}: field ${field} missing or invalid`);
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new BadRecordError(`${what}: not an object`);
  }
  return value as Record<string, unknown>;
}

function str(v: Record<string, unknown>, what: string, field: string): void {
  const x = v[field];
  if (typeof x !== 'string' || x.length === 0) fail(what, field);
}

function num(v: Record<string, unknown>, what: string, field: string): void {
  if (!Number.isFinite(v[field])) fail(what, field);
}

function hashes(v: Record<string, unknown>, what: string, field: string): void {
  const x = v[field];
  if (!Array.isArray(x) || (x.length > 0 && typeof x[0] !== 'bigint')) fail(what, field);
}

/**
 * Checks that an in-memory value has the shape of a `RequestEvent` (the values-mode decoder: no bytes, so no Avro;
 * cheap checks of ids, phase, times and arrays, hash arrays by their first element). Throws `BadRecordError`.
 */
export function asRequestEvent(value: unknown): RequestEvent {
  const what = 'RequestEvent';
  const v = record(value, what);
  for (const f of ['eventId', 'requestId', 'engineId', 'workloadId', 'sessionId', 'agentId']) str(v, what, f);
  if (!PHASES.has(v.phase as RequestPhase)) fail(what, 'phase');
  for (const f of ['ts', 'producedAt', 'promptTokens', 'cachedTokens', 'outputTokens']) num(v, what, f);
  hashes(v, what, 'blockHashes');
  hashes(v, what, 'outputBlockHashes');
  if (v.toolCall !== null && typeof v.toolCall !== 'string') fail(what, 'toolCall');
  return value as RequestEvent;
}

/** Checks that an in-memory value has the shape of a `KvEvent`. Throws `BadRecordError`. */
export function asKvEvent(value: unknown): KvEvent {
  const what = 'KvEvent';
  const v = record(value, what);
  str(v, what, 'eventId');
  str(v, what, 'engineId');
  if (!KV_KINDS.has(v.kind as KvEventKind)) fail(what, 'kind');
  for (const f of ['seq', 'ts', 'producedAt']) num(v, what, f);
  hashes(v, what, 'blockHashes');
  if (v.parentHash !== null && typeof v.parentHash !== 'bigint') fail(what, 'parentHash');
  if (!Array.isArray(v.tokenIds)) fail(what, 'tokenIds');
  if (v.medium !== 'GPU' && v.medium !== 'CPU' && v.medium !== 'DISK') fail(what, 'medium');
  return value as KvEvent;
}

/** Wraps a request-event decoder so it yields what policies observe. */
export function observedRequest(decodeEvent: (value: unknown) => RequestEvent): (value: unknown) => ObservedEvent {
  return (value) => ({ type: 'request', event: decodeEvent(value) });
}

/** Wraps a KV-event decoder so it yields what policies observe. */
export function observedKv(decodeEvent: (value: unknown) => KvEvent): (value: unknown) => ObservedEvent {
  return (value) => ({ type: 'kv', event: decodeEvent(value) });
}
