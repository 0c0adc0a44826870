import type { Command } from 'commander';
import { RECORDED_ROLES, type RecordedRole } from '../../adapters/recording/recording-format.js';
import { ConfigError } from '../../core/errors.js';
import { KV_EVENTS_TOPIC, REQUESTS_TOPIC } from '../../infra/topics.js';
import { runRecord } from '../../replay/record-run.js';
import { parseRangeEnd, parseRangeStart } from '../../replay/time-range.js';
import { connectionConfigOf, withConnectionOptions } from '../connection-options.js';

interface RecordFlags {
  from: string;
  to: string;
  out: string;
  topics: string;
  kvTopic: string;
  requestsTopic: string;
  idleTimeoutMs: string;
  [flag: string]: unknown;
}

/** `--topics kv,requests` as roles. */
export function parseRoles(text: string): RecordedRole[] {
  const roles = text
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  const unknown = roles.filter((r) => !(RECORDED_ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || unknown.length > 0) {
    throw new ConfigError(
      `--topics: expected a comma-separated list of ${RECORDED_ROLES.join(', ')}, got ${JSON.stringify(text)}`,
    );
  }
  return [...new Set(roles)] as RecordedRole[];
}

/** Adds `cachesage record`. */
export function registerRecord(program: Command, stderr: { write(chunk: string): unknown } = process.stderr): void {
  const command = program
    .command('record')
    .description(
      'write a range of the event topics (KV events, request events) to a file (gzip JSON lines) for `cachesage replay --in`',
    )
    .requiredOption(
      '--from <time|beginning>',
      'first record time, ISO 8601 or epoch ms; beginning: the oldest retained',
    )
    .requiredOption('--to <time|now>', 'records before this time, ISO 8601 or epoch ms; now: the end offsets at start')
    .requiredOption('--out <file>', 'recording file to write (e.g. traffic.jsonl.gz)')
    .option('--topics <roles>', `streams to record: ${RECORDED_ROLES.join(',')}`, 'kv,requests')
    .option('--kv-topic <name>', 'topic of the KV events', KV_EVENTS_TOPIC)
    .option('--requests-topic <name>', 'topic of the request events', REQUESTS_TOPIC)
    .option('--idle-timeout-ms <ms>', 'give up when nothing was read for this long', '30000');
  withConnectionOptions(command, { kafka: true }).action(async (flags: RecordFlags) => {
    const from = parseRangeStart(flags.from);
    const to = parseRangeEnd(flags.to, from);
    const roles = parseRoles(flags.topics);
    const idleTimeoutMs = Number(flags.idleTimeoutMs);
    if (!Number.isInteger(idleTimeoutMs) || idleTimeoutMs < 1) {
      throw new ConfigError(`--idle-timeout-ms: expected an integer ≥ 1, got ${JSON.stringify(flags.idleTimeoutMs)}`);
    }
    const config = connectionConfigOf(flags);
    await runRecord(
      {
        brokers: config.kafkaBrokers,
        security: config.kafkaSecurity,
        from,
        to,
        out: flags.out,
        topics: {
          ...(roles.includes('kv') ? { kv: flags.kvTopic } : {}),
          ...(roles.includes('requests') ? { requests: flags.requestsTopic } : {}),
        },
        idleTimeoutMs,
      },
      stderr,
    );
  });
}
