/**
 * The only module that reads `process.env`. Other modules receive settings as options.
 * Precedence for the CLI: flags > environment > config file > defaults (see `loadConfig` once it grows a file).
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
    kafkaBrokers: brokers
      ? brokers
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean)
      : undefined,
    natsUrl: env.NATS_URL?.trim() || 'nats://127.0.0.1:4222',
    workloadsDir: env.CACHESAGE_WORKLOADS?.trim() || '../shared/workloads',
    ci: env.CI === 'true' || env.CI === '1',
  };
}
