import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, type KafkaConfig, logLevel, type RetryOptions, type SASLOptions } from 'kafkajs';
import type { KafkaSecurity } from '../../core/config.js';
import { ConfigError, InfraError } from '../../core/errors.js';

export interface KafkaClientOptions {
  brokers: readonly string[];
  clientId: string;
  /** TCP connect timeout; default 10 000. */
  connectionTimeoutMs?: number;
  /** Request timeout; default 30 000. */
  requestTimeoutMs?: number;
  /** SASL and TLS (`loadConfig().kafkaSecurity`); default none (PLAINTEXT). */
  security?: KafkaSecurity;
  /** kafkajs retry settings; default kafkajs's own. */
  retry?: RetryOptions;
}

/**
 * The kafkajs configuration of a client: the layer's defaults (silent logger: failures surface as typed errors) plus
 * SASL (PLAIN, SCRAM-SHA-256/512) and TLS (CA, client certificate and key read from their files now).
 */
export function kafkaConfigOf(options: KafkaClientOptions): KafkaConfig {
  const { brokers, clientId } = options;
  if (!Array.isArray(brokers) || brokers.length === 0 || !brokers.every((b) => typeof b === 'string' && b.length > 0)) {
    throw new ConfigError(`Kafka client ${clientId}: at least one broker host:port is required`);
  }
  if (typeof clientId !== 'string' || clientId.length === 0)
    throw new ConfigError('Kafka client: clientId is required');
  return {
    clientId,
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: options.connectionTimeoutMs ?? 10_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    ...kafkaSecurityConfig(options.security),
  };
}

/** The `ssl` and `sasl` parts of a kafkajs configuration for `security` (empty without security). */
export function kafkaSecurityConfig(security: KafkaSecurity | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  if (security === undefined) return {};
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security.tls !== undefined) {
    const { caFile, certFile, keyFile } = security.tls;
    const tls: ConnectionOptions = {};
    if (caFile !== undefined) tls.ca = [pem(caFile, 'Kafka TLS CA')];
    if (certFile !== undefined) tls.cert = pem(certFile, 'Kafka TLS client certificate');
    if (keyFile !== undefined) tls.key = pem(keyFile, 'Kafka TLS client key');
    out.ssl = Object.keys(tls).length === 0 ? true : tls;
  }
  if (security.sasl !== undefined) {
    const { mechanism, username, password } = security.sasl;
    if (!['plain', 'scram-sha-256', 'scram-sha-512'].includes(mechanism)) {
      throw new ConfigError(`Kafka SASL: unknown mechanism ${JSON.stringify(mechanism)}`);
    }
    if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '') {
      throw new ConfigError(`Kafka SASL ${mechanism}: a user name and a password are required`);
    }
    out.sasl = { mechanism, username, password } as SASLOptions;
  }
  return out;
}

function pem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${what}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  }
}

/** A kafkajs client with the layer's defaults and the given security (see `kafkaConfigOf`). */
export function createKafkaClient(options: KafkaClientOptions): Kafka {
  return new Kafka(kafkaConfigOf(options));
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
