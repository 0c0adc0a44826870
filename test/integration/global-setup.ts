import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestProject } from 'vitest/node';
import { type LoadedConfig, loadConfig } from '../../core/config.js';
import { CacheSageError } from '../../core/errors.js';
import { kafkaDown, kafkaLauncherStatus, kafkaUp } from '../../infra/kafka/launcher.js';
import { probeKafka } from '../../infra/kafka/probe.js';
import { probeNats } from '../../infra/nats/probe.js';
import { natsDown, natsUp } from '../../infra/nats/server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Comma-separated Kafka bootstrap brokers. */
    kafkaBrokers: string;
    natsUrl: string;
  }
}

const KAFKA_IMAGE = 'apache/kafka:3.9.1';
const NATS_IMAGE = 'nats:2.10-alpine';

type Teardown = () => Promise<unknown>;

/**
 * Finds Kafka and NATS for the integration tests: (a) KAFKA_BROKERS / NATS_URL when set; the local launcher's
 * broker or the default NATS when already running; (b) else containers when a Docker engine answers; (c) else the
 * local launcher; (d) else fails saying what to install. Stops only what it started.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const config = loadConfig();
  const teardowns: Teardown[] = [];
  const docker = lazyDockerCheck();
  try {
    const kafka = await findKafka(config, docker, teardowns);
    const nats = await findNats(config, docker, teardowns);
    process.stderr.write(`integration: Kafka ${kafka.brokers} (${kafka.how}); NATS ${nats.url} (${nats.how})\n`);
    project.provide('kafkaBrokers', kafka.brokers);
    project.provide('natsUrl', nats.url);
    process.env.KAFKA_BROKERS = kafka.brokers;
    process.env.NATS_URL = nats.url;
  } catch (err) {
    await runAll(teardowns);
    throw err;
  }
  return () => runAll(teardowns);
}

async function runAll(teardowns: Teardown[]): Promise<void> {
  for (const teardown of teardowns.reverse()) await teardown();
}

async function findKafka(
  config: LoadedConfig,
  docker: () => Promise<boolean>,
  teardowns: Teardown[],
): Promise<{ brokers: string; how: string }> {
  const brokers = config.kafkaBrokers.join(',');
  if (config.sources.kafkaBrokers !== 'default') {
    const probe = await probeKafka({ brokers: config.kafkaBrokers, timeoutMs: 5000 });
    if (!probe.reachable) throw new Error(`KAFKA_BROKERS=${brokers} does not answer: ${probe.error}`);
    return { brokers, how: `from ${config.sources.kafkaBrokers}` };
  }
  const launcher = { dataDir: config.dataDir, kafkaPort: config.kafkaPort, controllerPort: config.kafkaControllerPort };
  const status = await kafkaLauncherStatus(launcher);
  if (status.running && status.probe.reachable) return { brokers, how: 'local launcher, already running' };
  if (!status.running && (await docker())) {
    const started = await startKafkaContainer();
    teardowns.push(started.stop);
    return { brokers: started.brokers, how: `container ${KAFKA_IMAGE}` };
  }
  try {
    const up = await kafkaUp({ ...launcher, progress: (line) => process.stderr.write(`integration: ${line}\n`) });
    if (up.state === 'started') teardowns.push(() => kafkaDown(launcher));
    return { brokers: up.brokers.join(','), how: `local launcher, ${up.state}` };
  } catch (err) {
    if (err instanceof CacheSageError && err.code === 'INFRA_MISSING') throw new Error(missing(err.message));
    throw err;
  }
}

async function findNats(
  config: LoadedConfig,
  docker: () => Promise<boolean>,
  teardowns: Teardown[],
): Promise<{ url: string; how: string }> {
  const url = config.natsUrl;
  const probe = await probeNats({ natsUrl: url, timeoutMs: 3000 });
  if (probe.reachable && !probe.jetstream) {
    throw new Error(`NATS at ${url} runs without JetStream (${probe.error}); restart it with -js`);
  }
  if (probe.reachable) return { url, how: `nats-server ${probe.serverVersion}, JetStream enabled` };
  if (config.sources.natsUrl !== 'default') throw new Error(`NATS_URL=${url} does not answer: ${probe.error}`);
  if (await docker()) {
    const started = await startNatsContainer();
    teardowns.push(started.stop);
    return { url: started.url, how: `container ${NATS_IMAGE}` };
  }
  try {
    const up = await natsUp({ natsUrl: url, dataDir: config.dataDir });
    if (up.state === 'started') teardowns.push(() => natsDown({ dataDir: config.dataDir }));
    return { url, how: `nats-server ${up.probe.serverVersion}, ${up.state}` };
  } catch (err) {
    if (err instanceof CacheSageError && err.code === 'INFRA_MISSING') throw new Error(missing(err.message));
    throw err;
  }
}

function missing(reason: string): string {
  return [
    'Integration tests need a Kafka broker and a NATS server with JetStream, and none could be found or started.',
    `Reason: ${reason}`,
    'Any one of these fixes it:',
    '  - set KAFKA_BROKERS=host:port and NATS_URL=nats://host:port to use running servers;',
    `  - start a Docker engine (the tests then run ${KAFKA_IMAGE} and ${NATS_IMAGE} -js with testcontainers);`,
    '  - install Java 17+ and Maven for the local Kafka launcher (apt-get install -y openjdk-17-jre-headless maven)',
    '    and nats-server 2.9+ (apt-get install -y nats-server).',
  ].join('\n');
}

/** Asks once, on first use, whether a Docker engine answers (`docker info`, then testcontainers' runtime check). */
function lazyDockerCheck(): () => Promise<boolean> {
  let answer: Promise<boolean> | undefined;
  return () => {
    answer ??= (async () => {
      const cli = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5000, encoding: 'utf8' });
      if (!cli.error && cli.status === 0) return true;
      if (!existsSync('/var/run/docker.sock')) return false;
      const { getContainerRuntimeClient } = await import('testcontainers');
      return Promise.race([
        getContainerRuntimeClient().then(
          () => true,
          () => false,
        ),
        sleep(8000).then(() => false),
      ]);
    })();
    return answer;
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function startKafkaContainer(): Promise<{ brokers: string; stop: Teardown }> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  const host = (await getContainerRuntimeClient()).info.containerRuntime.host;
  const port = await freePort();
  const container = await new GenericContainer(KAFKA_IMAGE)
    .withExposedPorts({ container: 9092, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9094,CONTROLLER://0.0.0.0:9093',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port},BROKER://localhost:9094`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(180_000)
    .start();
  return { brokers: `${host}:${port}`, stop: () => container.stop() };
}

async function startNatsContainer(): Promise<{ url: string; stop: Teardown }> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer(NATS_IMAGE)
    .withCommand(['-js'])
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start();
  return { url: `nats://${container.getHost()}:${container.getMappedPort(4222)}`, stop: () => container.stop() };
}
