import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, InfraError } from '../../core/errors.js';
import { withLockFile } from '../lock.js';
import { readTail, tail } from '../log-tail.js';
import { type KafkaPaths, kafkaPaths } from '../paths.js';
import { isPortFree } from '../ports.js';
import {
  commandLine,
  findExecutable,
  findProcesses,
  isAlive,
  readPidFile,
  removeFile,
  runCommand,
  stopProcess,
  writePidFile,
} from '../process.js';
import { ensureKafkaJars } from './jars.js';
import { type KafkaProbe, probeKafka } from './probe.js';
import { renderServerProperties } from './server-properties.js';

const MAIN_CLASS = 'kafka.Kafka';

/** Where and how the local single-node Kafka (KRaft, broker+controller) runs. */
export interface KafkaLauncherOptions {
  /** State root; the broker lives in `<dataDir>/kafka`. */
  dataDir: string;
  /** PLAINTEXT port. */
  kafkaPort: number;
  /** CONTROLLER port. */
  controllerPort: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Java command; default `java`. */
  javaCommand?: string;
  /** Maven command (fetches the jars once); default `mvn`. */
  mvnCommand?: string;
  /** Broker heap; default 768. */
  heapMb?: number;
  /** How long `up` waits for `describeCluster` to answer; default 120 000. */
  readyTimeoutMs?: number;
  /** How long `down` waits after SIGTERM before SIGKILL; default 30 000. */
  stopTimeoutMs?: number;
  /** Progress lines (the CLI writes them to stderr). */
  progress?: (line: string) => void;
}

export interface KafkaUpResult {
  /** `started`: this call started the broker; `already-running`: it was running (and answers). */
  state: 'started' | 'already-running';
  pid: number;
  brokers: string[];
  clusterId: string | undefined;
  /** Pid of a broker that died without `down` (its pid file was left behind), when one was found. */
  stalePid: number | undefined;
  elapsedMs: number;
  logFile: string;
}

export interface KafkaDownResult {
  state: 'stopped' | 'not-running';
  pid: number | undefined;
  /** True when SIGTERM did not stop it in time and SIGKILL did. */
  forced: boolean;
  stalePid: number | undefined;
  elapsedMs: number;
}

export interface KafkaLauncherStatus {
  /** True when the launcher's broker process runs. */
  running: boolean;
  pid: number | undefined;
  stalePid: number | undefined;
  brokers: string[];
  controllerPort: number;
  probe: KafkaProbe;
  dataDir: string;
  logFile: string;
}

interface Resolved {
  host: string;
  kafkaPort: number;
  controllerPort: number;
  javaCommand: string;
  mvnCommand: string;
  heapMb: number;
  readyTimeoutMs: number;
  stopTimeoutMs: number;
  progress: (line: string) => void;
  paths: KafkaPaths;
  brokers: string[];
}

/** Starts the broker unless it already runs, and waits until it answers `describeCluster`. */
export async function kafkaUp(options: KafkaLauncherOptions): Promise<KafkaUpResult> {
  const o = resolveOptions(options);
  const started = Date.now();
  return withLockFile(o.paths.lockFile, o.readyTimeoutMs + 60_000, async () => {
    const found = findBroker(o.paths);
    if (found.pid !== undefined) {
      assertSameConfig(o, found.pid);
      writePidFile(o.paths.pidFile, found.pid);
      const probe = await waitReady(o, found.pid, started);
      return upResult(o, 'already-running', found.pid, probe, found.stalePid, started);
    }
    if (found.stalePid !== undefined) {
      o.progress(`pid file names pid ${found.stalePid}, which is not running: starting a new broker`);
      removeFile(o.paths.pidFile);
    }
    const java = findExecutable([o.javaCommand], ['-version']);
    if (!java) {
      throw new InfraError(
        'INFRA_MISSING',
        `Java is not installed (no "${o.javaCommand}" on PATH); the local Kafka needs Java 17+. ` +
          'Install it (Debian/Ubuntu: apt-get install -y openjdk-17-jre-headless) or set KAFKA_BROKERS to use another broker.',
      );
    }
    await assertPortsFree(o);
    await ensureKafkaJars({
      pomPath: o.paths.pom,
      libsDir: o.paths.libs,
      mvnCommand: o.mvnCommand,
      progress: o.progress,
    });
    mkdirSync(o.paths.root, { recursive: true });
    writeFileSync(o.paths.serverProperties, serverProperties(o));
    if (!existsSync(join(o.paths.logDirs, 'meta.properties'))) await formatStorage(o, java.command);
    const pid = spawnBroker(o, java.command);
    writePidFile(o.paths.pidFile, pid);
    o.progress(`started Kafka (pid ${pid}), waiting for it to answer on ${o.brokers.join(',')}`);
    const probe = await waitReady(o, pid, started);
    return upResult(o, 'started', pid, probe, found.stalePid, started);
  });
}

