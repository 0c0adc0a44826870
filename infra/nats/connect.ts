import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { InfraError } from '../../core/errors.js';

/** Opens one connection without reconnects (for probes and admin work); fails with a retriable InfraError. */
export async function connectOnce(natsUrl: string, timeoutMs: number, name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: natsUrl, name, timeout: timeoutMs, reconnect: false, maxReconnectAttempts: 0 });
  } catch (err) {
    throw new InfraError('CONNECTION_FAILED', `NATS at ${natsUrl} is not reachable: ${(err as Error).message}`, {
      retriable: true,
      cause: err,
    });
  }
}
