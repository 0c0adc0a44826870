import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { createKafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { connectNats } from '../../adapters/nats/connect.js';
import { natsSubscribe } from '../../adapters/nats/nats-subscribe.js';
import { createServiceLogger } from '../../adapters/ops/logger.js';
import { ConfigError } from '../../core/errors.js';
import { KV_EVENTS_TOPIC, REQUESTS_TOPIC } from '../../infra/topics.js';
import { createEngineSimService } from '../../services/engine-sim/run-engine-sim.js';
import { selectSessions } from '../../services/engine-sim/select-sessions.js';
import { loadWorkload } from '../../workloads/load-workload.js';
import { isSyntheticSpec, parseSyntheticSpec } from '../../workloads/synthetic-spec.js';
import type { TemplateChoice } from '../../workloads/trace-workload.js';
import { settingsOf, withSettings } from './infra.js';

interface EngineSimFlags extends Record<string, unknown> {
  engineId?: string;
  engineIndex: string;
  engines: string;
  workload: string;
  sessionsFrom?: string;
  sessionsCount?: string;
  sessionFilter?: string;
  budget: string;
  concurrency: string;
  cpuTierBlocks: string;
  speed: string;
  seed: string;
  template?: string;
  agents?: string;
  nonLlmAgents?: string;
  brokers?: string;
  kvEventsTopic?: string;
  requestsTopic?: string;
  waitForStart?: boolean;
  startAt?: string;
  logLevel: string;
}

export const ENGINE_SIM_DEFAULTS = {
  engineIndex: '0',
  engines: '1',
  workload: 'synthetic',
  budget: '250',
  concurrency: '4',
  cpuTierBlocks: '0',
  speed: '1',
  seed: '1',
  logLevel: 'info',
} as const;

function integer(flag: string, text: string, min: number): number {
  const v = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(v) || v < min) {
    throw new ConfigError(`${flag}: expected an integer ≥ ${min}, got ${JSON.stringify(text)}`);
  }
  return v;
}

function positive(flag: string, text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v <= 0) {
    throw new ConfigError(`${flag}: expected a number > 0, got ${JSON.stringify(text)}`);
  }
  return v;
}

function firstLine(): Promise<void> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    const done = (): void => {
      rl.close();
      resolve();
    };
    rl.once('line', done);
    rl.once('close', resolve);
  });
}

