import type { Command } from 'commander';
import { createServiceLogger } from '../../adapters/ops/logger.js';
import { startOpsServer } from '../../adapters/ops/ops-server.js';
import { createProcessorMetrics } from '../../adapters/ops/processor-metrics.js';
import { ConfigError } from '../../core/errors.js';
import { BUILTIN_POLICIES, createPolicy } from '../../policies/index.js';
import type { Policy } from '../../policies/policy.js';
import { DEFAULT_PROCESSOR_TOPICS, type ProcessorTopics } from '../../services/processor/processor-topics.js';
import { startProcessor } from '../../services/processor/start-processor.js';
import { settingsOf, withSettings } from './infra.js';

interface ProcessorFlags extends Record<string, unknown> {
  brokers?: string;
  groupId: string;
  policy: string;
  metricsPort: string;
  sessionIdleMs: string;
  sessionTimeoutMs: string;
  heartbeatIntervalMs: string;
  logLevel: string;
  kvEventsTopic?: string;
  requestsTopic?: string;
  dlqTopic?: string;
  sessionsRepartitionTopic?: string;
  sessionsTopic?: string;
  modelTopic?: string;
}

export const PROCESSOR_DEFAULTS = {
  groupId: 'cachesage-processors',
  policy: 'cachesage',
  metricsPort: '9464',
  sessionIdleMs: '600000',
  sessionTimeoutMs: '10000',
  heartbeatIntervalMs: '1000',
  logLevel: 'info',
} as const;

function integer(flag: string, text: string, min: number): number {
  const v = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(v) || v < min) {
    throw new ConfigError(`${flag}: expected an integer ≥ ${min}, got ${JSON.stringify(text)}`);
  }
  return v;
}

/** The policies of `--policy` (comma separated); CacheSage gets the session idle time. */
export function processorPolicies(list: string, sessionIdleMs: number): Policy[] {
  const names = list.split(',').map((n) => n.trim());
  for (const name of names) {
    if (!(BUILTIN_POLICIES as readonly string[]).includes(name)) {
      throw new ConfigError(`--policy: unknown policy ${JSON.stringify(name)} (known: ${BUILTIN_POLICIES.join(', ')})`);
    }
  }
  if (new Set(names).size !== names.length) throw new ConfigError(`--policy: a policy is listed twice in ${list}`);
  return names.map((name) => createPolicy(name, name === 'cachesage' ? { sessionIdleMs } : undefined));
}

