import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CacheSageError, ConfigError } from '../../../core/errors.js';
import { ensureKafkaJars, kafkaJarsComplete } from '../../../infra/kafka/jars.js';
import { kafkaDown, kafkaLauncherStatus, kafkaUp } from '../../../infra/kafka/launcher.js';
import { kafkaPaths } from '../../../infra/paths.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

function dataDir(): string {
  return mkdtempSync(join(tmpdir(), 'cachesage-launcher-'));
}

async function freePorts(): Promise<[number, number]> {
  const ports: number[] = [];
  for (let i = 0; i < 2; i++) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports.push((server.address() as { port: number }).port);
    await new Promise((resolve) => server.close(resolve));
  }
  return [ports[0]!, ports[1]!];
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CacheSageError);
  return (err as CacheSageError).code;
}

describe('kafka launcher', () => {
  it('says INFRA_MISSING with an install hint when Java is missing', async () => {
    const [kafkaPort, controllerPort] = await freePorts();
    const up = kafkaUp({ dataDir: dataDir(), kafkaPort, controllerPort, javaCommand: '/nonexistent/java' });
    await expect(up).rejects.toThrow(/Java is not installed.*apt-get install -y openjdk-17-jre-headless/);
    expect(
      await codeOf(kafkaUp({ dataDir: dataDir(), kafkaPort, controllerPort, javaCommand: '/nonexistent/java' })),
    ).toBe('INFRA_MISSING');
  });

  it('says INFRA_PORT_TAKEN when another process holds the Kafka port', async () => {
    const [kafkaPort, controllerPort] = await freePorts();
    const squatter = createServer();
    servers.push(squatter);
    await new Promise<void>((resolve) => squatter.listen(kafkaPort, '127.0.0.1', resolve));
    // Any command that runs stands in for Java here: the port check comes before Java is used.
    const options = { dataDir: dataDir(), kafkaPort, controllerPort, javaCommand: process.execPath };
    await expect(kafkaUp(options)).rejects.toThrow(new RegExp(`Kafka port 127.0.0.1:${kafkaPort} is taken`));
    expect(await codeOf(kafkaUp(options))).toBe('INFRA_PORT_TAKEN');
  });

  it('rejects equal ports and a tiny heap at construction', async () => {
    await expect(kafkaUp({ dataDir: dataDir(), kafkaPort: 1234, controllerPort: 1234 })).rejects.toThrow(ConfigError);
    await expect(kafkaUp({ dataDir: dataDir(), kafkaPort: 1234, controllerPort: 1235, heapMb: 64 })).rejects.toThrow(
      /heapMb/,
    );
  });

  it('reports a stale pid file and clears it on down', async () => {
    const [kafkaPort, controllerPort] = await freePorts();
    const dir = dataDir();
    const paths = kafkaPaths(dir);
    mkdirSync(paths.root, { recursive: true });
    const dead = 2 ** 22 + 17;
    writeFileSync(paths.pidFile, `${dead}\n`);
    const status = await kafkaLauncherStatus({ dataDir: dir, kafkaPort, controllerPort });
    expect(status).toMatchObject({ running: false, pid: undefined, stalePid: dead });
    expect(status.probe.reachable).toBe(false);
    const down = await kafkaDown({ dataDir: dir, kafkaPort, controllerPort });
    expect(down).toMatchObject({ state: 'not-running', stalePid: dead });
    expect((await kafkaLauncherStatus({ dataDir: dir, kafkaPort, controllerPort })).stalePid).toBeUndefined();
  });
});

describe('kafka jars', () => {
  function libs(pomText: string, marker?: string, jar = true): { pom: string; libsDir: string } {
    const dir = dataDir();
    const pom = join(dir, 'pom.xml');
    const libsDir = join(dir, 'libs');
    mkdirSync(libsDir);
    writeFileSync(pom, pomText);
    if (jar) writeFileSync(join(libsDir, 'kafka_2.13-3.9.2.jar'), '');
    if (marker !== undefined) writeFileSync(join(libsDir, '.complete'), marker);
    return { pom, libsDir };
  }
  const hash = (text: string) => createHash('sha256').update(text).digest('hex');

  it('counts a fetch complete only with a marker of the current pom and the broker jar', () => {
    const good = libs('<project/>', hash('<project/>'));
    expect(kafkaJarsComplete(good.pom, good.libsDir)).toBe(true);
    const stale = libs('<project>v2</project>', hash('<project/>'));
    expect(kafkaJarsComplete(stale.pom, stale.libsDir)).toBe(false);
    const unmarked = libs('<project/>');
    expect(kafkaJarsComplete(unmarked.pom, unmarked.libsDir)).toBe(false);
    const noJar = libs('<project/>', hash('<project/>'), false);
    expect(kafkaJarsComplete(noJar.pom, noJar.libsDir)).toBe(false);
  });

  it('does not run Maven when the jars are complete, and says INFRA_MISSING when it must but cannot', async () => {
    const good = libs('<project/>', hash('<project/>'));
    expect(await ensureKafkaJars({ pomPath: good.pom, libsDir: good.libsDir, mvnCommand: '/nonexistent/mvn' })).toBe(
      'cached',
    );
    const missing = libs('<project/>');
    const err = await ensureKafkaJars({
      pomPath: missing.pom,
      libsDir: missing.libsDir,
      mvnCommand: '/nonexistent/mvn',
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INFRA_MISSING' });
    expect((err as Error).message).toMatch(/apt-get install -y maven/);
    expect(readFileSync(join(missing.libsDir, 'kafka_2.13-3.9.2.jar'), 'utf8')).toBe('');
  });
});
