import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';

/** SASL mechanisms the Kafka client speaks. */
export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** TLS material, as absolute file paths (PEM). Every field is optional: an empty object means "TLS, system CAs". */
export interface TlsFiles {
  /** CA bundle that signs the server's certificate. */
  caFile?: string;
  /** Client certificate (mutual TLS); needs `keyFile`. */
  certFile?: string;
  /** Client private key (mutual TLS); needs `certFile`. */
  keyFile?: string;
}

/** How every Kafka connection authenticates and encrypts. Empty: PLAINTEXT without SASL. */
export interface KafkaSecurity {
  sasl?: { mechanism: KafkaSaslMechanism; username: string; password: string };
  /** TLS to the brokers; absent: plaintext. */
  tls?: TlsFiles;
}

/** One way to authenticate to NATS. */
export type NatsAuth =
  | { kind: 'user'; user: string; password: string }
  | { kind: 'token'; token: string }
  /** A file holding an nkey user seed (`SU...`). */
  | { kind: 'nkey'; seedFile: string }
  /** A `.creds` file (user JWT + nkey seed, operator mode). */
  | { kind: 'creds'; credsFile: string };

/** How every NATS connection authenticates and encrypts. Empty: no credentials, no TLS (unless a `tls://` URL). */
export interface NatsSecurity {
  auth?: NatsAuth;
  /** TLS to the server; absent: plaintext unless the URL's scheme is `tls://`. */
  tls?: TlsFiles;
}

/** Security settings that a flag, the environment or a config file may set. */
export type SecurityKey =
  | 'kafkaSaslMechanism'
  | 'kafkaSaslUsername'
  | 'kafkaSaslPassword'
  | 'kafkaTls'
  | 'kafkaTlsCaFile'
  | 'kafkaTlsCertFile'
  | 'kafkaTlsKeyFile'
  | 'natsUser'
  | 'natsPassword'
  | 'natsToken'
  | 'natsNkeySeedFile'
  | 'natsCredsFile'
  | 'natsTls'
  | 'natsTlsCaFile'
  | 'natsTlsCertFile'
  | 'natsTlsKeyFile';

/** Environment variable of every security setting. */
export const SECURITY_ENV: Readonly<Record<SecurityKey, string>> = {
  kafkaSaslMechanism: 'KAFKA_SASL_MECHANISM',
  kafkaSaslUsername: 'KAFKA_SASL_USERNAME',
  kafkaSaslPassword: 'KAFKA_SASL_PASSWORD',
  kafkaTls: 'KAFKA_TLS',
  kafkaTlsCaFile: 'KAFKA_TLS_CA_FILE',
  kafkaTlsCertFile: 'KAFKA_TLS_CERT_FILE',
  kafkaTlsKeyFile: 'KAFKA_TLS_KEY_FILE',
  natsUser: 'NATS_USER',
  natsPassword: 'NATS_PASSWORD',
  natsToken: 'NATS_TOKEN',
  natsNkeySeedFile: 'NATS_NKEY_SEED_FILE',
  natsCredsFile: 'NATS_CREDS_FILE',
  natsTls: 'NATS_TLS',
  natsTlsCaFile: 'NATS_TLS_CA_FILE',
  natsTlsCertFile: 'NATS_TLS_CERT_FILE',
  natsTlsKeyFile: 'NATS_TLS_KEY_FILE',
};

/** Command-line flag of every security setting (`withSecurityOptions` in the CLI adds them). */
export const SECURITY_FLAGS: Readonly<Record<SecurityKey, string>> = {
  kafkaSaslMechanism: '--kafka-sasl-mechanism',
  kafkaSaslUsername: '--kafka-sasl-username',
  kafkaSaslPassword: '--kafka-sasl-password',
  kafkaTls: '--kafka-tls',
  kafkaTlsCaFile: '--kafka-tls-ca',
  kafkaTlsCertFile: '--kafka-tls-cert',
  kafkaTlsKeyFile: '--kafka-tls-key',
  natsUser: '--nats-user',
  natsPassword: '--nats-password',
  natsToken: '--nats-token',
  natsNkeySeedFile: '--nats-nkey-seed',
  natsCredsFile: '--nats-creds',
  natsTls: '--nats-tls',
  natsTlsCaFile: '--nats-tls-ca',
  natsTlsCertFile: '--nats-tls-cert',
  natsTlsKeyFile: '--nats-tls-key',
};

