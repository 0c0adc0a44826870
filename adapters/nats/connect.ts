import { readFileSync } from 'node:fs';
import {
  type Authenticator,
  AuthorizationError,
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
} from '@nats-io/transport-node';
import type { NatsAuth, NatsSecurity } from '../../core/config.js';
import { ConfigError, InfraError } from '../../core/errors.js';

export interface NatsConnectOptions {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222` (`tls://` asks for TLS). */
  servers: string | readonly string[];
  /** Connection name the server shows. */
  name: string;
  /** Credentials and TLS (`loadConfig().natsSecurity`); default none. */
  security?: NatsSecurity;
  /** Give up on the first connection after this long; default 5000. */
  timeoutMs?: number;
  /**
   * Reconnect forever after a lost connection (services: processors, hooks). Default false: one attempt, no
   * reconnects (probes, admin work, CLI tools).
   */
  reconnect?: boolean;
}

function serverList(servers: string | readonly string[]): string[] {
  const list = typeof servers === 'string' ? [servers] : [...servers];
  if (list.length === 0 || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new ConfigError('NATS: at least one server URL is required');
  }
  return list;
}

function readSecret(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new ConfigError(`NATS ${what}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  }
}

function authenticatorOf(auth: NatsAuth): Partial<ConnectionOptions> {
  switch (auth.kind) {
    case 'user':
      return { user: auth.user, pass: auth.password };
    case 'token':
      return { token: auth.token };
    case 'nkey': {
      const seed = new TextDecoder().decode(readSecret(auth.seedFile, 'nkey seed file')).trim();
      if (!/^SU[A-Z2-7]{56}$/.test(seed)) {
        throw new ConfigError(`NATS nkey seed file ${auth.seedFile} does not hold a user seed (SU... 58 characters)`);
      }
      const authenticator: Authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
      return { authenticator };
    }
    case 'creds': {
      const creds = readSecret(auth.credsFile, 'creds file');
      const text = new TextDecoder().decode(creds);
      if (!text.includes('BEGIN NATS USER JWT') || !text.includes('BEGIN USER NKEY SEED')) {
        throw new ConfigError(`NATS creds file ${auth.credsFile} holds no user JWT and nkey seed`);
      }
      return { authenticator: credsAuthenticator(creds) };
    }
  }
}

/** Who a connection authenticates as, for error messages (never the secret). */
export function describeNatsAuth(auth: NatsAuth | undefined): string {
  if (auth === undefined) return 'no credentials';
  switch (auth.kind) {
    case 'user':
      return `user ${JSON.stringify(auth.user)}`;
    case 'token':
      return 'a token';
    case 'nkey':
      return `the nkey seed in ${auth.seedFile}`;
    case 'creds':
      return `the creds file ${auth.credsFile}`;
  }
}

/**
 * The nats.js connection options of a connection: servers, name, timeouts, reconnect policy, the authenticator of
 * `security.auth` (user/password, token, nkey seed file, creds file: files are read now) and TLS (`security.tls`, or
 * `{}` when a server URL is `tls://`).
 */
export function natsConnectionOptions(options: NatsConnectOptions): ConnectionOptions {
  const servers = serverList(options.servers);
  if (typeof options.name !== 'string' || options.name.length === 0) throw new ConfigError('NATS: name is required');
  const timeout = options.timeoutMs ?? 5000;
  if (!(Number.isFinite(timeout) && timeout > 0)) throw new ConfigError(`NATS: bad timeoutMs ${timeout}`);
  const security = options.security ?? {};
  const tlsWanted = security.tls !== undefined || servers.some((s) => s.startsWith('tls://'));
  return {
    servers,
    name: options.name,
    timeout,
    ...(options.reconnect === true
      ? { reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 500 }
      : { reconnect: false, maxReconnectAttempts: 0 }),
    ...(security.auth === undefined ? {} : authenticatorOf(security.auth)),
    ...(tlsWanted ? { tls: { ...security.tls } } : {}),
  };
}

function isAuthFailure(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof AuthorizationError || /authorization|authentication/i.test(e.message)) return true;
  }
  return false;
}

const TLS_FAILURE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL/;

function tlsFailure(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && TLS_FAILURE.test(code)) return `${code}: ${e.message}`;
  }
  return undefined;
}

/**
 * Opens a NATS connection with the layer's security settings (the one place the layer's NATS connections are
 * made). A refused login fails with a non-retriable InfraError CONNECTION_FAILED whose message names the server
 * and says that authorization failed, a server certificate that does not verify likewise (TLS verification failed);
 * an unreachable server with a retriable one.
 */
export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  const connectionOptions = natsConnectionOptions(options);
  const where = (connectionOptions.servers as string[]).join(',');
  try {
    return await connect(connectionOptions);
  } catch (err) {
    if (isAuthFailure(err)) {
      throw new InfraError(
        'CONNECTION_FAILED',
        `NATS at ${where}: authorization failed for ${describeNatsAuth(options.security?.auth)} (${(err as Error).message})`,
        { retriable: false, cause: err, details: { servers: where, reason: 'authorization' } },
      );
    }
    const tls = tlsFailure(err);
    if (tls !== undefined) {
      throw new InfraError('CONNECTION_FAILED', `NATS at ${where}: TLS verification failed (${tls})`, {
        retriable: false,
        cause: err,
        details: { servers: where, reason: 'tls' },
      });
    }
    throw new InfraError('CONNECTION_FAILED', `NATS at ${where} is not reachable: ${(err as Error).message}`, {
      retriable: true,
      cause: err,
      details: { servers: where },
    });
  }
}
