import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';
import {
  type KafkaSecurity,
  type NatsSecurity,
  type RawSecurityValue,
  resolveSecurity,
  SECURITY_ENV,
  SECURITY_FLAGS,
  SECURITY_KEYS,
  type SecurityKey,
} from './security-config.js';

export * from './security-config.js';

/**
 * The only module that reads `process.env`. Other modules receive settings as options.
 * Precedence: flags > environment > config file > defaults (`loadConfig`).
 */
export interface EnvSettings {
  /** Kafka bootstrap brokers, `host:port` (KAFKA_BROKERS, comma separated). Undefined when unset. */
  kafkaBrokers: string[] | undefined;
  /** NATS server URL (NATS_URL). Default nats://127.0.0.1:4222. */
  natsUrl: string;
  /** Folder of the shared real workloads (CACHESAGE_WORKLOADS). Default ../shared/workloads. */
  workloadsDir: string;
  /** True under CI (CI=true). */
  ci: boolean;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): EnvSettings {
  const brokers = env.KAFKA_BROKERS?.trim();
  return {
    kafkaBrokers: brokers ? splitList(brokers) : undefined,
    natsUrl: env.NATS_URL?.trim() || DEFAULTS.natsUrl,
    workloadsDir: env.CACHESAGE_WORKLOADS?.trim() || DEFAULTS.workloadsDir,
    ci: env.CI === 'true' || env.CI === '1',
  };
}

/** The layer's settings after precedence and validation. Paths are absolute. */
export interface CacheSageConfig {
  /** Kafka bootstrap brokers `host:port`. Default: the local launcher's broker, `127.0.0.1:<kafkaPort>`. */
  kafkaBrokers: string[];
  /** NATS server URL. Default nats://127.0.0.1:4222. */
  natsUrl: string;
  /** Folder of the shared real workloads. Default ../shared/workloads. */
  workloadsDir: string;
  /** Folder for local state (Kafka data, pid files, logs). Default .cachesage. */
  dataDir: string;
  /** PLAINTEXT port of the local Kafka launcher. Default 19092. */
  kafkaPort: number;
  /** CONTROLLER (KRaft quorum) port of the local Kafka launcher. Default 19093. */
  kafkaControllerPort: number;
  /** Partition count of the co-partitioned event topics. Default 12. */
  topicPartitions: number;
  /** True under CI (CI=true). */
  ci: boolean;
  /** Kafka SASL and TLS used by every Kafka connection (`loadConfig` always sets it; empty: PLAINTEXT). */
  kafkaSecurity?: KafkaSecurity;
  /** NATS credentials and TLS used by every NATS connection (`loadConfig` always sets it; empty: none). */
  natsSecurity?: NatsSecurity;
}

/** Keys that a flag, the environment or a config file may set. */
export type ConfigKey =
  | 'kafkaBrokers'
  | 'natsUrl'
  | 'workloadsDir'
  | 'dataDir'
  | 'kafkaPort'
  | 'kafkaControllerPort'
  | 'topicPartitions';

/** Where a setting's value came from. */
export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

/** Settings given on the command line; `undefined` means "not given". Strings are parsed like env values. */
export type ConfigFlags = {
  [K in ConfigKey]?: CacheSageConfig[K] | string | undefined;
};

/** Security settings given on the command line (strings as typed; booleans for `--kafka-tls` / `--nats-tls`). */
export type SecurityFlags = { [K in SecurityKey]?: string | boolean | undefined };

export interface LoadConfigOptions {
  /** Command-line values (highest precedence). */
  flags?: ConfigFlags & SecurityFlags;
  /** Config file path (`--config`); else CACHESAGE_CONFIG; else the first of CONFIG_FILE_NAMES found in `cwd`. */
  configPath?: string | undefined;
  /** Environment; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Folder that relative paths (flags, env, defaults, file lookup) resolve against; default `process.cwd()`. */
  cwd?: string;
}

/** The loaded settings, the config file read (if any) and where every value came from. */
export interface LoadedConfig extends CacheSageConfig {
  configFile: string | undefined;
  sources: Record<ConfigKey, ConfigSource>;
  kafkaSecurity: KafkaSecurity;
  natsSecurity: NatsSecurity;
  /** Where every security setting came from. */
  securitySources: Record<SecurityKey, ConfigSource>;
}

