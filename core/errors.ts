/**
 * One error hierarchy for the whole layer. Every error carries a stable `code`, a `retriable` flag that says
 * whether repeating the same operation may succeed (a broker not yet reachable: yes; a malformed record or a
 * programmer error: never), and an optional `cause`.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'DECODE_FAILED'
  | 'UNKNOWN_SCHEMA'
  | 'ENCODE_FAILED'
  | 'BAD_RECORD'
  | 'TOPOLOGY_INVALID'
  | 'DUPLICATE_NAME'
  | 'NOT_FOUND'
  | 'INFRA_MISSING'
  | 'INFRA_PORT_TAKEN'
  | 'INFRA_START_FAILED'
  | 'CONNECTION_FAILED'
  | 'TIMEOUT'
  | 'ACT_REJECTED'
  | 'WORKLOAD_INVALID'
  | 'PROGRAMMER_ERROR';

export interface CacheSageErrorOptions {
  retriable?: boolean;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class CacheSageError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: CacheSageErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = options.details;
  }
}

/** Invalid configuration or options given to a factory; never retriable. */
export class ConfigError extends CacheSageError {
  constructor(message: string, options: Omit<CacheSageErrorOptions, 'retriable'> = {}) {
    super('CONFIG_INVALID', message, { ...options, retriable: false });
  }
}

/** Bytes that cannot be decoded into a record (bad framing, unknown schema id, truncated body). */
export class DecodeError extends CacheSageError {
  constructor(
    code: 'DECODE_FAILED' | 'UNKNOWN_SCHEMA',
    message: string,
    options: Omit<CacheSageErrorOptions, 'retriable'> = {},
  ) {
    super(code, message, { ...options, retriable: false });
  }
}

/** A value that does not fit its schema; `details.path` names the offending field. Never retriable. */
export class EncodeError extends CacheSageError {
  constructor(message: string, options: Omit<CacheSageErrorOptions, 'retriable'> = {}) {
    super('ENCODE_FAILED', message, { ...options, retriable: false });
  }
}

/** A record that decodes but violates a contract (missing field, wrong engine, out of range). */
export class BadRecordError extends CacheSageError {
  constructor(message: string, options: Omit<CacheSageErrorOptions, 'retriable'> = {}) {
    super('BAD_RECORD', message, { ...options, retriable: false });
  }
}

/** A topology definition that cannot run: a duplicate name, a dangling reference, a cycle. Never retriable. */
export class TopologyError extends CacheSageError {
  constructor(
    code: 'TOPOLOGY_INVALID' | 'DUPLICATE_NAME',
    message: string,
    options: Omit<CacheSageErrorOptions, 'retriable'> = {},
  ) {
    super(code, message, { ...options, retriable: false });
  }
}

/** A bug in the caller: a violated precondition. Never retried. */
export class ProgrammerError extends CacheSageError {
  constructor(message: string, options: Omit<CacheSageErrorOptions, 'retriable'> = {}) {
    super('PROGRAMMER_ERROR', message, { ...options, retriable: false });
  }
}

/** A service (Kafka, NATS, a process) could not be reached or started. Usually retriable. */
export class InfraError extends CacheSageError {}

export function isRetriable(err: unknown): boolean {
  return err instanceof CacheSageError && err.retriable;
}

/** Renders any thrown value as a one-line reason (for dead letters and logs). */
export function reasonOf(err: unknown): string {
  if (err instanceof CacheSageError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
