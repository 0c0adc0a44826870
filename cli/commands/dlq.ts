import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.js';
import { markdownTable } from '../../eval/format-table.js';
import { DLQ_TOPIC } from '../../infra/topics.js';
import {
  type DeadLetterEntry,
  decodePayload,
  parsePosition,
  pickDeadLetters,
  readDeadLetters,
  requeueDeadLetters,
} from '../../replay/dead-letters.js';
import { connectionConfigOf, withConnectionOptions } from '../connection-options.js';

interface DlqFlags {
  dlqTopic: string;
  limit?: string;
  all?: boolean;
  json?: boolean;
  [flag: string]: unknown;
}

/** Where `cachesage dlq` prints. */
export interface DlqIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
}

function position(e: DeadLetterEntry): string {
  return `${e.partition}:${e.offset}`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function jsonSafe(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_k, v) =>
      typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v,
    ),
  );
}

function summaryOf(e: DeadLetterEntry) {
  const l = e.letter;
  return {
    position: position(e),
    failedAt: l === null ? null : new Date(l.failedAt).toISOString(),
    origin: l === null ? null : `${l.originTopic}/${l.originPartition}/${l.originOffset}`,
    stage: l?.stage ?? null,
    reason: l?.reason ?? e.error ?? null,
    requeuedFrom: e.letter?.headers?.['cachesage-requeued-from'] ?? null,
  };
}

async function entriesOf(flags: DlqFlags): Promise<DeadLetterEntry[]> {
  const config = connectionConfigOf(flags);
  return readDeadLetters({ brokers: config.kafkaBrokers, security: config.kafkaSecurity, topic: flags.dlqTopic });
}

/** Adds `cachesage dlq list | show | requeue`. */
export function registerDlq(program: Command, io: DlqIo = { stdout: process.stdout, stderr: process.stderr }): void {
  const dlq = program
    .command('dlq')
    .description('inspect dead letters (records a stage could not process) and re-process them');
  const common = (command: Command): Command =>
    withConnectionOptions(command.option('--dlq-topic <name>', 'dead-letter topic', DLQ_TOPIC), { kafka: true });

  common(
    dlq
      .command('list')
      .description('the newest dead letters: position, failure time, origin, stage, reason')
      .option('--limit <n>', 'show at most this many (the newest)', '20')
      .option('--json', 'print JSON lines instead of a table'),
  ).action(async (flags: DlqFlags) => {
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1) {
      throw new ConfigError(`--limit: expected an integer ≥ 1, got ${JSON.stringify(flags.limit)}`);
    }
    const entries = await entriesOf(flags);
    const shown = [...entries].sort((a, b) => a.timestampMs - b.timestampMs).slice(-limit);
    if (flags.json) {
      for (const e of shown) io.stdout.write(`${JSON.stringify(summaryOf(e))}\n`);
      return;
    }
    io.stdout.write(
      `${flags.dlqTopic}: ${entries.length} dead letter(s)${shown.length < entries.length ? `, newest ${shown.length} shown` : ''}\n\n`,
    );
    if (shown.length === 0) return;
    io.stdout.write(
      `${markdownTable(
        ['position', 'failed at', 'origin topic/partition/offset', 'stage', 'reason'],
        shown.map((e) => {
          const s = summaryOf(e);
          return [s.position, s.failedAt ?? '–', s.origin ?? '–', s.stage ?? '–', oneLine(s.reason ?? '', 80)];
        }),
      )}\n`,
    );
  });

  common(
    dlq
      .command('show')
      .description('one dead letter in full, its payload decoded where it can be')
      .argument('<position>', 'partition:offset'),
  ).action(async (text: string, flags: DlqFlags) => {
    const [entry] = pickDeadLetters(await entriesOf(flags), [parsePosition(text)]);
    const e = entry as DeadLetterEntry;
    const l = e.letter;
    io.stdout.write(
      `${JSON.stringify(
        jsonSafe({
          ...summaryOf(e),
          key: l?.key ?? e.key,
          letterHeaders: l?.headers ?? {},
          recordHeaders: e.headers,
          payloadBytes: l?.payload.length ?? null,
          payload: l === null ? null : decodePayload(l.payload),
          payloadBase64: l === null ? null : Buffer.from(l.payload).toString('base64'),
        }),
        null,
        2,
      )}\n`,
    );
  });

  common(
    dlq
      .command('requeue')
      .description("produce dead letters' original payloads back to their origin topics, to be processed again")
      .argument('[positions...]', 'partition:offset of each dead letter')
      .option('--all', 'every dead letter of the topic'),
  ).action(async (texts: string[], flags: DlqFlags) => {
    if ((flags.all === true) === texts.length > 0) {
      throw new ConfigError('dlq requeue: give --all or the positions (partition:offset) of the dead letters');
    }
    const entries = await entriesOf(flags);
    const chosen = flags.all ? entries : pickDeadLetters(entries, texts.map(parsePosition));
    const config = connectionConfigOf(flags);
    const sent = await requeueDeadLetters({
      brokers: config.kafkaBrokers,
      security: config.kafkaSecurity,
      dlqTopic: flags.dlqTopic,
      entries: chosen,
    });
    const byTopic = new Map<string, number>();
    for (const m of sent) byTopic.set(m.destination, (byTopic.get(m.destination) ?? 0) + 1);
    io.stdout.write(
      `requeued ${sent.length} dead letter(s)${sent.length > 0 ? `: ${[...byTopic].map(([t, n]) => `${n} to ${t}`).join(', ')}` : ''}\n`,
    );
  });
}