/** Adds `cachesage engine-sim`: one simulated engine publishing to Kafka and taking acts from NATS. */
export function registerEngineSim(program: Command): void {
  withSettings(program.command('engine-sim'), ['kafkaBrokers', 'natsUrl'])
    .description(
      "run one simulated engine as a service: engine <index>'s part of the fixed request order of --engines " +
        'engines (as `simulate --engines N`), in real time × --speed, KV and request events to Kafka, acts from ' +
        'NATS through its hooks; prints its result as JSON on stdout when every request finished',
    )
    .option('--engine-id <id>', 'engine id (default engine-<index>, as simulate names them)')
    .option('--engine-index <k>', 'which part of the request order this engine serves', ENGINE_SIM_DEFAULTS.engineIndex)
    .option('--engines <n>', 'engines sharing the sessions', ENGINE_SIM_DEFAULTS.engines)
    .option(
      '--workload <path|synthetic[:profile]>',
      'trace (trace format v1) or synthetic spec',
      ENGINE_SIM_DEFAULTS.workload,
    )
    .option('--sessions-from <i>', 'first session kept (file order)')
    .option('--sessions-count <n>', 'sessions kept from there')
    .option('--session-filter <regex>', 'keep only sessions whose id matches (before --sessions-from/count)')
    .option('--budget <blocks>', 'GPU blocks kept for reuse between requests', ENGINE_SIM_DEFAULTS.budget)
    .option('--concurrency <n>', 'active sessions per engine', ENGINE_SIM_DEFAULTS.concurrency)
    .option('--cpu-tier-blocks <blocks>', 'CPU-tier capacity in blocks (0: none)', ENGINE_SIM_DEFAULTS.cpuTierBlocks)
    .option('--speed <x>', 'simulated ms per wall ms (1: the cost model in real time)', ENGINE_SIM_DEFAULTS.speed)
    .option('--seed <n>', 'seed of the step gaps (and of a synthetic workload)', ENGINE_SIM_DEFAULTS.seed)
    .option('--template <name>', 'prompt template for traces: group-chat | phase | auto')
    .option('--agents <file>', 'agents file (system prompts)')
    .option('--non-llm-agents <a,b>', 'agents whose turns are messages, not LLM calls')
    .option('--brokers <list>', 'same as --kafka-brokers')
    .option('--kv-events-topic <topic>', `KV events (default ${KV_EVENTS_TOPIC})`)
    .option('--requests-topic <topic>', `request events (default ${REQUESTS_TOPIC})`)
    .option('--wait-for-start', 'load and connect, log "engine ready", then start at the first line on stdin')
    .option('--start-at <epoch-ms>', 'start at this wall time (engines of one run start together)')
    .option('--log-level <level>', 'pino log level (JSON lines on stderr)', ENGINE_SIM_DEFAULTS.logLevel)
    .action(async (flags: EngineSimFlags) => {
      const config = settingsOf({ ...flags, kafkaBrokers: flags.brokers ?? flags.kafkaBrokers });
      const engines = integer('--engines', flags.engines, 1);
      const engineIndex = integer('--engine-index', flags.engineIndex, 0);
      const engineId = flags.engineId ?? `engine-${engineIndex}`;
      if (!/^[^.*>\s]+$/.test(engineId)) {
        throw new ConfigError(
          `--engine-id: ${JSON.stringify(engineId)} must be one NATS subject token (no . * > or spaces)`,
        );
      }
      const seed = integer('--seed', flags.seed, Number.MIN_SAFE_INTEGER);
      const workloadSpec = flags.workload.trim();
      if (isSyntheticSpec(workloadSpec)) parseSyntheticSpec(workloadSpec);
      else if (!existsSync(workloadSpec)) {
        throw new ConfigError(`--workload: no such file ${JSON.stringify(workloadSpec)} (or use synthetic[:profile])`);
      }
      let filter: RegExp | undefined;
      try {
        filter = flags.sessionFilter === undefined ? undefined : new RegExp(flags.sessionFilter);
      } catch (err) {
        throw new ConfigError(`--session-filter: ${(err as Error).message}`);
      }
      const numbers = {
        budgetBlocks: integer('--budget', flags.budget, 0),
        concurrency: integer('--concurrency', flags.concurrency, 1),
        cpuTierBlocks: integer('--cpu-tier-blocks', flags.cpuTierBlocks, 0),
        speed: positive('--speed', flags.speed),
      };
      const logger = createServiceLogger({ name: 'cachesage-engine-sim', level: flags.logLevel, base: { engineId } });
      const nonLlmAgents = flags.nonLlmAgents
        ?.split(',')
        .map((a) => a.trim())
        .filter((a) => a !== '');
      const loaded = await loadWorkload(workloadSpec, {
        seed,
        ...(flags.template === undefined ? {} : { template: flags.template as TemplateChoice }),
        ...(flags.agents === undefined ? {} : { agentsFile: flags.agents }),
        ...(nonLlmAgents === undefined ? {} : { nonLlmAgents }),
      });
      const workload = selectSessions(loaded, {
        ...(flags.sessionsFrom === undefined ? {} : { from: integer('--sessions-from', flags.sessionsFrom, 0) }),
        ...(flags.sessionsCount === undefined ? {} : { count: integer('--sessions-count', flags.sessionsCount, 1) }),
        ...(filter === undefined ? {} : { filter }),
      });
      const kafka = createKafkaSink({
        brokers: config.kafkaBrokers,
        clientId: `cachesage-engine-sim-${engineId}`,
        security: config.kafkaSecurity,
      });
      await kafka.connect();
      const nc = await connectNats({
        servers: config.natsUrl,
        name: `cachesage-engine-sim-${engineId}`,
        reconnect: true,
        security: config.natsSecurity,
      });
      let service: ReturnType<typeof createEngineSimService>;
      try {
        service = createEngineSimService({
          workload,
          engineIndex,
          engines,
          engineId,
          ...numbers,
          seed,
          kafka,
          ...(flags.kvEventsTopic === undefined ? {} : { kvEventsTopic: flags.kvEventsTopic }),
          ...(flags.requestsTopic === undefined ? {} : { requestsTopic: flags.requestsTopic }),
          subscribe: natsSubscribe(nc, {
            onDecodeError: (err, subject) => logger.warn({ err, subject }, 'act does not decode'),
          }),
        });
      } catch (err) {
        await kafka.close().catch(() => undefined);
        await nc.close().catch(() => undefined);
        throw err;
      }
      await nc.flush();
      logger.info(
        { workload: workload.workloadId, sessions: workload.sessions.length, requests: service.requests, engines },
        'engine ready',
      );
      if (flags.waitForStart === true) await firstLine();
      if (flags.startAt !== undefined) {
        const wait = integer('--start-at', flags.startAt, 0) - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      service.start();
      logger.info({ speed: service.scheduler.speed }, 'engine started');
      let code = 0;
      try {
        const report = await service.done;
        process.stdout.write(`${JSON.stringify(report)}\n`);
        logger.info({ tokenHitRate: report.tokenHitRate, requests: report.requests }, 'engine finished');
      } catch (err) {
        logger.error({ err }, 'engine failed');
        code = 1;
      } finally {
        service.stop();
        await kafka.close().catch(() => undefined);
        await nc.drain().catch(() => undefined);
      }
      process.exit(code);
    });
}
