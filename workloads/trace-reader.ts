import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { CacheSageError } from '../core/errors.js';
import { WorkloadError } from './errors.js';

/** One line of a trace (format v1), validated. */
export interface TraceTurn {
  /** `turn` as written in the file. */
  turn: number;
  agent: string;
  content: string;
  meta: Record<string, unknown> | null;
  /** 1-based line number in the (decompressed) file. */
  line: number;
}

export interface TraceSession {
  sessionId: string;
  turns: TraceTurn[];
}

/** A whole trace file, validated, in file order. */
export interface Trace {
  path: string;
  /** `workload` of the first valid line. */
  workloadId: string;
  sessions: TraceSession[];
  /** Lines skipped as invalid (only with `skipBadLines`). */
  skippedLines: number;
  /** sha256 (hex) of the file's bytes as stored (compressed or not). */
  sha256: string;
}

export interface ReadTraceOptions {
  /** Skip invalid lines and count them instead of stopping at the first one. Default false. */
  skipBadLines?: boolean;
  /** Called with each skipped line's error (only with `skipBadLines`). */
  onBadLine?: (error: WorkloadError) => void;
}

/** The trace file's name without `.jsonl` / `.jsonl.gz` (or `.json[.gz]`), with its folder. */
export function traceStem(path: string): string {
  return path.replace(/\.jsonl?(\.gz)?$/i, '');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmptyString(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

interface ParsedLine {
  workload: string;
  session: string;
  turn: TraceTurn;
}

function parseLine(text: string, line: number): ParsedLine | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `invalid JSON (${(err as Error).message})`;
  }
  if (!isPlainObject(value)) return `not a JSON object (got ${Array.isArray(value) ? 'an array' : typeof value})`;
  for (const key of ['workload', 'session', 'agent']) {
    if (nonEmptyString(value, key) === undefined) {
      return key in value
        ? `field '${key}' must be a non-empty string (got ${JSON.stringify(value[key])?.slice(0, 60)})`
        : `missing field '${key}'`;
    }
  }
  if (!('turn' in value)) return `missing field 'turn'`;
  const turn = value.turn;
  if (typeof turn !== 'number' || !Number.isInteger(turn) || turn < 0) {
    return `field 'turn' must be an integer >= 0 (got ${JSON.stringify(turn)})`;
  }
  if (!('content' in value)) return `missing field 'content'`;
  if (typeof value.content !== 'string') return `field 'content' must be a string (got ${typeof value.content})`;
  const meta = value.meta;
  if (meta !== undefined && meta !== null && !isPlainObject(meta)) {
    return `field 'meta' must be an object when present (got ${Array.isArray(meta) ? 'an array' : typeof meta})`;
  }
  return {
    workload: value.workload as string,
    session: value.session as string,
    turn: {
      turn,
      agent: value.agent as string,
      content: value.content,
      meta: (meta as Record<string, unknown> | undefined) ?? null,
      line,
    },
  };
}

/**
 * Streams a trace (`.jsonl`, or gzip when the name ends in `.gz`) line by line and validates every line: a JSON
 * object with non-empty `workload`/`session`/`agent` strings, an integer `turn` >= 0 that starts at 0 and counts up
 * by one within a session, a string `content`, an optional object `meta`; the turns of a session are consecutive
 * lines. Blank lines are ignored. Stops at the first bad line with a WorkloadError naming the file and line, unless
 * `skipBadLines` (then the next accepted turn of a session may follow a gap left by skipped lines).
 */
export async function readTrace(path: string, options: ReadTraceOptions = {}): Promise<Trace> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error('not a file');
  } catch (err) {
    throw new CacheSageError('NOT_FOUND', `trace file ${path} not found or not a file`, { cause: err });
  }
  const raw = createReadStream(path);
  const hash = createHash('sha256');
  raw.on('data', (chunk) => hash.update(chunk));
  const input = /\.gz$/i.test(path) ? raw.pipe(createGunzip()) : raw;
  if (input !== raw) raw.on('error', (err) => input.destroy(err));
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });

  const sessions: TraceSession[] = [];
  const finished = new Map<string, number>();
  let current: TraceSession | null = null;
  let currentStartLine = 0;
  let workloadId: string | null = null;
  let skipped = 0;
  let gapAllowed = false;
  let lineNo = 0;

  const bad = (line: number, what: string): void => {
    const error = new WorkloadError(`${path}:${line}: ${what}`, { details: { file: path, line } });
    if (!options.skipBadLines) throw error;
    skipped++;
    gapAllowed = true;
    options.onBadLine?.(error);
  };

  try {
    for await (const text of rl) {
      lineNo++;
      if (text.trim().length === 0) continue;
      const parsed = parseLine(text, lineNo);
      if (typeof parsed === 'string') {
        bad(lineNo, parsed);
        continue;
      }
      const { session, turn } = parsed;
      if (current === null || current.sessionId !== session) {
        const startedAt = finished.get(session);
        if (startedAt !== undefined) {
          bad(
            lineNo,
            `session '${session}' reappears after other sessions (it started at line ${startedAt}; a session's turns must be consecutive lines)`,
          );
          continue;
        }
        if (turn.turn !== 0 && !gapAllowed) {
          bad(lineNo, `session '${session}' starts at turn ${turn.turn} (expected 0)`);
          continue;
        }
        if (current) finished.set(current.sessionId, currentStartLine);
        current = { sessionId: session, turns: [] };
        currentStartLine = lineNo;
        sessions.push(current);
      } else {
        const last = current.turns[current.turns.length - 1] as TraceTurn;
        const ok = gapAllowed ? turn.turn > last.turn : turn.turn === last.turn + 1;
        if (!ok) {
          bad(
            lineNo,
            `turn ${turn.turn} of session '${session}' does not follow turn ${last.turn} (turns must be consecutive)`,
          );
          continue;
        }
      }
      workloadId ??= parsed.workload;
      current.turns.push(turn);
      gapAllowed = false;
    }
  } catch (err) {
    if (err instanceof CacheSageError) throw err;
    throw new WorkloadError(`${path}: cannot read (${(err as Error).message})`, { cause: err });
  } finally {
    rl.close();
    raw.destroy();
  }
  if (workloadId === null) throw new WorkloadError(`${path}: no valid trace line`, { details: { file: path } });
  return { path, workloadId, sessions, skippedLines: skipped, sha256: hash.digest('hex') };
}