/** Stops the launcher's broker by its own pid: SIGTERM, then SIGKILL after `stopTimeoutMs`. */
export async function kafkaDown(options: KafkaLauncherOptions): Promise<KafkaDownResult> {
  const o = resolveOptions(options);
  return withLockFile(o.paths.lockFile, o.stopTimeoutMs + 60_000, async () => {
    const found = findBroker(o.paths);
    if (found.pid === undefined) {
      removeFile(o.paths.pidFile);
      return { state: 'not-running', pid: undefined, forced: false, stalePid: found.stalePid, elapsedMs: 0 };
    }
    o.progress(`stopping Kafka (pid ${found.pid})`);
    const outcome = await stopProcess(found.pid, o.stopTimeoutMs);
    removeFile(o.paths.pidFile);
    return {
      state: 'stopped',
      pid: found.pid,
      forced: outcome.forced,
      stalePid: found.stalePid,
      elapsedMs: outcome.elapsedMs,
    };
  });
}

/** Whether the launcher's broker runs and whether it answers. */
export async function kafkaLauncherStatus(options: KafkaLauncherOptions): Promise<KafkaLauncherStatus> {
  const o = resolveOptions(options);
  const found = findBroker(o.paths);
  return {
    running: found.pid !== undefined,
    pid: found.pid,
    stalePid: found.stalePid,
    brokers: o.brokers,
    controllerPort: o.controllerPort,
    probe: await probeKafka({ brokers: o.brokers, timeoutMs: 2000 }),
    dataDir: o.paths.root,
    logFile: o.paths.logFile,
  };
}

function resolveOptions(options: KafkaLauncherOptions): Resolved {
  const { kafkaPort, controllerPort } = options;
  for (const [name, port] of [
    ['kafkaPort', kafkaPort],
    ['controllerPort', controllerPort],
  ] as const) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError(`Kafka launcher: ${name} must be a TCP port (integer 1-65535), got ${port}`);
    }
  }
  if (kafkaPort === controllerPort) {
    throw new ConfigError(`Kafka launcher: kafkaPort and controllerPort must differ (both ${kafkaPort})`);
  }
  const heapMb = options.heapMb ?? 768;
  if (!Number.isInteger(heapMb) || heapMb < 256) {
    throw new ConfigError(`Kafka launcher: heapMb must be an integer >= 256, got ${heapMb}`);
  }
  if (!options.dataDir) throw new ConfigError('Kafka launcher: dataDir is required');
  const host = options.host ?? '127.0.0.1';
  return {
    host,
    kafkaPort,
    controllerPort,
    javaCommand: options.javaCommand ?? 'java',
    mvnCommand: options.mvnCommand ?? 'mvn',
    heapMb,
    readyTimeoutMs: options.readyTimeoutMs ?? 120_000,
    stopTimeoutMs: options.stopTimeoutMs ?? 30_000,
    progress: options.progress ?? (() => undefined),
    paths: kafkaPaths(options.dataDir),
    brokers: [`${host}:${kafkaPort}`],
  };
}

/** The launcher's live broker (pid file first, else a process scan for its server.properties) and a stale pid. */
function findBroker(paths: KafkaPaths): { pid: number | undefined; stalePid: number | undefined } {
  const recorded = readPidFile(paths.pidFile);
  if (recorded !== undefined && isOurBroker(recorded, paths)) return { pid: recorded, stalePid: undefined };
  const scanned = findProcesses([MAIN_CLASS, paths.serverProperties])[0];
  return { pid: scanned, stalePid: recorded };
}

function isOurBroker(pid: number, paths: KafkaPaths): boolean {
  if (!isAlive(pid)) return false;
  const cmd = commandLine(pid);
  return cmd === undefined || (cmd.includes(MAIN_CLASS) && cmd.includes(paths.serverProperties));
}

function serverProperties(o: Resolved): string {
  return renderServerProperties({
    host: o.host,
    kafkaPort: o.kafkaPort,
    controllerPort: o.controllerPort,
    logDirs: o.paths.logDirs,
  });
}

function assertSameConfig(o: Resolved, pid: number): void {
  let running: string;
  try {
    running = readFileSync(o.paths.serverProperties, 'utf8');
  } catch {
    return;
  }
  if (running !== serverProperties(o)) {
    throw new InfraError(
      'INFRA_PORT_TAKEN',
      `the broker of ${o.paths.root} runs (pid ${pid}) with other settings than asked (${o.brokers.join(',')}, ` +
        `controller ${o.controllerPort}); run "cachesage infra down" first`,
    );
  }
}

