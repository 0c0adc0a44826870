import { type Logger, pino } from 'pino';
import { ConfigError } from '../../core/errors.js';

/** pino levels a service accepts from its configuration. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServiceLoggerOptions {
  /** Service name, the `name` field of every line. */
  name: string;
  level?: string;
  /** Fields on every line (engine id, group id...). */
  base?: Record<string, unknown>;
  /** File descriptor written to; default 2 (stderr: stdout stays for results). */
  fd?: number;
}

export function parseLogLevel(text: string): LogLevel {
  const level = text.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(text)}`);
  }
  return level as LogLevel;
}

/** A structured (JSON lines) logger for a service process. */
export function createServiceLogger(options: ServiceLoggerOptions): Logger {
  return pino(
    { name: options.name, level: parseLogLevel(options.level ?? 'info'), base: { pid: process.pid, ...options.base } },
    pino.destination({ fd: options.fd ?? 2, sync: true }),
  );
}

export type { Logger };
