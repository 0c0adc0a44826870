import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsSecurity } from '../../core/config.js';
import { ConfigError, InfraError, ProgrammerError } from '../../core/errors.js';
import type { Sink, SinkMessage } from '../../core/io.js';
import { connectOnce } from '../../infra/nats/connect.js';
import { createSubjectRouter, JETSTREAM_SUBJECTS, toMsgHdrs } from './subject-routing.js';

export interface NatsSinkOptions {
  /** An open connection (left open by `close()`); or `natsUrl` for a connection the sink opens and drains. */
  nc?: NatsConnection;
  natsUrl?: string;
  name?: string;
  /** Subjects published on JetStream; default the registry's streams (`cachesage.cmd.>`). Everything else: core. */
  jetStreamSubjects?: readonly string[];
  /** Wait for a JetStream ack, ms; default 5000. */
  ackTimeoutMs?: number;
  /** Connect timeout when the sink opens its own connection, ms; default 5000. */
  connectTimeoutMs?: number;
  /** Credentials and TLS of the connection the sink opens; default none. */
  security?: NatsSecurity;
}

/** Counters of a NATS sink (a live view). */
export interface NatsSinkStats {
  /** Messages published on core NATS. */
  core: number;
  /** Messages stored by JetStream. */
  jetstream: number;
  /** JetStream publishes dropped as duplicates of an earlier message id. */
  duplicates: number;
}

export interface NatsSink extends Sink<Uint8Array> {
  readonly stats: Readonly<NatsSinkStats>;
}

/**
 * The act sink (DESIGN §2, §9). Subjects such as `cachesage.act.<engineId>.<kind>` go out on core NATS (hints: at
 * most once, fast; `write` resolves after `flush()`, i.e. the server has them); subjects under `cachesage.cmd.>` go
 * to JetStream with `msgID` = the message's deterministic id, so a command replayed after a restart is dropped by the
 * stream's duplicate window; `write` resolves once every one is acknowledged. Message headers (the schema id) are
 * sent as NATS headers. Writes are serialized, so acts keep their order.
 */
export function createNatsSink(options: NatsSinkOptions): NatsSink {
  if (options.nc === undefined && (typeof options.natsUrl !== 'string' || options.natsUrl.length === 0)) {
    throw new ConfigError('NATS sink: nc or natsUrl is required');
  }
  const name = options.name ?? 'nats';
  const route = createSubjectRouter(options.jetStreamSubjects ?? JETSTREAM_SUBJECTS);
  const ackTimeoutMs = options.ackTimeoutMs ?? 5000;
  if (!(Number.isFinite(ackTimeoutMs) && ackTimeoutMs > 0)) throw new ConfigError('NATS sink: bad ackTimeoutMs');
  const stats: NatsSinkStats = { core: 0, jetstream: 0, duplicates: 0 };
  let connection: Promise<NatsConnection> | undefined =
    options.nc === undefined ? undefined : Promise.resolve(options.nc);
  let js: JetStreamClient | undefined;
  let tail: Promise<unknown> = Promise.resolve();
  let closed = false;

  const connect = (): Promise<NatsConnection> => {
    connection ??= connectOnce(
      options.natsUrl!,
      options.connectTimeoutMs ?? 5000,
      `cachesage-${name}`,
      options.security,
    ).catch((err: unknown) => {
      connection = undefined;
      throw err;
    });
    return connection;
  };

  const send = async (messages: readonly SinkMessage<Uint8Array>[]): Promise<void> => {
    const nc = await connect();
    const acks: Promise<{ duplicate: boolean }>[] = [];
    let core = 0;
    try {
      for (const m of messages) {
        const headers = toMsgHdrs(m.headers);
        if (route(m.destination) === 'jetstream') {
          js ??= jetstream(nc, { timeout: ackTimeoutMs });
          acks.push(
            js.publish(m.destination, m.value, {
              timeout: ackTimeoutMs,
              ...(m.messageId === undefined ? {} : { msgID: m.messageId }),
              ...(headers === undefined ? {} : { headers }),
            }),
          );
        } else {
          nc.publish(m.destination, m.value, headers === undefined ? undefined : { headers });
          core++;
        }
      }
      if (core > 0) await nc.flush();
      const results = await Promise.all(acks);
      stats.core += core;
      for (const r of results) {
        if (r.duplicate) stats.duplicates++;
        else stats.jetstream++;
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new InfraError('CONNECTION_FAILED', `NATS sink ${name}: publish failed: ${(err as Error).message}`, {
        retriable: true,
        cause: err,
      });
    }
  };

  return {
    name,
    stats,
    write(messages) {
      if (closed) return Promise.reject(new ProgrammerError(`NATS sink ${name}: write after close`));
      if (messages.length === 0) return Promise.resolve();
      for (const m of messages) {
        if (!(m.value instanceof Uint8Array)) {
          return Promise.reject(new ProgrammerError(`NATS sink ${name}: value for ${m.destination} is not bytes`));
        }
      }
      const batch = [...messages];
      const next = tail.then(() => send(batch));
      tail = next.catch(() => undefined);
      return next;
    },
    async close() {
      if (closed) return;
      closed = true;
      await tail;
      if (options.nc === undefined && connection !== undefined) {
        const nc = await connection.catch(() => undefined);
        await nc?.drain().catch(() => undefined);
      }
    },
  };
}
