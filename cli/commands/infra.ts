import { relative } from 'node:path';
import { type Command, Option } from 'commander';
import {
  CONFIG_ENV,
  CONFIG_FLAGS,
  type ConfigFlags,
  type ConfigKey,
  type LoadedConfig,
  loadConfig,
} from '../../core/config.js';
import { type KafkaLauncherOptions, kafkaDown, kafkaLauncherStatus, kafkaUp } from '../../infra/kafka/launcher.js';
import { probeKafka } from '../../infra/kafka/probe.js';
import { probeNats } from '../../infra/nats/probe.js';
import { natsDown, natsStartCommand, natsUp, ownNatsPid } from '../../infra/nats/server.js';

const DESCRIPTIONS: Record<ConfigKey, string> = {
  kafkaBrokers: 'Kafka bootstrap brokers host:port[,host:port]',
  natsUrl: 'NATS server URL',
  workloadsDir: 'folder of the shared workloads',
  dataDir: 'folder for local state (Kafka data, pid files, logs)',
  kafkaPort: 'PLAINTEXT port of the local Kafka',
  kafkaControllerPort: 'CONTROLLER port of the local Kafka',
  topicPartitions: 'partition count of the co-partitioned event topics',
};

/**
 * Adds `--config` and the flags of `keys` (names from CONFIG_FLAGS) to a command. `settingsOf` turns the parsed
 * options into the loaded configuration (flags > env > file > defaults).
 */
export function withSettings(command: Command, keys: ConfigKey[]): Command {
  command.option('--config <file>', 'config file (YAML or JSON); default ./cachesage.config.yaml if present');
  for (const key of keys) {
    command.addOption(new Option(`${CONFIG_FLAGS[key]} <value>`, `${DESCRIPTIONS[key]} (env ${CONFIG_ENV[key]})`));
  }
  return command;
}

/** The configuration for a command's parsed options (see `withSettings`). */
export function settingsOf(options: Record<string, unknown>): LoadedConfig {
  const flags: ConfigFlags = {};
  for (const key of Object.keys(CONFIG_FLAGS) as ConfigKey[]) {
    const value = options[new Option(`${CONFIG_FLAGS[key]} <value>`).attributeName()];
    if (typeof value === 'string') flags[key] = value;
  }
  return loadConfig({ flags, configPath: typeof options.config === 'string' ? options.config : undefined });
}

