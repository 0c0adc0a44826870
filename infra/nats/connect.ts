import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../adapters/nats/connect.js';
import type { NatsSecurity } from '../../core/config.js';

/**
 * Opens one connection without reconnects (for probes and admin work) through `connectNats`: an unreachable server
 * fails with a retriable InfraError, refused credentials with a non-retriable one.
 */
export async function connectOnce(
  natsUrl: string,
  timeoutMs: number,
  name: string,
  security?: NatsSecurity,
): Promise<NatsConnection> {
  return connectNats({ servers: natsUrl, name, timeoutMs, ...(security === undefined ? {} : { security }) });
}
