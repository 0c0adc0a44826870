import { Kafka, logLevel } from 'kafkajs';
import { kafkaSecurityConfig } from '../../adapters/kafka/kafka-client.js';
import type { KafkaSecurity } from '../../core/config.js';

/** What a Kafka cluster answered to `describeCluster`, or why it did not. */
export interface KafkaProbe {
  reachable: boolean;
  clusterId?: string;
  brokerCount?: number;
  controllerId?: number | null;
  error?: string;
}

export interface KafkaProbeOptions {
  brokers: string[];
  /** Connection and request timeout. */
  timeoutMs?: number;
  /** SASL/TLS; default none. */
  security?: KafkaSecurity;
}

/** Asks the cluster to describe itself once, without retries and without logging. */
export async function probeKafka(options: KafkaProbeOptions): Promise<KafkaProbe> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const kafka = new Kafka({
    clientId: 'cachesage-probe',
    brokers: options.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
    ...kafkaSecurityConfig(options.security),
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return {
      reachable: true,
      clusterId: cluster.clusterId,
      brokerCount: cluster.brokers.length,
      controllerId: cluster.controller,
    };
  } catch (err) {
    return { reachable: false, error: (err as Error).message };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