function launcherOptions(config: LoadedConfig): KafkaLauncherOptions {
  return {
    dataDir: config.dataDir,
    kafkaPort: config.kafkaPort,
    controllerPort: config.kafkaControllerPort,
    progress: (line) => process.stderr.write(`cachesage infra: ${line}\n`),
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

const LAUNCHER_KEYS: ConfigKey[] = ['dataDir', 'kafkaPort', 'kafkaControllerPort', 'natsUrl'];

export function registerInfra(program: Command): void {
  const infra = program
    .command('infra')
    .description('local Kafka (KRaft, from Maven Central jars) and NATS without Docker: up | down | status');

  withSettings(infra.command('up'), LAUNCHER_KEYS)
    .description('start Kafka (and nats-server when installed but not running); harmless when already running')
    .option('--no-nats', 'leave NATS alone')
    .action(async (options: Record<string, unknown>) => {
      const config = settingsOf(options);
      const kafka = await kafkaUp(launcherOptions(config));
      const at = kafka.brokers.join(',');
      if (kafka.state === 'already-running') {
        process.stdout.write(`Kafka: already running at ${at} (pid ${kafka.pid})\n`);
      } else {
        const recovered =
          kafka.stalePid === undefined ? '' : ` (pid ${kafka.stalePid} had died; stale pid file replaced)`;
        process.stdout.write(
          `Kafka: started at ${at} (pid ${kafka.pid}, cluster ${kafka.clusterId}) in ${seconds(kafka.elapsedMs)}${recovered}; ` +
            `log ${shown(kafka.logFile)}\n`,
        );
      }
      if (options.nats === false) return;
      const nats = await natsUp({
        natsUrl: config.natsUrl,
        dataDir: config.dataDir,
        progress: (line) => process.stderr.write(`cachesage infra: ${line}\n`),
      });
      const js = nats.probe.jetstream ? 'JetStream enabled' : `JetStream NOT enabled (${nats.probe.error})`;
      const verb = nats.state === 'started' ? `started (pid ${nats.pid})` : 'already running';
      process.stdout.write(`NATS: ${verb} at ${config.natsUrl} (nats-server ${nats.probe.serverVersion}, ${js})\n`);
    });

  withSettings(infra.command('down'), LAUNCHER_KEYS)
    .description('stop the Kafka broker started by `infra up` (by its pid), and nats-server if `infra up` started it')
    .action(async (options: Record<string, unknown>) => {
      const config = settingsOf(options);
      const kafka = await kafkaDown(launcherOptions(config));
      if (kafka.state === 'stopped') {
        const how = kafka.forced ? 'SIGKILL after SIGTERM timed out' : 'SIGTERM';
        process.stdout.write(`Kafka: stopped pid ${kafka.pid} (${how}, ${seconds(kafka.elapsedMs)})\n`);
      } else {
        const stale = kafka.stalePid === undefined ? '' : `; removed the stale pid file of pid ${kafka.stalePid}`;
        process.stdout.write(`Kafka: not running${stale}\n`);
      }
      const nats = await natsDown({ dataDir: config.dataDir });
      if (nats.state === 'stopped') process.stdout.write(`NATS: stopped pid ${nats.pid} (started by infra up)\n`);
      else process.stdout.write(`NATS: not started by infra up; left as it is\n`);
    });

  withSettings(infra.command('status'), [...LAUNCHER_KEYS, 'kafkaBrokers'])
    .description('what runs where: Kafka pid/port/reachability, NATS reachability and JetStream, data folder')
    .option('--json', 'print JSON')
    .action(async (options: Record<string, unknown>) => {
      const config = settingsOf(options);
      const launcher = await kafkaLauncherStatus(launcherOptions(config));
      const external =
        config.sources.kafkaBrokers === 'default' ? undefined : await probeKafka({ brokers: config.kafkaBrokers });
      const nats = await probeNats({ natsUrl: config.natsUrl });
      const natsPid = ownNatsPid(config.dataDir);
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({ kafka: launcher, kafkaBrokers: { brokers: config.kafkaBrokers, probe: external ?? launcher.probe }, nats: { ...nats, pid: natsPid }, dataDir: config.dataDir, configFile: config.configFile }, null, 2)}\n`,
        );
        return;
      }
      const lines: string[] = [];
      const reach = (p: { reachable: boolean; clusterId?: string; brokerCount?: number; error?: string }) =>
        p.reachable ? `reachable (cluster ${p.clusterId}, ${p.brokerCount} broker(s))` : `not reachable (${p.error})`;
      const state = launcher.running ? `running, pid ${launcher.pid}` : 'not running';
      const stale =
        launcher.stalePid === undefined ? '' : ` (stale pid file: pid ${launcher.stalePid} died; "infra up" recovers)`;
      lines.push(
        `Kafka   ${state}${stale}, ${launcher.brokers.join(',')} (controller ${config.kafkaControllerPort}): ${reach(launcher.probe)}`,
        `        data ${shown(launcher.dataDir)}, log ${shown(launcher.logFile)}`,
      );
      if (external)
        lines.push(`Kafka   ${config.kafkaBrokers.join(',')} (${config.sources.kafkaBrokers}): ${reach(external)}`);
      if (nats.reachable) {
        const js = nats.jetstream ? 'JetStream enabled' : `JetStream NOT enabled (${nats.error})`;
        const owner = natsPid === undefined ? 'not started by infra up' : `pid ${natsPid}, started by infra up`;
        lines.push(`NATS    ${config.natsUrl}: reachable, nats-server ${nats.serverVersion}, ${js} (${owner})`);
      } else {
        lines.push(
          `NATS    ${config.natsUrl}: not reachable (${nats.error}). Start it with "cachesage infra up", or:`,
          `        ${natsStartCommand(config.natsUrl)}`,
        );
      }
      lines.push(
        `Data    ${shown(config.dataDir)}; config file: ${config.configFile ? shown(config.configFile) : 'none'}`,
      );
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