/** Environment variable of every setting. */
export const CONFIG_ENV: Readonly<Record<ConfigKey, string>> = {
  kafkaBrokers: 'KAFKA_BROKERS',
  natsUrl: 'NATS_URL',
  workloadsDir: 'CACHESAGE_WORKLOADS',
  dataDir: 'CACHESAGE_DATA_DIR',
  kafkaPort: 'KAFKA_PORT',
  kafkaControllerPort: 'KAFKA_CONTROLLER_PORT',
  topicPartitions: 'CACHESAGE_PARTITIONS',
};

/** Command-line flag of every setting (commands that accept a setting use these names). */
export const CONFIG_FLAGS: Readonly<Record<ConfigKey, string>> = {
  kafkaBrokers: '--kafka-brokers',
  natsUrl: '--nats-url',
  workloadsDir: '--workloads',
  dataDir: '--data-dir',
  kafkaPort: '--kafka-port',
  kafkaControllerPort: '--kafka-controller-port',
  topicPartitions: '--partitions',
};

/** Config files looked up in the working folder when no path is given, in this order. */
export const CONFIG_FILE_NAMES = ['cachesage.config.yaml', 'cachesage.config.yml', 'cachesage.config.json'] as const;

export const DEFAULTS = {
  natsUrl: 'nats://127.0.0.1:4222',
  workloadsDir: '../shared/workloads',
  dataDir: '.cachesage',
  kafkaPort: 19092,
  kafkaControllerPort: 19093,
  topicPartitions: 12,
} as const;

const KEYS = Object.keys(CONFIG_ENV) as ConfigKey[];

type Parsed = { [K in ConfigKey]: CacheSageConfig[K] };

export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = readConfigFile(options.configPath ?? env.CACHESAGE_CONFIG?.trim(), cwd);
  const values: Partial<Parsed> = {};
  const sources = {} as Record<ConfigKey, ConfigSource>;

  for (const key of KEYS) {
    const flag = options.flags?.[key];
    const envRaw = env[CONFIG_ENV[key]]?.trim();
    const fileRaw = file?.values[key];
    if (flag !== undefined && flag !== '') {
      values[key] = parseValue(key, flag, `flag ${CONFIG_FLAGS[key]}`, cwd) as never;
      sources[key] = 'flag';
    } else if (envRaw) {
      values[key] = parseValue(key, envRaw, `environment ${CONFIG_ENV[key]}`, cwd) as never;
      sources[key] = 'env';
    } else if (file && fileRaw !== undefined && fileRaw !== null) {
      values[key] = parseValue(key, fileRaw, `config file ${file.path} (${key})`, dirname(file.path)) as never;
      sources[key] = 'file';
    } else {
      sources[key] = 'default';
    }
  }

  const security = loadSecurity(options, env, cwd, file);

  const kafkaPort = values.kafkaPort ?? DEFAULTS.kafkaPort;
  const kafkaControllerPort = values.kafkaControllerPort ?? DEFAULTS.kafkaControllerPort;
  if (kafkaPort === kafkaControllerPort) {
    throw new ConfigError(
      `kafkaPort and kafkaControllerPort must differ (both ${kafkaPort}; from ${sources.kafkaPort} and ${sources.kafkaControllerPort})`,
    );
  }
  return {
    kafkaBrokers: values.kafkaBrokers ?? [`127.0.0.1:${kafkaPort}`],
    natsUrl: values.natsUrl ?? DEFAULTS.natsUrl,
    workloadsDir: values.workloadsDir ?? resolve(cwd, DEFAULTS.workloadsDir),
    dataDir: values.dataDir ?? resolve(cwd, DEFAULTS.dataDir),
    kafkaPort,
    kafkaControllerPort,
    topicPartitions: values.topicPartitions ?? DEFAULTS.topicPartitions,
    ci: env.CI === 'true' || env.CI === '1',
    configFile: file?.path,
    sources,
    kafkaSecurity: security.settings.kafkaSecurity,
    natsSecurity: security.settings.natsSecurity,
    securitySources: security.sources,
  };
}