/** What each security setting means (CLI help, docs). */
export const SECURITY_DESCRIPTIONS: Readonly<Record<SecurityKey, string>> = {
  kafkaSaslMechanism: `Kafka SASL mechanism: ${KAFKA_SASL_MECHANISMS.join(' | ')}`,
  kafkaSaslUsername: 'Kafka SASL user name',
  kafkaSaslPassword: 'Kafka SASL password',
  kafkaTls: 'TLS to the Kafka brokers (true/false; implied by any Kafka TLS file)',
  kafkaTlsCaFile: 'PEM CA bundle that signs the Kafka brokers',
  kafkaTlsCertFile: 'PEM client certificate for Kafka (mutual TLS)',
  kafkaTlsKeyFile: 'PEM client key for Kafka (mutual TLS)',
  natsUser: 'NATS user (with --nats-password)',
  natsPassword: 'NATS password',
  natsToken: 'NATS token',
  natsNkeySeedFile: 'file holding a NATS nkey user seed (SU...)',
  natsCredsFile: 'NATS .creds file (user JWT + seed)',
  natsTls: 'TLS to NATS (true/false; implied by any NATS TLS file or a tls:// URL)',
  natsTlsCaFile: 'PEM CA bundle that signs the NATS server',
  natsTlsCertFile: 'PEM client certificate for NATS (mutual TLS)',
  natsTlsKeyFile: 'PEM client key for NATS (mutual TLS)',
};

export const SECURITY_KEYS = Object.keys(SECURITY_ENV) as SecurityKey[];

const FILE_KEYS: ReadonlySet<SecurityKey> = new Set([
  'kafkaTlsCaFile',
  'kafkaTlsCertFile',
  'kafkaTlsKeyFile',
  'natsNkeySeedFile',
  'natsCredsFile',
  'natsTlsCaFile',
  'natsTlsCertFile',
  'natsTlsKeyFile',
]);
const BOOLEAN_KEYS: ReadonlySet<SecurityKey> = new Set(['kafkaTls', 'natsTls']);

/** One raw setting: its value and where it came from (`flag --x`, `environment X`, `config file f (key)`). */
export interface RawSecurityValue {
  raw: unknown;
  origin: string;
  /** Folder that a relative file path resolves against. */
  baseDir: string;
}

/** The validated security settings. */
export interface SecuritySettings {
  kafkaSecurity: KafkaSecurity;
  natsSecurity: NatsSecurity;
}

type Parsed = Partial<Record<SecurityKey, string | boolean>>;

/**
 * Validates the security settings found (at most one value per key, already chosen by precedence) and builds the
 * Kafka and NATS security objects. Every problem is a ConfigError naming the setting and where it came from.
 */
export function resolveSecurity(found: Partial<Record<SecurityKey, RawSecurityValue>>): SecuritySettings {
  const values: Parsed = {};
  for (const key of SECURITY_KEYS) {
    const v = found[key];
    if (v !== undefined) values[key] = parseSecurityValue(key, v);
  }
  const where = (key: SecurityKey): string => found[key]?.origin ?? key;
  return { kafkaSecurity: kafkaSecurityOf(values, where), natsSecurity: natsSecurityOf(values, where) };
}

function parseSecurityValue(key: SecurityKey, v: RawSecurityValue): string | boolean {
  if (BOOLEAN_KEYS.has(key)) return parseBoolean(v.raw, v.origin);
  const text = typeof v.raw === 'number' ? String(v.raw) : v.raw;
  if (typeof text !== 'string' || text.trim() === '') {
    throw new ConfigError(`${v.origin}: expected a non-empty string, got ${describe(v.raw)}`);
  }
  if (key === 'kafkaSaslMechanism') {
    const m = text.trim().toLowerCase();
    if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(m)) {
      throw new ConfigError(
        `${v.origin}: unknown Kafka SASL mechanism ${JSON.stringify(text)}; expected one of ${KAFKA_SASL_MECHANISMS.join(', ')}`,
      );
    }
    return m;
  }
  if (FILE_KEYS.has(key)) return readableFile(resolve(v.baseDir, text.trim()), v.origin);
  return key === 'kafkaSaslPassword' || key === 'natsPassword' || key === 'natsToken' ? text : text.trim();
}

function parseBoolean(raw: unknown, origin: string): boolean {
  if (typeof raw === 'boolean') return raw;
  const t = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
  if (['true', '1', 'yes', 'on'].includes(t)) return true;
  if (['false', '0', 'no', 'off'].includes(t)) return false;
  throw new ConfigError(`${origin}: expected true or false, got ${describe(raw)}`);
}

