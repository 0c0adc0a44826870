import { type Command, Option } from 'commander';
import {
  CONFIG_ENV,
  CONFIG_FLAGS,
  type ConfigFlags,
  type LoadedConfig,
  loadConfig,
  SECURITY_DESCRIPTIONS,
  SECURITY_ENV,
  SECURITY_FLAGS,
  SECURITY_KEYS,
  type SecurityFlags,
  type SecurityKey,
} from '../core/config.js';

/** Which connections a command opens: their address and security flags are added. */
export interface ConnectionFlags {
  kafka?: boolean;
  nats?: boolean;
}

const BOOLEAN_KEYS: readonly SecurityKey[] = ['kafkaTls', 'natsTls'];

function optionOf(key: SecurityKey): Option {
  const flag = SECURITY_FLAGS[key];
  const text = `${SECURITY_DESCRIPTIONS[key]} (env ${SECURITY_ENV[key]})`;
  return BOOLEAN_KEYS.includes(key) ? new Option(flag, text) : new Option(`${flag} <value>`, text);
}

function keysFor(which: ConnectionFlags): SecurityKey[] {
  return SECURITY_KEYS.filter((k) => (k.startsWith('kafka') ? which.kafka === true : which.nats === true));
}

/**
 * Adds `--config`, the address flags (`--kafka-brokers`, `--nats-url`) and the security flags (SASL, TLS, NATS
 * credentials) of the connections a command opens. `connectionConfigOf` turns the parsed options into the loaded
 * configuration (flags > env > file > defaults).
 */
export function withConnectionOptions(command: Command, which: ConnectionFlags): Command {
  command.option('--config <file>', 'config file (YAML or JSON); default ./cachesage.config.yaml if present');
  if (which.kafka) {
    command.option(
      `${CONFIG_FLAGS.kafkaBrokers} <list>`,
      `Kafka bootstrap brokers host:port[,host:port] (env ${CONFIG_ENV.kafkaBrokers})`,
    );
  }
  if (which.nats) command.option(`${CONFIG_FLAGS.natsUrl} <url>`, `NATS server URL (env ${CONFIG_ENV.natsUrl})`);
  for (const key of keysFor(which)) command.addOption(optionOf(key));
  return command;
}

/** The configuration for a command's parsed options (see `withConnectionOptions`). */
export function connectionConfigOf(options: Record<string, unknown>): LoadedConfig {
  const flags: ConfigFlags & SecurityFlags = {};
  if (typeof options.kafkaBrokers === 'string') flags.kafkaBrokers = options.kafkaBrokers;
  if (typeof options.natsUrl === 'string') flags.natsUrl = options.natsUrl;
  for (const key of SECURITY_KEYS) {
    const value = options[optionOf(key).attributeName()];
    if (typeof value === 'string' || typeof value === 'boolean') flags[key] = value;
  }
  return loadConfig({ flags, configPath: typeof options.config === 'string' ? options.config : undefined });
}
