import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProgrammerError } from '../core/errors.js';

/** The root folder of the cachesage package (where package.json is), from source or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'cachesage'
    ) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new ProgrammerError('cachesage package root (package.json) not found above infra/');
    dir = parent;
  }
}

/** Where the launcher keeps Kafka's jars, config and state. */
export interface KafkaPaths {
  /** Maven project listing the broker's jars. */
  pom: string;
  /** Jars fetched by Maven (git-ignored). */
  libs: string;
  /** Log4j 1 configuration of the broker. */
  log4j: string;
  /** State root: `<dataDir>/kafka`. */
  root: string;
  /** KRaft metadata and topic data. */
  logDirs: string;
  serverProperties: string;
  pidFile: string;
  /** The broker's stdout and stderr. */
  logFile: string;
  /** Held while one launcher starts or stops the broker. */
  lockFile: string;
}

export function kafkaPaths(dataDir: string, root = packageRoot()): KafkaPaths {
  const kafkaRoot = join(dataDir, 'kafka');
  return {
    pom: join(root, 'infra', 'kafka', 'pom.xml'),
    libs: join(root, 'infra', 'kafka', 'libs'),
    log4j: join(root, 'infra', 'kafka', 'log4j.properties'),
    root: kafkaRoot,
    logDirs: join(kafkaRoot, 'kraft-combined-logs'),
    serverProperties: join(kafkaRoot, 'server.properties'),
    pidFile: join(kafkaRoot, 'kafka.pid'),
    logFile: join(kafkaRoot, 'kafka.log'),
    lockFile: join(kafkaRoot, 'launcher.lock'),
  };
}

/** Where the launcher keeps a nats-server it started itself. */
export interface NatsPaths {
  root: string;
  storeDir: string;
  pidFile: string;
  logFile: string;
}

export function natsPaths(dataDir: string): NatsPaths {
  const root = join(dataDir, 'nats');
  return {
    root,
    storeDir: join(root, 'jetstream'),
    pidFile: join(root, 'nats-server.pid'),
    logFile: join(root, 'nats-server.log'),
  };
}