function readableFile(path: string, origin: string): string {
  try {
    if (!statSync(path).isFile()) throw new ConfigError(`${origin}: ${path} is not a file`);
    accessSync(path, constants.R_OK);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${origin}: ${code === 'ENOENT' ? `file ${path} does not exist` : `cannot read ${path} (${code ?? String(err)})`}`,
      { cause: err },
    );
  }
  return path;
}

function tlsOf(
  values: Parsed,
  keys: { on: SecurityKey; ca: SecurityKey; cert: SecurityKey; key: SecurityKey },
  where: (key: SecurityKey) => string,
  what: string,
): TlsFiles | undefined {
  const ca = values[keys.ca] as string | undefined;
  const cert = values[keys.cert] as string | undefined;
  const key = values[keys.key] as string | undefined;
  const on = values[keys.on] as boolean | undefined;
  if ((cert === undefined) !== (key === undefined)) {
    const [given, missing] = cert === undefined ? [keys.key, keys.cert] : [keys.cert, keys.key];
    throw new ConfigError(
      `${what} TLS: ${where(given)} is set but ${missing} (${SECURITY_ENV[missing]} or ${SECURITY_FLAGS[missing]}) is not; a client certificate needs its key`,
    );
  }
  const anyFile = ca !== undefined || cert !== undefined;
  if (on === false && anyFile) {
    throw new ConfigError(`${what} TLS: ${where(keys.on)} turns TLS off but TLS files are set`);
  }
  if (on !== true && !anyFile) return undefined;
  return {
    ...(ca === undefined ? {} : { caFile: ca }),
    ...(cert === undefined ? {} : { certFile: cert }),
    ...(key === undefined ? {} : { keyFile: key }),
  };
}

function kafkaSecurityOf(values: Parsed, where: (key: SecurityKey) => string): KafkaSecurity {
  const mechanism = values.kafkaSaslMechanism as KafkaSaslMechanism | undefined;
  const username = values.kafkaSaslUsername as string | undefined;
  const password = values.kafkaSaslPassword as string | undefined;
  const out: KafkaSecurity = {};
  if (mechanism === undefined) {
    const stray = (['kafkaSaslUsername', 'kafkaSaslPassword'] as const).filter((k) => values[k] !== undefined);
    if (stray.length > 0) {
      throw new ConfigError(
        `Kafka SASL: ${stray.map(where).join(' and ')} set without a mechanism; set ${SECURITY_ENV.kafkaSaslMechanism} ` +
          `(or ${SECURITY_FLAGS.kafkaSaslMechanism}) to one of ${KAFKA_SASL_MECHANISMS.join(', ')}`,
      );
    }
  } else {
    const missing = (['kafkaSaslUsername', 'kafkaSaslPassword'] as const).filter((k) => values[k] === undefined);
    if (missing.length > 0) {
      throw new ConfigError(
        `Kafka SASL ${mechanism} (${where('kafkaSaslMechanism')}) needs a user name and a password; missing: ` +
          missing.map((k) => `${k} (${SECURITY_ENV[k]} or ${SECURITY_FLAGS[k]})`).join(', '),
      );
    }
    out.sasl = { mechanism, username: username as string, password: password as string };
  }
  const tls = tlsOf(
    values,
    { on: 'kafkaTls', ca: 'kafkaTlsCaFile', cert: 'kafkaTlsCertFile', key: 'kafkaTlsKeyFile' },
    where,
    'Kafka',
  );
  if (tls !== undefined) out.tls = tls;
  return out;
}

function natsSecurityOf(values: Parsed, where: (key: SecurityKey) => string): NatsSecurity {
  const methods = (
    [
      ['user', 'natsUser'],
      ['token', 'natsToken'],
      ['nkey', 'natsNkeySeedFile'],
      ['creds', 'natsCredsFile'],
    ] as const
  ).filter(([, key]) => values[key] !== undefined);
  if (methods.length > 1) {
    throw new ConfigError(
      `NATS credentials: ${methods.map(([, key]) => where(key)).join(' and ')} are all set; give only one of ` +
        'user + password, token, nkey seed file, creds file',
    );
  }
  if (values.natsPassword !== undefined && values.natsUser === undefined) {
    throw new ConfigError(
      `NATS credentials: ${where('natsPassword')} is set without a user (${SECURITY_ENV.natsUser} or ${SECURITY_FLAGS.natsUser})`,
    );
  }
  const out: NatsSecurity = {};
  const method = methods[0]?.[0];
  if (method === 'user') {
    if (values.natsPassword === undefined) {
      throw new ConfigError(
        `NATS credentials: ${where('natsUser')} needs a password (${SECURITY_ENV.natsPassword} or ${SECURITY_FLAGS.natsPassword})`,
      );
    }
    out.auth = { kind: 'user', user: values.natsUser as string, password: values.natsPassword as string };
  } else if (method === 'token') out.auth = { kind: 'token', token: values.natsToken as string };
  else if (method === 'nkey') out.auth = { kind: 'nkey', seedFile: values.natsNkeySeedFile as string };
  else if (method === 'creds') out.auth = { kind: 'creds', credsFile: values.natsCredsFile as string };
  const tls = tlsOf(
    values,
    { on: 'natsTls', ca: 'natsTlsCaFile', cert: 'natsTlsCertFile', key: 'natsTlsKeyFile' },
    where,
    'NATS',
  );
  if (tls !== undefined) out.tls = tls;
  return out;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'a mapping' : String(value);
}
