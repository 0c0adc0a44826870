import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InfraError } from '../../core/errors.js';
import { tail } from '../log-tail.js';
import { findExecutable, runCommand } from '../process.js';

/** Written into the libs folder after a complete fetch: the hash of the pom it came from. */
const MARKER = '.complete';

export interface KafkaJarsOptions {
  /** Maven project listing the jars. */
  pomPath: string;
  /** Folder the jars are copied into. */
  libsDir: string;
  /** Maven command; default `mvn`. */
  mvnCommand?: string;
  /** Progress lines (for stderr). */
  progress?: (line: string) => void;
}

/** True when `libsDir` holds a complete fetch of the jars `pomPath` lists. */
export function kafkaJarsComplete(pomPath: string, libsDir: string): boolean {
  const marker = join(libsDir, MARKER);
  if (!existsSync(marker)) return false;
  if (readFileSync(marker, 'utf8').trim() !== pomHash(pomPath)) return false;
  return readdirSync(libsDir).some((name) => /^kafka_2\.13-.*\.jar$/.test(name));
}

/**
 * Fetches the broker's jars with Maven once; later calls return at once while the pom is unchanged. Jars land in a
 * sibling folder first and replace `libsDir` only after Maven succeeded, so an interrupted fetch leaves no
 * half-filled classpath.
 */
export async function ensureKafkaJars(options: KafkaJarsOptions): Promise<'cached' | 'fetched'> {
  const { pomPath, libsDir } = options;
  if (kafkaJarsComplete(pomPath, libsDir)) return 'cached';
  const mvn = findExecutable([options.mvnCommand ?? 'mvn'], ['-v']);
  if (!mvn) {
    throw new InfraError(
      'INFRA_MISSING',
      `Maven is not installed (no "${options.mvnCommand ?? 'mvn'}" on PATH); it fetches Kafka's jars once. ` +
        'Install it (Debian/Ubuntu: apt-get install -y maven) or set KAFKA_BROKERS to use another broker.',
    );
  }
  const partial = join(dirname(libsDir), 'target', 'libs.partial');
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  options.progress?.(`fetching Kafka jars with Maven into ${libsDir} (once)`);
  const args = [
    '-B',
    '-q',
    '-f',
    pomPath,
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${partial}`,
  ];
  const { code, output } = await runCommand(mvn.command, args);
  if (code !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new InfraError(
      'INFRA_START_FAILED',
      `Maven could not fetch Kafka's jars (exit ${code}): ${mvn.command} ${args.join(' ')}\n${tail(output, 20)}`,
      { retriable: true },
    );
  }
  rmSync(libsDir, { recursive: true, force: true });
  renameSync(partial, libsDir);
  writeFileSync(join(libsDir, MARKER), `${pomHash(pomPath)}\n`);
  return 'fetched';
}

function pomHash(pomPath: string): string {
  return createHash('sha256').update(readFileSync(pomPath)).digest('hex');
}
