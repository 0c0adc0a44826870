import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfraError } from '../../core/errors.js';
import { readTail } from '../log-tail.js';
import { natsPaths } from '../paths.js';
import { isPortFree } from '../ports.js';
import {
  commandLine,
  findExecutable,
  isAlive,
  readPidFile,
  removeFile,
  stopProcess,
  writePidFile,
} from '../process.js';
import { type NatsProbe, probeNats } from './probe.js';

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export interface NatsServerOptions {
  natsUrl: string;
  /** State root; a server started here keeps its JetStream store and log in `<dataDir>/nats`. */
  dataDir: string;
  /** nats-server command; default `nats-server`, then /usr/sbin and /usr/local/bin. */
  natsServerCommand?: string;
  /** Default 20 000. */
  readyTimeoutMs?: number;
  progress?: (line: string) => void;
}

export interface NatsUpResult {
  /** `started`: this call started nats-server; `already-running`: a server answered at the URL. */
  state: 'started' | 'already-running';
  /** Pid of the server this launcher started (now or earlier); undefined for a server it does not own. */
  pid: number | undefined;
  probe: NatsProbe;
}

export interface NatsDownResult {
  state: 'stopped' | 'not-ours';
  pid: number | undefined;
}

/** The command that starts the machine's nats-server as a daemon for `natsUrl` (printed when NATS is absent). */
export function natsStartCommand(natsUrl: string): string {
  const { host, port } = hostPort(natsUrl);
  return (
    'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- ' +
    `-a ${host} -p ${port} -js -sd /var/lib/nats-server -l /var/log/nats-server.log`
  );
}

/** Pid of the nats-server this launcher started in `dataDir`, when it runs. */
export function ownNatsPid(dataDir: string): number | undefined {
  const paths = natsPaths(dataDir);
  const pid = readPidFile(paths.pidFile);
  if (pid === undefined || !isAlive(pid)) return undefined;
  const cmd = commandLine(pid);
  return cmd === undefined || (cmd.includes('nats-server') && cmd.includes(paths.storeDir)) ? pid : undefined;
}

/** Uses the server at `natsUrl` when one answers; else starts the installed nats-server (local URLs only). */
export async function natsUp(options: NatsServerOptions): Promise<NatsUpResult> {
  const progress = options.progress ?? (() => undefined);
  const probe = await probeNats({ natsUrl: options.natsUrl });
  if (probe.reachable) return { state: 'already-running', pid: ownNatsPid(options.dataDir), probe };
  const { host, port } = hostPort(options.natsUrl);
  if (!LOCAL_HOSTS.has(host)) {
    throw new InfraError('CONNECTION_FAILED', `NATS at ${options.natsUrl} is not reachable (${probe.error})`, {
      retriable: true,
    });
  }
  const server = findExecutable(
    [options.natsServerCommand ?? 'nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server'],
    ['--version'],
  );
  if (!server) {
    throw new InfraError(
      'INFRA_MISSING',
      `NATS is not running at ${options.natsUrl} and nats-server is not installed. Install nats-server 2.9+ ` +
        '(Debian/Ubuntu: apt-get install -y nats-server), then start it with: ' +
        natsStartCommand(options.natsUrl),
    );
  }
  if (!(await isPortFree(port, host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, '')))) {
    throw new InfraError(
      'INFRA_PORT_TAKEN',
      `NATS port ${host}:${port} is taken by a process that does not answer as NATS (${probe.error}); stop it or set NATS_URL`,
    );
  }
  const paths = natsPaths(options.dataDir);
  mkdirSync(paths.storeDir, { recursive: true });
  const args = [
    '-a',
    host.replace(/^\[|\]$/g, ''),
    '-p',
    String(port),
    '-js',
    '-sd',
    paths.storeDir,
    '-l',
    paths.logFile,
  ];
  const child = spawn(server.command, args, { detached: true, stdio: 'ignore' });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new InfraError('INFRA_START_FAILED', `could not start ${server.command}`);
  writePidFile(paths.pidFile, pid);
  progress(`started ${server.version || 'nats-server'} (pid ${pid}) on ${host}:${port} with JetStream`);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  for (;;) {
    const ready = await probeNats({ natsUrl: options.natsUrl });
    if (ready.reachable && ready.jetstream) return { state: 'started', pid, probe: ready };
    if (!isAlive(pid) || Date.now() > deadline) {
      throw new InfraError(
        'INFRA_START_FAILED',
        `nats-server (pid ${pid}) did not answer at ${options.natsUrl} (${ready.error ?? 'no JetStream'}). ` +
          `Last lines of ${paths.logFile}:\n${readTail(paths.logFile, 20)}`,
        { retriable: true },
      );
    }
    await sleep(200);
  }
}

/** Stops the nats-server this launcher started; a server it did not start is left alone. */
export async function natsDown(options: { dataDir: string; stopTimeoutMs?: number }): Promise<NatsDownResult> {
  const paths = natsPaths(options.dataDir);
  const pid = ownNatsPid(options.dataDir);
  if (pid === undefined) {
    removeFile(paths.pidFile);
    return { state: 'not-ours', pid: undefined };
  }
  await stopProcess(pid, options.stopTimeoutMs ?? 10_000);
  removeFile(paths.pidFile);
  return { state: 'stopped', pid };
}

function hostPort(natsUrl: string): { host: string; port: number } {
  const url = new URL(natsUrl.includes('://') ? natsUrl : `nats://${natsUrl}`);
  return { host: url.hostname, port: url.port ? Number(url.port) : 4222 };
}
