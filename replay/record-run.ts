import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type RangeEnd, type RangeStart, readRange } from '../adapters/recording/read-range.js';
import { createRecordingWriter, type RecordingWriter } from '../adapters/recording/recording-file.js';
import { RECORDING_FORMAT, RECORDING_VERSION, type RecordedRole } from '../adapters/recording/recording-format.js';
import type { KafkaSecurity } from '../core/config.js';
import { ConfigError } from '../core/errors.js';

/** A validated `cachesage record` invocation. */
export interface RecordSettings {
  brokers: readonly string[];
  security?: KafkaSecurity;
  from: RangeStart;
  to: RangeEnd;
  out: string;
  /** Topic name of each stream to record. */
  topics: Partial<Record<RecordedRole, string>>;
  idleTimeoutMs?: number;
}

export interface RecordOutcome {
  path: string;
  records: number;
  byTopic: Record<string, number>;
  bytes: number;
  wallMs: number;
}

/**
 * Runs `cachesage record`: reads the range of the event topics (`readRange`) into a recording file (format in
 * `adapters/recording/recording-format.ts`), reporting progress on `progress` (stderr). The file appears only once
 * complete.
 */
export async function runRecord(
  s: RecordSettings,
  progress: { write(chunk: string): unknown },
): Promise<RecordOutcome> {
  const started = performance.now();
  const roles = (Object.keys(s.topics) as RecordedRole[]).filter((r) => s.topics[r] !== undefined);
  if (roles.length === 0) throw new ConfigError('--topics: nothing to record');
  const names = roles.map((r) => s.topics[r] as string);
  if (new Set(names).size !== names.length) throw new ConfigError(`the topics to record repeat: ${names.join(', ')}`);
  const path = resolve(s.out);
  const byTopic: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  let writer: RecordingWriter | undefined;
  let lastTenth = -1;
  try {
    await readRange(
      {
        brokers: s.brokers,
        topics: names,
        from: s.from,
        to: s.to,
        clientId: 'cachesage-record',
        ...(s.security === undefined ? {} : { security: s.security }),
        ...(s.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: s.idleTimeoutMs }),
        onRanges: (ranges) => {
          writer = createRecordingWriter(path, {
            format: RECORDING_FORMAT,
            version: RECORDING_VERSION,
            createdAt: new Date().toISOString(),
            from: s.from === 'beginning' ? 'beginning' : new Date(s.from).toISOString(),
            to: s.to === 'now' ? 'now' : new Date(s.to).toISOString(),
            topics: { kv: s.topics.kv ?? null, requests: s.topics.requests ?? null },
            ranges: [...ranges],
          });
        },
        onProgress: (read, total) => {
          const tenth = total > 0 ? Math.floor((10 * read) / total) : 10;
          if (tenth === lastTenth) return;
          lastTenth = tenth;
          progress.write(`recording: ${read} of ${total} records (${tenth * 10} %)\n`);
        },
      },
      async (record) => {
        await (writer as RecordingWriter).write(record);
        byTopic[record.topic] = (byTopic[record.topic] ?? 0) + 1;
      },
    );
    await (writer as RecordingWriter).close();
  } catch (err) {
    await writer?.abort();
    throw err;
  }
  const records = (writer as RecordingWriter).records;
  const outcome = {
    path,
    records,
    byTopic,
    bytes: statSync(path).size,
    wallMs: performance.now() - started,
  };
  progress.write(
    `wrote ${outcome.records} records (${names.map((n) => `${n} ${byTopic[n]}`).join(', ')}) to ${path}, ` +
      `${(outcome.bytes / 1024).toFixed(1)} KiB, in ${(outcome.wallMs / 1000).toFixed(1)} s\n`,
  );
  return outcome;
}
