import { once } from 'node:events';
import { createReadStream, createWriteStream, renameSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip, createGzip } from 'node:zlib';
import { ConfigError, DecodeError } from '../../core/errors.js';
import {
  headerLine,
  parseHeader,
  parseLine,
  type RecordedRecord,
  type RecordingHeader,
  recordLine,
  trailerLine,
} from './recording-format.js';

/** Writes a recording file (see `recording-format.ts`); the file appears under its name only once `close()` is done. */
export interface RecordingWriter {
  readonly path: string;
  readonly records: number;
  /** Appends one record; resolves when the stream accepts more (back-pressure). */
  write(record: RecordedRecord): Promise<void>;
  /** Writes the trailer, flushes and renames the temporary file to `path`. */
  close(): Promise<void>;
  /** Stops and removes the temporary file. */
  abort(): Promise<void>;
}

/** Starts a recording file at `path` with `header` (written to `<path>.partial` until closed). */
export function createRecordingWriter(path: string, header: RecordingHeader): RecordingWriter {
  const partial = `${path}.partial`;
  const file = createWriteStream(partial);
  const gzip = createGzip();
  gzip.pipe(file);
  let failure: unknown;
  const onError = (err: unknown) => {
    failure ??= err;
  };
  file.on('error', onError);
  gzip.on('error', onError);
  let records = 0;
  const push = async (text: string): Promise<void> => {
    if (failure !== undefined) throw writeError(partial, failure);
    if (!gzip.write(text)) await once(gzip, 'drain');
  };
  void push(headerLine(header)).catch(onError);
  return {
    path,
    get records() {
      return records;
    },
    async write(record) {
      await push(recordLine(record));
      records++;
    },
    async close() {
      await push(trailerLine(records));
      gzip.end();
      await once(file, 'close');
      if (failure !== undefined) throw writeError(partial, failure);
      renameSync(partial, path);
    },
    async abort() {
      gzip.destroy();
      file.destroy();
      rmSync(partial, { force: true });
    },
  };
}

function writeError(path: string, err: unknown): ConfigError {
  return new ConfigError(`cannot write recording ${path}: ${(err as Error).message}`, { cause: err });
}

/** A recording read back: its header and its records in file order. */
export interface Recording {
  header: RecordingHeader;
  records: RecordedRecord[];
}

/**
 * Reads a whole recording file. DecodeError (DECODE_FAILED) when the file is not a recording, a line is malformed,
 * or the trailer is missing or disagrees with the records read (a file cut short).
 */
export async function readRecording(path: string): Promise<Recording> {
  const input = createReadStream(path);
  const gunzip = createGunzip();
  let streamError: unknown;
  input.on('error', (err) => {
    streamError ??= err;
    gunzip.destroy(err);
  });
  gunzip.on('error', (err) => {
    streamError ??= err;
  });
  const lines = createInterface({ input: input.pipe(gunzip), crlfDelay: Number.POSITIVE_INFINITY });
  let header: RecordingHeader | undefined;
  const records: RecordedRecord[] = [];
  let trailer: number | undefined;
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line === '') continue;
      const where = `${path} line ${n}`;
      if (header === undefined) {
        header = parseHeader(line, where);
        continue;
      }
      if (trailer !== undefined) throw new DecodeError('DECODE_FAILED', `${where}: data after the trailer`);
      const parsed = parseLine(line, where);
      if ('end' in parsed) trailer = parsed.records;
      else records.push(parsed);
    }
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    streamError ??= err;
  }
  if (streamError !== undefined) {
    const code = (streamError as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DecodeError('DECODE_FAILED', `recording ${path} does not exist`);
    throw new DecodeError('DECODE_FAILED', `recording ${path} is unreadable: ${(streamError as Error).message}`, {
      cause: streamError,
    });
  }
  if (header === undefined) throw new DecodeError('DECODE_FAILED', `recording ${path} is empty`);
  if (trailer === undefined) {
    throw new DecodeError(
      'DECODE_FAILED',
      `recording ${path} has no trailer: it was cut short (${records.length} records)`,
    );
  }
  if (trailer !== records.length) {
    throw new DecodeError(
      'DECODE_FAILED',
      `recording ${path}: the trailer counts ${trailer} records, the file holds ${records.length}`,
    );
  }
  return { header, records };
}