async function assertPortsFree(o: Resolved): Promise<void> {
  for (const [name, port, setting] of [
    ['Kafka', o.kafkaPort, '--kafka-port / KAFKA_PORT'],
    ['Kafka controller', o.controllerPort, '--kafka-controller-port / KAFKA_CONTROLLER_PORT'],
  ] as const) {
    if (!(await isPortFree(port, o.host))) {
      throw new InfraError(
        'INFRA_PORT_TAKEN',
        `${name} port ${o.host}:${port} is taken by another process (not the broker of ${o.paths.root}). ` +
          `Stop that process (find it with: ss -ltnp 'sport = :${port}') or choose another port (${setting}).`,
      );
    }
  }
}

async function formatStorage(o: Resolved, java: string): Promise<void> {
  o.progress(`formatting KRaft storage in ${o.paths.logDirs}`);
  const base = [`-Dlog4j.configuration=file:${o.paths.log4j}`, '-cp', `${o.paths.libs}/*`, 'kafka.tools.StorageTool'];
  const uuid = await runJava(java, [...base, 'random-uuid']);
  const clusterId = uuid.trim().split('\n').pop()?.trim() ?? '';
  if (!/^[A-Za-z0-9_-]{22}$/.test(clusterId)) {
    throw new InfraError('INFRA_START_FAILED', `StorageTool random-uuid printed no cluster id:\n${tail(uuid, 20)}`);
  }
  await runJava(java, [...base, 'format', '-t', clusterId, '-c', o.paths.serverProperties, '--ignore-formatted']);
}

async function runJava(java: string, args: string[]): Promise<string> {
  const result = await runCommand(java, args);
  if (result.code !== 0) {
    throw new InfraError(
      'INFRA_START_FAILED',
      `${args.slice(-4).join(' ')} failed (exit ${result.code}):\n${tail(result.output, 20)}`,
    );
  }
  return result.stdout;
}

function spawnBroker(o: Resolved, java: string): number {
  if (existsSync(o.paths.logFile)) renameSync(o.paths.logFile, `${o.paths.logFile}.previous`);
  const log = openSync(o.paths.logFile, 'w');
  try {
    const child = spawn(
      java,
      [
        `-Xmx${o.heapMb}m`,
        '-Xms128m',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        `-Dkafka.logs.dir=${o.paths.root}`,
        `-Dlog4j.configuration=file:${o.paths.log4j}`,
        '-cp',
        `${o.paths.libs}/*`,
        MAIN_CLASS,
        o.paths.serverProperties,
      ],
      { detached: true, stdio: ['ignore', log, log], cwd: o.paths.root },
    );
    child.unref();
    if (child.pid === undefined) throw new InfraError('INFRA_START_FAILED', `could not start ${java}`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

async function waitReady(o: Resolved, pid: number, startedMs: number): Promise<KafkaProbe> {
  let lastReport = Date.now();
  for (;;) {
    const probe = await probeKafka({ brokers: o.brokers, timeoutMs: 2000 });
    if (probe.reachable) return probe;
    if (!isAlive(pid)) {
      throw new InfraError(
        'INFRA_START_FAILED',
        `Kafka (pid ${pid}) exited before it answered on ${o.brokers.join(',')}. Last lines of ${o.paths.logFile}:\n` +
          readTail(o.paths.logFile, 30),
      );
    }
    const waitedMs = Date.now() - startedMs;
    if (waitedMs > o.readyTimeoutMs) {
      throw new InfraError(
        'INFRA_START_FAILED',
        `Kafka (pid ${pid}) did not answer on ${o.brokers.join(',')} within ${Math.round(o.readyTimeoutMs / 1000)} s ` +
          `(last error: ${probe.error}). It is still running; "cachesage infra down" stops it. ` +
          `Last lines of ${o.paths.logFile}:\n${readTail(o.paths.logFile, 30)}`,
        { retriable: true },
      );
    }
    if (Date.now() - lastReport >= 5000) {
      o.progress(`waiting for Kafka on ${o.brokers.join(',')} (${Math.round(waitedMs / 1000)} s)`);
      lastReport = Date.now();
    }
    await sleep(500);
  }
}

function upResult(
  o: Resolved,
  state: KafkaUpResult['state'],
  pid: number,
  probe: KafkaProbe,
  stalePid: number | undefined,
  startedMs: number,
): KafkaUpResult {
  return {
    state,
    pid,
    brokers: o.brokers,
    clusterId: probe.clusterId,
    stalePid,
    elapsedMs: Date.now() - startedMs,
    logFile: o.paths.logFile,
  };
}
