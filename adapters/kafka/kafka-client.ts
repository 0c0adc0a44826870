import { Kafka, logLevel } from 'kafkajs';
import { ConfigError, InfraError } from '../../core/errors.js';

export interface KafkaClientOptions {
  brokers: readonly string[];
  clientId: string;
  /** TCP connect timeout; default 10 000. */
  connectionTimeoutMs?: number;
  /** Request timeout; default 30 000. */
  requestTimeoutMs?: number;
}

/** A kafkajs client with the layer's defaults (silent logger: failures surface as typed errors). */
export function createKafkaClient(options: KafkaClientOptions): Kafka {
  const { brokers, clientId } = options;
  if (!Array.isArray(brokers) || brokers.length === 0 || !brokers.every((b) => typeof b === 'string' && b.length > 0)) {
    throw new ConfigError(`Kafka client ${clientId}: at least one broker host:port is required`);
  }
  if (typeof clientId !== 'string' || clientId.length === 0)
    throw new ConfigError('Kafka client: clientId is required');
  return new Kafka({
    clientId,
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: options.connectionTimeoutMs ?? 10_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
  });
}

/** Wraps a kafkajs failure in an InfraError that keeps kafkajs's own retriable verdict. */
export function kafkaError(what: string, err: unknown): InfraError {
  const retriable = (err as { retriable?: unknown })?.retriable;
  return new InfraError('CONNECTION_FAILED', `${what}: ${(err as Error)?.message ?? String(err)}`, {
    retriable: retriable === undefined ? true : retriable === true,
    cause: err,
  });
}

/** Positive integer option check shared by the Kafka adapters. */
export function positiveInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${what} must be an integer >= 1, got ${value}`);
  return value;
}
