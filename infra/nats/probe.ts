import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsSecurity } from '../../core/config.js';
import { connectOnce } from './connect.js';

/** What a NATS server answered, or why it did not. */
export interface NatsProbe {
  url: string;
  reachable: boolean;
  serverVersion?: string;
  jetstream: boolean;
  /** JetStream account usage when enabled. */
  jetstreamStreams?: number;
  error?: string;
}

/** Connects once and asks JetStream for the account info. */
export async function probeNats(options: {
  natsUrl: string;
  timeoutMs?: number;
  security?: NatsSecurity;
}): Promise<NatsProbe> {
  const url = options.natsUrl;
  let nc: Awaited<ReturnType<typeof connectOnce>>;
  try {
    nc = await connectOnce(url, options.timeoutMs ?? 2000, 'cachesage-probe', options.security);
  } catch (err) {
    return { url, reachable: false, jetstream: false, error: (err as Error).message };
  }
  try {
    const serverVersion = nc.info?.version;
    try {
      const jsm = await jetstreamManager(nc, { timeout: options.timeoutMs ?? 2000 });
      const info = await jsm.getAccountInfo();
      return { url, reachable: true, serverVersion, jetstream: true, jetstreamStreams: info.streams };
    } catch (err) {
      return { url, reachable: true, serverVersion, jetstream: false, error: (err as Error).message };
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}