function topicsOf(flags: ProcessorFlags): Partial<ProcessorTopics> {
  return {
    ...(flags.kvEventsTopic ? { kvEvents: flags.kvEventsTopic } : {}),
    ...(flags.requestsTopic ? { requests: flags.requestsTopic } : {}),
    ...(flags.dlqTopic ? { deadLetters: flags.dlqTopic } : {}),
    ...(flags.sessionsRepartitionTopic ? { sessionsRepartition: flags.sessionsRepartitionTopic } : {}),
    ...(flags.sessionsTopic ? { sessions: flags.sessionsTopic } : {}),
    ...(flags.modelTopic ? { model: flags.modelTopic } : {}),
  };
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

/** Adds `cachesage processor`: one instance of the processor group (both sub-topologies), until SIGTERM/SIGINT. */
export function registerProcessor(program: Command): void {
  withSettings(program.command('processor'), ['kafkaBrokers', 'natsUrl'])
    .description(
      'run one processor of the group: the engine sub-topology (KV and request events keyed by engine → policies → ' +
        'acts on NATS) and the session sub-topology (requests keyed by session → positions and the shared ' +
        'transition model); /metrics, /healthz and /status on --metrics-port; SIGTERM drains and leaves the group',
    )
    .option('--brokers <list>', 'same as --kafka-brokers')
    .option('--group-id <id>', 'consumer group of the processors', PROCESSOR_DEFAULTS.groupId)
    .option(
      '--policy <list>',
      `policies to run, comma separated, of ${BUILTIN_POLICIES.join(', ')}`,
      PROCESSOR_DEFAULTS.policy,
    )
    .option(
      '--metrics-port <port>',
      'port of /metrics, /healthz and /status (0: any free port)',
      PROCESSOR_DEFAULTS.metricsPort,
    )
    .option('--session-idle-ms <ms>', 'a session idle this long (event time) ends', PROCESSOR_DEFAULTS.sessionIdleMs)
    .option('--session-timeout-ms <ms>', 'Kafka group session timeout', PROCESSOR_DEFAULTS.sessionTimeoutMs)
    .option('--heartbeat-interval-ms <ms>', 'Kafka group heartbeat interval', PROCESSOR_DEFAULTS.heartbeatIntervalMs)
    .option('--log-level <level>', 'pino log level (JSON lines on stderr)', PROCESSOR_DEFAULTS.logLevel)
    .option('--kv-events-topic <topic>', `KV events (default ${DEFAULT_PROCESSOR_TOPICS.kvEvents})`)
    .option('--requests-topic <topic>', `request events (default ${DEFAULT_PROCESSOR_TOPICS.requests})`)
    .option('--dlq-topic <topic>', `dead letters (default ${DEFAULT_PROCESSOR_TOPICS.deadLetters})`)
    .option(
      '--sessions-repartition-topic <topic>',
      `requests keyed by session (default ${DEFAULT_PROCESSOR_TOPICS.sessionsRepartition})`,
    )
    .option('--sessions-topic <topic>', `session positions (default ${DEFAULT_PROCESSOR_TOPICS.sessions})`)
    .option('--model-topic <topic>', `shared transition counts (default ${DEFAULT_PROCESSOR_TOPICS.model})`)
    .action(async (flags: ProcessorFlags) => {
      const config = settingsOf({ ...flags, kafkaBrokers: flags.brokers ?? flags.kafkaBrokers });
      const sessionIdleMs = integer('--session-idle-ms', flags.sessionIdleMs, 1);
      const metricsPort = integer('--metrics-port', flags.metricsPort, 0);
      const policies = processorPolicies(flags.policy, sessionIdleMs);
      const logger = createServiceLogger({
        name: 'cachesage-processor',
        level: flags.logLevel,
        base: { groupId: flags.groupId },
      });
      const metrics = createProcessorMetrics();
      const processor = await startProcessor({
        brokers: config.kafkaBrokers,
        natsUrl: config.natsUrl,
        kafkaSecurity: config.kafkaSecurity,
        natsSecurity: config.natsSecurity,
        groupId: flags.groupId,
        policies,
        topics: topicsOf(flags),
        sessionIdleMs,
        sessionTimeoutMs: integer('--session-timeout-ms', flags.sessionTimeoutMs, 1),
        heartbeatIntervalMs: integer('--heartbeat-interval-ms', flags.heartbeatIntervalMs, 1),
        clientId: `cachesage-processor-${process.pid}`,
        metrics,
        logger,
      });
      const ops = await startOpsServer({
        port: metricsPort,
        registry: metrics.registry,
        health: () => processor.health(),
        status: () => processor.status(),
      }).catch(async (err: unknown) => {
        await processor.close();
        throw err;
      });
      logger.info(
        { metricsPort: ops.port, brokers: config.kafkaBrokers, natsUrl: config.natsUrl, topics: processor.topics },
        'processor running',
      );
      const outcome = await Promise.race([
        untilSignal().then((signal) => ({ signal })),
        processor.closed.then(
          () => ({ stopped: true }),
          (err: unknown) => ({ err }),
        ),
      ]);
      if ('signal' in outcome) {
        logger.info({ signal: outcome.signal }, 'draining');
        await processor.drain().catch((err: unknown) => logger.error({ err }, 'drain failed'));
        logger.info({ status: processor.status() }, 'processor stopped');
        await ops.close();
        process.exit(0);
      }
      await ops.close();
      if ('err' in outcome) logger.error({ err: outcome.err }, 'processor failed');
      else logger.error('processor stopped by itself');
      process.exit(1);
    });
}
