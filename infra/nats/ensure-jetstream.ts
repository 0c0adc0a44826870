import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { nanos } from '@nats-io/transport-node';
import type { NatsSecurity } from '../../core/config.js';
import { CacheSageError, InfraError } from '../../core/errors.js';
import { type KvBucketSpec, kvBuckets, type StreamSpec, streams } from '../topics.js';
import { connectOnce } from './connect.js';

export interface EnsureJetStreamOptions {
  natsUrl: string;
  /** Streams to ensure; default the registry (`infra/topics.ts`). */
  streams?: readonly StreamSpec[];
  /** KV buckets to ensure; default the registry. */
  kvBuckets?: readonly KvBucketSpec[];
  /** Connection and request timeout; default 5 000. */
  timeoutMs?: number;
  /** Credentials and TLS; default none. */
  security?: NatsSecurity;
}

export interface EnsureJetStreamResult {
  created: string[];
  existing: string[];
}

/** Creates the streams and KV buckets that do not exist yet (NATS 2.9 features only); existing ones stay as they are. */
export async function ensureJetStream(options: EnsureJetStreamOptions): Promise<EnsureJetStreamResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const nc = await connectOnce(options.natsUrl, timeoutMs, 'cachesage-topics', options.security);
  const result: EnsureJetStreamResult = { created: [], existing: [] };
  try {
    const jsm = await jetstreamManager(nc, { timeout: timeoutMs }).catch((err: unknown) => {
      throw new InfraError(
        'INFRA_MISSING',
        `JetStream is not enabled on ${options.natsUrl} (${(err as Error).message}); start nats-server with -js`,
        { cause: err },
      );
    });
    const exists = async (stream: string): Promise<boolean> => {
      try {
        await jsm.streams.info(stream);
        return true;
      } catch (err) {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return false;
        throw err;
      }
    };
    for (const spec of options.streams ?? streams) {
      const label = `stream ${spec.name}`;
      if (await exists(spec.name)) {
        result.existing.push(label);
        continue;
      }
      await jsm.streams.add({
        name: spec.name,
        subjects: spec.subjects,
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        num_replicas: 1,
        duplicate_window: nanos(spec.duplicateWindowMs),
        max_age: nanos(spec.maxAgeMs),
      });
      result.created.push(label);
    }
    const kvm = new Kvm(nc);
    for (const spec of options.kvBuckets ?? kvBuckets) {
      const label = `kv ${spec.name}`;
      if (await exists(`KV_${spec.name}`)) {
        result.existing.push(label);
        continue;
      }
      await kvm.create(spec.name, { history: spec.history, ttl: spec.ttlMs });
      result.created.push(label);
    }
    return result;
  } catch (err) {
    if (err instanceof CacheSageError) throw err;
    throw new InfraError(
      'CONNECTION_FAILED',
      `could not ensure JetStream streams on ${options.natsUrl}: ${(err as Error).message}`,
      {
        retriable: true,
        cause: err,
      },
    );
  } finally {
    await nc.close().catch(() => undefined);
  }
}
