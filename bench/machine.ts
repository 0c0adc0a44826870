import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { loadConfig } from '../core/config.js';
import { kafkaPaths } from '../infra/paths.js';
import { findProcesses, readPidFile } from '../infra/process.js';

/** Where the benchmark ran: written beside every figure. */
export interface MachineFacts {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  v8: string;
  kafkaVersion: string;
  natsVersion: string;
  /** 1-minute load average when the run started (other work on the machine skews every figure). */
  loadAverage1m: number;
  platform: string;
  /** The code measured: HEAD and the source files changed in the working tree since (absent in older files). */
  git?: { commit: string; changed: string[] };
}

/** HEAD and the changed source files (policies, runtime, transports, services) of the working tree. */
export function gitFacts(): { commit: string; changed: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', '*.ts'], { encoding: 'utf8' });
    const changed = status
      .split('\n')
      .map((l) => l.slice(3).trim())
      .filter((f) => f.length > 0 && !f.startsWith('test/'));
    return { commit, changed };
  } catch {
    return { commit: 'unknown', changed: [] };
  }
}

/** Kafka's version, from the broker jar the local launcher runs (`kafka_2.13-<version>.jar`). */
export function kafkaVersionOf(libsDir: string): string {
  try {
    const jar = readdirSync(libsDir).find((f) => /^kafka_[\d.]+-[\d.]+\.jar$/.test(f));
    return jar?.replace(/^kafka_[\d.]+-/, '').replace(/\.jar$/, '') ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function machineFacts(natsVersion: string): MachineFacts {
  const config = loadConfig();
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    kafkaVersion: kafkaVersionOf(kafkaPaths(config.dataDir).libs),
    natsVersion,
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    platform: `${process.platform} ${process.arch}`,
    git: gitFacts(),
  };
}

/** Pids of the local Kafka broker and NATS server (undefined where not found), for CPU sampling. */
export function servicePids(natsPort = 4222): { kafka: number | undefined; nats: number | undefined } {
  const config = loadConfig();
  const kafka = readPidFile(kafkaPaths(config.dataDir).pidFile) ?? findProcesses(['kafka.Kafka'])[0];
  const nats = findProcesses(['nats-server']).find((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const p = cmd.indexOf('-p');
      const port = p >= 0 ? cmd[p + 1] : cmd.find((a) => a.startsWith('--port='))?.slice(7);
      return port === undefined ? natsPort === 4222 : Number(port) === natsPort;
    } catch {
      return false;
    }
  });
  return { kafka, nats };
}
