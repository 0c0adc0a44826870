import type { Command } from 'commander';
import { pino } from 'pino';
import { createKafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { serveMetrics } from '../../adapters/proxy/metrics-endpoint.js';
import { startVllmBridge } from '../../adapters/vllm/bridge.js';
import { connectWithBackoff } from '../../adapters/vllm/connect-with-backoff.js';
import { loadConfig } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import { DLQ_TOPIC, KV_EVENTS_TOPIC } from '../../infra/topics.js';
import { createCodec } from '../../schemas/codec.js';
import { withSettings } from './infra.js';

interface BridgeFlags {
  endpoint: string;
  replay?: string;
  topic: string;
  engineId: string;
  brokers?: string;
  kafkaBrokers?: string;
  config?: string;
  kvCacheGroup: string;
  hashMapCapacity: string;
  replayTimeoutMs: string;
  metricsPort?: string;
  logLevel: string;
}

function integer(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new ConfigError(`--${name} must be an integer >= ${min}, got ${text}`);
  return value;
}

/** Resolves with the name of the first SIGINT or SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (name: string) => resolve(name);
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

export function registerBridge(program: Command): void {
  const bridge = program.command('bridge').description('bridges from serving engines into the layer');
  withSettings(bridge.command('vllm'), ['kafkaBrokers'])
    .description(`vLLM KV events (ZMQ PUB + replay ROUTER) -> ${KV_EVENTS_TOPIC} on Kafka, keyed by engine id`)
    .requiredOption(
      '--endpoint <url>',
      "vLLM's KV-event PUB endpoint (kv-events-config endpoint), e.g. tcp://engine:5557",
    )
    .option('--replay <url>', "vLLM's replay endpoint (kv-events-config replay_endpoint), e.g. tcp://engine:5558")
    .option('--topic <topic>', "ZMQ topic prefix (kv-events-config topic); '' takes every message", '')
    .requiredOption('--engine-id <id>', 'engine id of this vLLM instance (or data-parallel rank)')
    .option('--brokers <list>', 'same as --kafka-brokers')
    .option('--kv-cache-group <n>', 'KV-cache group followed in hybrid models', '0')
    .option('--hash-map-capacity <n>', 'engine hashes remembered for mapping (LRU)', '200000')
    .option('--replay-timeout-ms <ms>', 'budget of one replay request', '2000')
    .option('--metrics-port <port>', 'serve Prometheus metrics on this port at /metrics')
    .option('--log-level <level>', 'pino log level (to stderr)', 'info')
    .action(async (flags: BridgeFlags) => {
      const config = loadConfig({
        flags: { kafkaBrokers: flags.brokers ?? flags.kafkaBrokers },
        configPath: flags.config,
      });
      const logger = pino({ name: 'cachesage-bridge', level: flags.logLevel }, pino.destination(2));
      const sink = createKafkaSink({
        brokers: config.kafkaBrokers,
        clientId: `cachesage-bridge-${flags.engineId}`,
      });
      await connectWithBackoff(sink, logger);
      const kvCodec = createCodec('KvEvent');
      const dlqCodec = createCodec('DeadLetter');
      const running = startVllmBridge({
        engineId: flags.engineId,
        endpoint: flags.endpoint,
        ...(flags.replay === undefined ? {} : { replayEndpoint: flags.replay }),
        topic: flags.topic,
        sink,
        encodeKvEvent: (e) => kvCodec.encode(e),
        encodeDeadLetter: (d) => dlqCodec.encode(d),
        kvEventsTopic: KV_EVENTS_TOPIC,
        deadLetterTopic: DLQ_TOPIC,
        kvCacheGroup: integer('kv-cache-group', flags.kvCacheGroup, 0),
        hashMapCapacity: integer('hash-map-capacity', flags.hashMapCapacity, 1),
        replayTimeoutMs: integer('replay-timeout-ms', flags.replayTimeoutMs, 1),
        logger,
      });
      const metrics =
        flags.metricsPort === undefined
          ? undefined
          : await serveMetrics([running.metrics.registry], integer('metrics-port', flags.metricsPort, 0));
      logger.info(
        {
          endpoint: flags.endpoint,
          replay: flags.replay ?? null,
          brokers: config.kafkaBrokers,
          metricsPort: metrics?.port,
        },
        'bridge running',
      );
      const signal = await untilSignal();
      logger.info({ signal, stats: running.stats }, 'stopping');
      await running.close();
      await metrics?.close();
      await sink.close();
    });
}
