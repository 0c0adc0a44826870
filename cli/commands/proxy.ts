import type { Command } from 'commander';
import { pino } from 'pino';
import { createKafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { CHAT_TEMPLATES, type ChatTemplateName } from '../../adapters/proxy/chat-template.js';
import { serveMetrics } from '../../adapters/proxy/metrics-endpoint.js';
import { startTaggingProxy } from '../../adapters/proxy/proxy-server.js';
import { createTokenizerPool } from '../../adapters/proxy/tokenizer-pool.js';
import { connectWithBackoff } from '../../adapters/vllm/connect-with-backoff.js';
import { loadConfig } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import { REQUESTS_TOPIC } from '../../infra/topics.js';
import { createCodec } from '../../schemas/codec.js';
import { withSettings } from './infra.js';

interface ProxyFlags {
  upstream: string;
  listen: string;
  engineId: string;
  tokenizer: string;
  chatTemplate: string;
  dateString?: string;
  workloadId: string;
  tokenizerThreads: string;
  brokers?: string;
  kafkaBrokers?: string;
  config?: string;
  metricsPort?: string;
  logLevel: string;
}

/** `:8080`, `8080`, `host:8080` or `[::1]:8080` -> host and port. */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:(\[[0-9a-fA-F:]+\]|[^:[\]]*):)?(\d+)$/.exec(text.trim());
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new ConfigError(`--listen must be [host]:port, e.g. :8080, got ${JSON.stringify(text)}`);
  }
  const host = (match[1] ?? '').replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export function registerProxy(program: Command): void {
  withSettings(program.command('proxy'), ['kafkaBrokers'])
    .description(
      `agent-tagging reverse proxy for an OpenAI-compatible engine: RequestEvents (ARRIVED, FINISHED) -> ${REQUESTS_TOPIC}`,
    )
    .requiredOption('--upstream <url>', 'the engine, e.g. http://engine:8000')
    .option('--listen <[host]:port>', 'address to listen on', ':8080')
    .requiredOption('--engine-id <id>', 'engine id of the upstream (Kafka key of its events)')
    .option('--tokenizer <name>', 'prompt tokenizer (bundled: llama3)', 'llama3')
    .option('--chat-template <name>', `chat template: ${CHAT_TEMPLATES.join(' | ')}`, 'llama3.1')
    .option('--date-string <date>', 'Llama 3.1 template date_string (default "26 Jul 2024", as vLLM)')
    .option('--workload-id <id>', 'workload of calls whose identity names none', 'default')
    .option('--tokenizer-threads <n>', 'tokenizer worker threads', '1')
    .option('--brokers <list>', 'same as --kafka-brokers')
    .option('--metrics-port <port>', 'serve Prometheus metrics on this port at /metrics')
    .option('--log-level <level>', 'pino log level (to stderr)', 'info')
    .action(async (flags: ProxyFlags) => {
      if (flags.tokenizer !== 'llama3')
        throw new ConfigError(`--tokenizer: only llama3 is bundled, got ${flags.tokenizer}`);
      if (!(CHAT_TEMPLATES as readonly string[]).includes(flags.chatTemplate)) {
        throw new ConfigError(`--chat-template must be one of ${CHAT_TEMPLATES.join(', ')}, got ${flags.chatTemplate}`);
      }
      const threads = Number(flags.tokenizerThreads);
      if (!Number.isInteger(threads) || threads < 1) throw new ConfigError('--tokenizer-threads must be >= 1');
      const listen = parseListen(flags.listen);
      const config = loadConfig({
        flags: { kafkaBrokers: flags.brokers ?? flags.kafkaBrokers },
        configPath: flags.config,
      });
      const logger = pino({ name: 'cachesage-proxy', level: flags.logLevel }, pino.destination(2));
      const sink = createKafkaSink({
        brokers: config.kafkaBrokers,
        clientId: `cachesage-proxy-${flags.engineId}`,
      });
      await connectWithBackoff(sink, logger);
      const tokenizer = createTokenizerPool({
        template: flags.chatTemplate as ChatTemplateName,
        threads,
        ...(flags.dateString === undefined ? {} : { dateString: flags.dateString }),
      });
      await tokenizer.ready;
      const codec = createCodec('RequestEvent');
      const proxy = await startTaggingProxy({
        upstream: flags.upstream,
        listenHost: listen.host,
        listenPort: listen.port,
        engineId: flags.engineId,
        defaultWorkloadId: flags.workloadId,
        sink,
        encodeRequestEvent: (e) => codec.encode(e),
        requestsTopic: REQUESTS_TOPIC,
        tokenizer,
        logger,
      });
      const metrics =
        flags.metricsPort === undefined
          ? undefined
          : await serveMetrics([proxy.metrics.registry], Number(flags.metricsPort));
      logger.info({ listen: proxy.url, upstream: flags.upstream, metricsPort: metrics?.port }, 'proxy running');
      const signal = await new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      logger.info({ signal, stats: proxy.stats }, 'stopping');
      await proxy.close();
      await tokenizer.close();
      await metrics?.close();
      await sink.close();
    });
}
