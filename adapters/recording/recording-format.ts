import { DecodeError } from '../../core/errors.js';

/**
 * A recording of a range of the event topics (`cachesage record`), read back by `cachesage replay --in`.
 *
 * File format (version 1): gzip-compressed JSON lines, UTF-8.
 * - line 1, the header: `{"format":"cachesage-recording","version":1,"createdAt":ISO,"from":ISO|"beginning",
 *   "to":ISO|"now","topics":{"kv":name,"requests":name},"ranges":[{"topic","partition","start","end"}]}`
 *   (`ranges`: the offsets read per partition, start inclusive, end exclusive; `topics`: which topic held which
 *   stream, either may be null when not recorded);
 * - one line per Kafka record: `{"topic","partition","offset":decimal string,"timestamp":epoch ms,"key":string|null,
 *   "value":base64|null,"headers":{name: value}}`; values are the records' bytes as they were (Avro with the
 *   Confluent framing), so they decode with the schema registry of any later version;
 * - last line, the trailer: `{"end":true,"records":count}`. A file without it was cut short and is refused.
 * Record lines are in no particular order across partitions; readers sort them (by timestamp, then topic,
 * partition and offset).
 */
export const RECORDING_FORMAT = 'cachesage-recording';
export const RECORDING_VERSION = 1;

/** The streams a recording may hold, by role. */
export type RecordedRole = 'kv' | 'requests';
export const RECORDED_ROLES: readonly RecordedRole[] = ['kv', 'requests'];

/** The offsets read from one partition: [start, end). */
export interface RecordedRange {
  topic: string;
  partition: number;
  start: string;
  end: string;
}

export interface RecordingHeader {
  format: typeof RECORDING_FORMAT;
  version: number;
  createdAt: string;
  /** ISO time or `beginning`. */
  from: string;
  /** ISO time or `now` (the end offsets when the recording started). */
  to: string;
  /** Topic name of each role; null where the role was not recorded. */
  topics: Record<RecordedRole, string | null>;
  ranges: RecordedRange[];
}

/** One Kafka record of a recording. */
export interface RecordedRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Kafka record timestamp, epoch ms. */
  timestamp: number;
  key: string | null;
  /** null for a tombstone. */
  value: Uint8Array | null;
  headers: Record<string, string>;
}

export interface RecordingTrailer {
  end: true;
  records: number;
}

export function headerLine(header: RecordingHeader): string {
  return `${JSON.stringify(header)}\n`;
}

export function recordLine(r: RecordedRecord): string {
  return `${JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key,
    value:
      r.value === null ? null : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength).toString('base64'),
    headers: r.headers,
  })}\n`;
}

export function trailerLine(records: number): string {
  return `${JSON.stringify({ end: true, records } satisfies RecordingTrailer)}\n`;
}

function fail(where: string, what: string): never {
  throw new DecodeError('DECODE_FAILED', `${where}: ${what}`);
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** Parses the header line; DecodeError when it is not a recording of a version this reader knows. */
export function parseHeader(line: string, where: string): RecordingHeader {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    fail(where, 'the first line is not JSON: not a CacheSage recording');
  }
  const h = doc as Partial<RecordingHeader>;
  if (typeof h !== 'object' || h === null || h.format !== RECORDING_FORMAT) {
    fail(where, `not a CacheSage recording (format ${JSON.stringify(h?.format)})`);
  }
  if (h.version !== RECORDING_VERSION) {
    fail(where, `recording version ${String(h.version)}; this reader knows version ${RECORDING_VERSION}`);
  }
  if (typeof h.topics !== 'object' || h.topics === null || !Array.isArray(h.ranges)) {
    fail(where, 'header without topics or ranges');
  }
  for (const role of RECORDED_ROLES) {
    const t = h.topics[role];
    if (t !== null && typeof t !== 'string') fail(where, `header topic of ${role} is not a name`);
  }
  return h as RecordingHeader;
}

/** Parses one line after the header: a record, or the trailer. */
export function parseLine(line: string, where: string): RecordedRecord | RecordingTrailer {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(line) as Record<string, unknown>;
  } catch {
    fail(where, 'not JSON');
  }
  if (doc?.end === true) {
    if (!Number.isInteger(doc.records)) fail(where, 'trailer without a record count');
    return { end: true, records: doc.records as number };
  }
  const { topic, partition, offset, timestamp, key, value, headers } = doc;
  if (typeof topic !== 'string' || topic === '') fail(where, 'record without a topic');
  if (!Number.isInteger(partition) || (partition as number) < 0) fail(where, 'record without a partition');
  if (typeof offset !== 'string' || !DECIMAL.test(offset)) fail(where, 'record without a decimal offset');
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) fail(where, 'record without a timestamp');
  if (key !== null && typeof key !== 'string') fail(where, 'record key is neither a string nor null');
  if (value !== null && typeof value !== 'string') fail(where, 'record value is neither base64 nor null');
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) fail(where, 'record without headers');
  const text: Record<string, string> = {};
  for (const [name, v] of Object.entries(headers)) {
    if (typeof v !== 'string') fail(where, `header ${name} is not a string`);
    text[name] = v;
  }
  return {
    topic,
    partition: partition as number,
    offset,
    timestamp,
    key,
    value: value === null ? null : new Uint8Array(Buffer.from(value, 'base64')),
    headers: text,
  };
}

/**
 * Replay order: Kafka timestamp, then the event's own time (`eventTs`, when given: it orders one engine's events that
 * were produced in the same millisecond), then topic, partition and offset.
 */
export function compareRecorded(
  a: RecordedRecord,
  b: RecordedRecord,
  eventTs?: (record: RecordedRecord) => number,
): number {
  if (a.timestamp !== b.timestamp) return a.timestamp - b.timestamp;
  if (eventTs !== undefined) {
    const d = eventTs(a) - eventTs(b);
    if (d !== 0 && Number.isFinite(d)) return d;
  }
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  const oa = BigInt(a.offset);
  const ob = BigInt(b.offset);
  return oa < ob ? -1 : oa > ob ? 1 : 0;
}