function loadSecurity(
  options: LoadConfigOptions,
  env: NodeJS.ProcessEnv,
  cwd: string,
  file: { path: string; values: Record<string, unknown> } | undefined,
) {
  const found: Partial<Record<SecurityKey, RawSecurityValue>> = {};
  const sources = {} as Record<SecurityKey, ConfigSource>;
  for (const key of SECURITY_KEYS) {
    const flag = options.flags?.[key];
    const envRaw = env[SECURITY_ENV[key]];
    const fileRaw = file?.values[key];
    if (flag !== undefined && flag !== '') {
      found[key] = { raw: flag, origin: `flag ${SECURITY_FLAGS[key]}`, baseDir: cwd };
      sources[key] = 'flag';
    } else if (envRaw !== undefined && envRaw.trim() !== '') {
      found[key] = { raw: envRaw, origin: `environment ${SECURITY_ENV[key]}`, baseDir: cwd };
      sources[key] = 'env';
    } else if (file && fileRaw !== undefined && fileRaw !== null) {
      found[key] = { raw: fileRaw, origin: `config file ${file.path} (${key})`, baseDir: dirname(file.path) };
      sources[key] = 'file';
    } else {
      sources[key] = 'default';
    }
  }
  return { settings: resolveSecurity(found), sources };
}

function readConfigFile(
  explicitPath: string | undefined,
  cwd: string,
): { path: string; values: Record<string, unknown> } | undefined {
  let path: string | undefined;
  if (explicitPath) {
    path = resolve(cwd, explicitPath);
    if (!existsSync(path)) throw new ConfigError(`config file ${path} does not exist`);
  } else {
    path = CONFIG_FILE_NAMES.map((name) => resolve(cwd, name)).find((candidate) => existsSync(candidate));
    if (!path) return undefined;
  }
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid YAML/JSON: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return { path, values: {} };
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`config file ${path} must hold a mapping of settings, got ${describe(doc)}`);
  }
  const known: string[] = [...KEYS, ...SECURITY_KEYS];
  const unknown = Object.keys(doc).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new ConfigError(`config file ${path}: unknown setting(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
  }
  return { path, values: doc as Record<string, unknown> };
}

function parseValue(key: ConfigKey, raw: unknown, origin: string, baseDir: string): Parsed[ConfigKey] {
  switch (key) {
    case 'kafkaBrokers':
      return parseBrokers(raw, origin);
    case 'natsUrl':
      return parseNatsUrl(raw, origin);
    case 'workloadsDir':
    case 'dataDir':
      return resolve(baseDir, requireString(raw, origin, 'a folder path'));
    case 'kafkaPort':
    case 'kafkaControllerPort':
      return parseInteger(raw, origin, 1, 65535, 'a TCP port');
    case 'topicPartitions':
      return parseInteger(raw, origin, 1, 10_000, 'a partition count');
  }
}

function parseBrokers(raw: unknown, origin: string): string[] {
  const list = Array.isArray(raw)
    ? raw.map((b) => requireString(b, origin, 'host:port'))
    : splitList(requireString(raw, origin, 'host:port[,host:port]'));
  if (list.length === 0) throw new ConfigError(`${origin}: expected at least one broker host:port`);
  for (const broker of list) {
    const match = /^([^\s:/]+|\[[0-9a-fA-F:]+\]):(\d+)$/.exec(broker);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      throw new ConfigError(`${origin}: expected brokers as host:port[,host:port], got ${JSON.stringify(broker)}`);
    }
  }
  return list;
}

function parseNatsUrl(raw: unknown, origin: string): string {
  const text = requireString(raw, origin, 'a NATS URL');
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `nats://${text}`);
  } catch {
    throw new ConfigError(`${origin}: expected a NATS URL like nats://127.0.0.1:4222, got ${JSON.stringify(text)}`);
  }
  if (!['nats:', 'tls:', 'ws:', 'wss:'].includes(url.protocol) || !url.hostname) {
    throw new ConfigError(`${origin}: expected a NATS URL like nats://127.0.0.1:4222, got ${JSON.stringify(text)}`);
  }
  return text.includes('://') ? text : `nats://${text}`;
}

function parseInteger(raw: unknown, origin: string, min: number, max: number, what: string): number {
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${origin}: expected ${what} (integer ${min}-${max}), got ${describe(raw)}`);
  }
  return value;
}

function requireString(raw: unknown, origin: string, what: string): string {
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new ConfigError(`${origin}: expected ${what}, got ${describe(raw)}`);
  }
  return raw.trim();
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'a mapping' : String(value);
}
