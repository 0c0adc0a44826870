import { type Authenticator, connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { type Logger, pino } from 'pino';
import { ConfigError, InfraError, reasonOf } from '../../core/errors.js';
import type { Act, EvictionHints, Pin, Prefetch } from '../../schemas/types.js';
import { createActFilter } from '../hooks/act-filter.js';
import { attachEngineHooks } from '../hooks/attach-engine-hooks.js';
import type { HookCounters } from '../hooks/engine-hooks.js';
import { natsSubscribe } from '../nats/nats-subscribe.js';

/**
 * What an engine implements. Each callback receives an act that is well-formed, addressed to this engine, newer than
 * the last one of its kind and policy, and not yet expired. Every act is a hint: keep callbacks cheap and
 * non-blocking (queue real work); a thrown error or rejected promise is counted and logged, never fatal.
 */
export interface EngineHookCallbacks {
  /**
   * Reorder the evictable blocks: lower priority is evicted first; unlisted blocks keep their order. Keep the blocks
   * registered per `contextId`: an entry with `fromBlock` k > 0 keeps the first k of them and appends its hashes
   * (skip it when fewer than k are registered: an act was lost); one without hashes re-prioritizes them.
   */
  applyEvictionHints(hints: EvictionHints): void | Promise<void>;
  /** Bring the listed blocks from the CPU tier into GPU before `issuedAt + deadlineMs`, if not resident. */
  prefetch(act: Prefetch): void | Promise<void>;
  /** Keep the listed blocks resident until `issuedAt + pinTtlMs`. */
  pin(act: Pin): void | Promise<void>;
}

/** How to authenticate to NATS: a token, a user and password, or the contents of a `.creds` file. */
export interface NatsCredentials {
  token?: string;
  user?: string;
  pass?: string;
  /** Contents of a NATS `.creds` file (JWT + nkey seed). */
  creds?: string;
}

export interface CreateEngineHooksOptions {
  /** The engine this process serves; one NATS subject token (no `.`, `*`, `>`). */
  engineId: string;
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  natsUrl: string | string[];
  credentials?: NatsCredentials;
  callbacks: EngineHookCallbacks;
  /** The clock acts' `issuedAt` is measured on (wall clock: Date.now). */
  now?: () => number;
  /** Default `cachesage.act`. */
  subjectPrefix?: string;
  /** Connection name shown by the NATS server. Default `cachesage-hooks-<engineId>`. */
  name?: string;
  /** Give up on the first connection after this long. Default 10,000 ms. Later disconnects reconnect forever. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

/** Counters of a hook: acts applied by kind, rejected by reason, and callbacks that failed. */
export interface EngineHookCounters extends HookCounters {
  /** Accepted acts whose callback threw or rejected. */
  failed: number;
}

/** A running hook subscription (nats.js lifecycle: `closed`, `drain()`). */
export interface EngineHookHandle {
  readonly engineId: string;
  /** The subject subscribed to: `<prefix>.<engineId>.*`. */
  readonly subject: string;
  readonly counters: Readonly<EngineHookCounters>;
  /** Resolves when the connection closed: undefined after drain/close, the error when it was lost for good. */
  readonly closed: Promise<Error | undefined>;
  /** Applies the acts already received, then closes. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

function authenticator(credentials: NatsCredentials | undefined): Partial<{
  token: string;
  user: string;
  pass: string;
  authenticator: Authenticator;
}> {
  if (credentials === undefined) return {};
  if (credentials.creds !== undefined) {
    return { authenticator: credsAuthenticator(new TextEncoder().encode(credentials.creds)) };
  }
  if (credentials.token !== undefined) return { token: credentials.token };
  if (credentials.user !== undefined) {
    return { user: credentials.user, ...(credentials.pass === undefined ? {} : { pass: credentials.pass }) };
  }
  return {};
}

/**
 * The packaged engine hook (DESIGN §9): connects to NATS, subscribes to `cachesage.act.<engineId>.*` (this engine
 * only), decodes each act from its Avro body and schema-id header, drops malformed, foreign and stale acts (ttl,
 * seq) with counters, and calls the engine's callbacks for the rest. Hooks have no Kafka connection.
 */
export async function createEngineHooks(options: CreateEngineHooksOptions): Promise<EngineHookHandle> {
  const { engineId, callbacks } = options;
  if (typeof engineId !== 'string' || !/^[^.*>\s]+$/.test(engineId)) {
    throw new ConfigError(`engine hooks: engineId ${JSON.stringify(engineId)} must be one NATS subject token`);
  }
  for (const name of ['applyEvictionHints', 'prefetch', 'pin'] as const) {
    if (typeof callbacks?.[name] !== 'function') throw new ConfigError(`engine hooks: callbacks.${name} is required`);
  }
  const servers = Array.isArray(options.natsUrl) ? options.natsUrl : [options.natsUrl];
  if (servers.length === 0 || servers.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new ConfigError('engine hooks: natsUrl is required');
  }
  const prefix = options.subjectPrefix ?? 'cachesage.act';
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ engineId });
  const now = options.now ?? Date.now;

  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: options.name ?? `cachesage-hooks-${engineId}`,
      timeout: options.connectTimeoutMs ?? 10_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...authenticator(options.credentials),
    });
  } catch (err) {
    throw new InfraError('CONNECTION_FAILED', `engine hooks: NATS at ${servers.join(',')} is not reachable`, {
      retriable: true,
      cause: err,
    });
  }

  const filter = createActFilter({ engineId, now });
  const counters = filter.counters as EngineHookCounters;
  counters.failed = 0;
  const settle = (act: Act, run: () => void | Promise<void>) => {
    const fail = (err: unknown) => {
      counters.failed++;
      logger.error({ err: reasonOf(err), kind: act.kind, seq: act.seq, causeId: act.causeId }, 'hook callback failed');
    };
    try {
      const result = run();
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  };

  const subscribe = natsSubscribe(nc, {
    onDecodeError: (err, subject) => logger.debug({ err: reasonOf(err), subject }, 'act did not decode'),
    onHandlerError: (err, subject) => logger.error({ err: reasonOf(err), subject }, 'act handler failed'),
  });

  const attached = attachEngineHooks({
    subscribe,
    engineId,
    filter,
    subjectPrefix: prefix,
    hooks: {
      engineId,
      applyEvictionHints: (act) => settle(act, () => callbacks.applyEvictionHints(act)),
      prefetch: (act) => settle(act, () => callbacks.prefetch(act)),
      pin: (act) => settle(act, () => callbacks.pin(act)),
    },
  });
  await nc.flush();
  logger.info({ subject: `${prefix}.${engineId}.*` }, 'engine hooks subscribed');

  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect') logger.warn({ status: status.type }, 'NATS');
    }
  })().catch(() => undefined);

  return {
    engineId,
    subject: `${prefix}.${engineId}.*`,
    counters,
    closed: nc.closed().then((result) => (result instanceof Error ? result : undefined)),
    async drain() {
      if (!nc.isClosed()) await nc.drain();
    },
    async close() {
      attached.detach();
      if (!nc.isClosed()) await nc.close();
    },
  };
}
