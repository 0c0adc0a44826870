import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsConnection, headers as natsHeaders, nkeys, PermissionViolationError } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActFilter } from '../../adapters/hooks/act-filter.js';
import { attachEngineHooks } from '../../adapters/hooks/attach-engine-hooks.js';
import type { EngineHooks } from '../../adapters/hooks/engine-hooks.js';
import { connectNats } from '../../adapters/nats/connect.js';
import { createNatsSink } from '../../adapters/nats/nats-sink.js';
import { natsSubscribe } from '../../adapters/nats/nats-subscribe.js';
import { loadConfig, type NatsSecurity } from '../../core/config.js';
import { CacheSageError } from '../../core/errors.js';
import { encodeActForNats } from '../../schemas/act-codec.js';
import type { Act, EvictionHints } from '../../schemas/types.js';
import { waitFor } from './helpers.js';

const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p));
const OPENSSL = spawnSync('openssl', ['version']).status === 0;
if (NATS_SERVER === undefined) process.stderr.write('security tests skipped: no nats-server binary on this machine\n');
if (!OPENSSL) process.stderr.write('NATS TLS test skipped: no openssl to make a test certificate\n');

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

interface Server {
  url: string;
  process: ChildProcess;
  log: string;
}

const started: Server[] = [];

/** Starts nats-server with `config` (its `listen` line is added) and waits until it accepts TCP connections. */
async function startServer(dir: string, name: string, config: string, scheme = 'nats'): Promise<Server> {
  const port = await freePort();
  const file = join(dir, `${name}.conf`);
  const log = join(dir, `${name}.log`);
  writeFileSync(file, `listen: 127.0.0.1:${port}\n${config}\n`);
  const child = spawn(NATS_SERVER as string, ['-c', file], { stdio: ['ignore', 'ignore', openSync(log, 'w')] });
  const server = { url: `${scheme}://127.0.0.1:${port}`, process: child, log };
  started.push(server);
  await waitFor(() => readFileSync(log, 'utf8').includes('Server is ready'), {
    timeoutMs: 15_000,
    what: `nats-server ${name} ready (log ${log})`,
  });
  return server;
}

async function stopServer(server: Server): Promise<void> {
  if (server.process.exitCode !== null || server.process.signalCode !== null) return;
  const exited = new Promise((resolve) => server.process.once('exit', resolve));
  process.kill(server.process.pid as number, 'SIGTERM');
  await exited;
}

function recordingHooks(engineId: string, applied: Act[]): EngineHooks {
  return {
    engineId,
    applyEvictionHints: (a) => applied.push(a),
    prefetch: (a) => applied.push(a),
    pin: (a) => applied.push(a),
  };
}

function evict(engineId: string, seq: number): EvictionHints {
  return {
    kind: 'evict',
    engineId,
    seq,
    issuedAt: Date.now(),
    ttlMs: 60_000,
    causeId: `cause-${seq}`,
    causeProducedAt: Date.now(),
    policy: 'cachesage',
    entries: [{ contextId: 's1/Planner', blockHashes: [1n, 2n], priority: 0.5 }],
  };
}

/** Errors the server reported on a connection (permission violations arrive as status events). */
function serverErrors(nc: NatsConnection): Error[] {
  const errors: Error[] = [];
  void (async () => {
    for await (const status of nc.status()) if (status.type === 'error') errors.push(status.error);
  })().catch(() => undefined);
  return errors;
}

const PASSWORDS = { engine: 'e1-secret', processor: 'proc-secret' };

describe.skipIf(NATS_SERVER === undefined)('NATS accounts and subject permissions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cachesage-security-'));
  const e2Keys = nkeys.createUser();
  const e2SeedFile = join(dir, 'engine-e2.nk');
  const strangerSeedFile = join(dir, 'stranger.nk');
  let server: Server;
  const connections: NatsConnection[] = [];

  const connectAs = async (security: NatsSecurity, name: string): Promise<NatsConnection> => {
    const nc = await connectNats({ servers: server.url, name, security, timeoutMs: 5000 });
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    writeFileSync(e2SeedFile, `${new TextDecoder().decode(e2Keys.getSeed())}\n`);
    writeFileSync(strangerSeedFile, new TextDecoder().decode(nkeys.createUser().getSeed()));
    const engineDeny = '{ publish: { deny: ["cachesage.act.>"] }';
    server = await startServer(
      dir,
      'accounts',
      [
        'accounts {',
        '  CACHESAGE {',
        '    users = [',
        `      { user: "engine-e1", password: "${PASSWORDS.engine}", permissions: ${engineDeny}, subscribe: { allow: ["cachesage.act.e1.>", "_INBOX.>"] } } }`,
        `      { nkey: "${e2Keys.getPublicKey()}", permissions: ${engineDeny}, subscribe: { allow: ["cachesage.act.e2.>", "_INBOX.>"] } } }`,
        `      { user: "processor", password: "${PASSWORDS.processor}", permissions: { publish: { allow: ["cachesage.act.>", "cachesage.cmd.>", "$JS.API.>", "_INBOX.>"] }, subscribe: { allow: ["_INBOX.>"] } } }`,
        '    ]',
        '  }',
        '}',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    for (const nc of connections) await nc.close().catch(() => undefined);
    for (const s of started) await stopServer(s);
  });

  it('lets an engine read only its own act subjects and never publish acts; the processor publishes them', async () => {
    const e1Config = loadConfig({
      cwd: dir,
      env: { NATS_URL: server.url, NATS_USER: 'engine-e1', NATS_PASSWORD: PASSWORDS.engine },
    });
    expect(e1Config.natsSecurity.auth).toEqual({ kind: 'user', user: 'engine-e1', password: PASSWORDS.engine });
    const e1 = await connectAs(e1Config.natsSecurity, 'engine-e1');
    const e2 = await connectAs(
      loadConfig({ cwd: dir, env: { NATS_NKEY_SEED_FILE: e2SeedFile } }).natsSecurity,
      'engine-e2',
    );
    const processor = await connectAs(
      { auth: { kind: 'user', user: 'processor', password: PASSWORDS.processor } },
      'processor',
    );
    const e1Errors = serverErrors(e1);
    const processorErrors = serverErrors(processor);

    const applied1: Act[] = [];
    const applied2: Act[] = [];
    const hook1 = attachEngineHooks({
      subscribe: natsSubscribe(e1),
      engineId: 'e1',
      hooks: recordingHooks('e1', applied1),
      filter: createActFilter({ engineId: 'e1', now: Date.now }),
    });
    const hook2 = attachEngineHooks({
      subscribe: natsSubscribe(e2),
      engineId: 'e2',
      hooks: recordingHooks('e2', applied2),
      filter: createActFilter({ engineId: 'e2', now: Date.now }),
    });
    const spied: string[] = [];
    const spyErrors: Error[] = [];
    const spy = e1.subscribe('cachesage.act.e2.>', {
      callback: (err, msg) => {
        if (err) spyErrors.push(err);
        else spied.push(msg.subject);
      },
    });
    await e1.flush();
    await e2.flush();
    await waitFor(() => e1Errors.some((e) => e instanceof PermissionViolationError), {
      what: "e1's subscription to e2's acts refused",
    });
    const refused = e1Errors.find((e) => e instanceof PermissionViolationError) as PermissionViolationError;
    expect(refused.operation).toBe('subscription');
    expect(refused.subject).toBe('cachesage.act.e2.>');
    await expect(spy.closed).resolves.toBeInstanceOf(PermissionViolationError);

    const sink = createNatsSink({ nc: processor, name: 'processor-acts' });
    const message = (subject: string, act: Act) => {
      const { data, headers } = encodeActForNats(act);
      return { destination: subject, key: act.engineId, value: data, headers };
    };
    await sink.write([
      message('cachesage.act.e1.evict', evict('e1', 1)),
      message('cachesage.act.e2.evict', evict('e2', 1)),
      message('cachesage.act.e1.evict', evict('e2', 2)),
    ]);
    await waitFor(() => applied1.length === 1 && applied2.length === 1 && hook1.counters.rejected.foreign === 1, {
      what: 'each engine applying its own act only',
    });
    expect(applied1.map((a) => [a.engineId, a.seq])).toEqual([['e1', 1]]);
    expect(applied2.map((a) => [a.engineId, a.seq])).toEqual([['e2', 1]]);
    expect(spied).toEqual([]);
    expect(spyErrors.every((e) => e instanceof PermissionViolationError)).toBe(true);
    expect(processorErrors).toEqual([]);

    const { data, headers } = encodeActForNats(evict('e1', 9));
    const h = natsHeaders();
    for (const [k, v] of Object.entries(headers)) h.set(k, v);
    e1.publish('cachesage.act.e1.evict', data, { headers: h });
    await e1.flush();
    await waitFor(() => e1Errors.some((e) => e instanceof PermissionViolationError && e.operation === 'publish'), {
      what: "e1's forged act refused",
    });
    const forged = e1Errors.find(
      (e) => e instanceof PermissionViolationError && e.operation === 'publish',
    ) as PermissionViolationError;
    expect(forged.subject).toBe('cachesage.act.e1.evict');
    await sink.write([message('cachesage.act.e1.evict', evict('e1', 2))]);
    await waitFor(() => applied1.length === 2, { what: "the processor's next act" });
    expect(applied1.map((a) => a.seq)).toEqual([1, 2]);

    const eavesdrop = processor.subscribe('cachesage.act.>');
    await processor.flush();
    await expect(eavesdrop.closed).resolves.toBeInstanceOf(PermissionViolationError);
    hook1.detach();
    hook2.detach();
  });

  it('fails with a clear, non-retriable error on wrong credentials', async () => {
    const attempts: [NatsSecurity, RegExp][] = [
      [{ auth: { kind: 'user', user: 'engine-e1', password: 'wrong' } }, /authorization failed for user "engine-e1"/],
      [{}, /authorization failed for no credentials/],
      [
        { auth: { kind: 'nkey', seedFile: strangerSeedFile } },
        /authorization failed for the nkey seed in .*stranger\.nk/,
      ],
      [{ auth: { kind: 'token', token: 'guess' } }, /authorization failed for a token/],
    ];
    for (const [security, pattern] of attempts) {
      let error: unknown;
      try {
        connections.push(await connectNats({ servers: server.url, name: 'intruder', security, timeoutMs: 5000 }));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(CacheSageError);
      const e = error as CacheSageError;
      expect(e.code).toBe('CONNECTION_FAILED');
      expect(e.retriable).toBe(false);
      expect(e.message).toContain(`NATS at ${server.url}: authorization failed`);
      expect(e.message).toMatch(pattern);
    }
  });

  it.skipIf(!OPENSSL)('connects over TLS with the configured CA and refuses a server it cannot verify', async () => {
    const ca = join(dir, 'ca.pem');
    const caKey = join(dir, 'ca.key');
    const cert = join(dir, 'server.pem');
    const key = join(dir, 'server.key');
    const csr = join(dir, 'server.csr');
    const ext = join(dir, 'server.ext');
    writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    const run = (args: string[]) => {
      const r = spawnSync('openssl', args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
    };
    run([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      caKey,
      '-out',
      ca,
      '-days',
      '1',
      '-subj',
      '/CN=test-ca',
    ]);
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1']);
    run([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '1',
      '-extfile',
      ext,
    ]);
    const tls = await startServer(
      dir,
      'tls',
      `tls { cert_file: "${cert}", key_file: "${key}" }\nauthorization { token: "tls-token" }`,
      'tls',
    );
    const config = loadConfig({
      cwd: dir,
      env: { NATS_URL: tls.url, NATS_TLS_CA_FILE: 'ca.pem', NATS_TOKEN: 'tls-token' },
    });
    expect(config.natsSecurity.tls).toEqual({ caFile: ca });
    const nc = await connectNats({ servers: config.natsUrl, name: 'tls-client', security: config.natsSecurity });
    connections.push(nc);
    expect(nc.info?.tls_required).toBe(true);
    const echo = nc.subscribe('check.tls', { max: 1 });
    nc.publish('check.tls', 'ok');
    for await (const m of echo) expect(m.string()).toBe('ok');

    let error: unknown;
    try {
      connections.push(
        await connectNats({
          servers: tls.url,
          name: 'no-ca',
          security: { auth: { kind: 'token', token: 'tls-token' } },
        }),
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CacheSageError);
    expect((error as CacheSageError).code).toBe('CONNECTION_FAILED');
    expect((error as CacheSageError).retriable).toBe(false);
    expect((error as Error).message).toContain(`NATS at ${tls.url}: TLS verification failed`);

    error = undefined;
    try {
      connections.push(
        await connectNats({
          servers: tls.url,
          name: 'wrong-token',
          security: { auth: { kind: 'token', token: 'nope' }, tls: { caFile: ca } },
        }),
      );
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).toContain(`NATS at ${tls.url}: authorization failed for a token`);
  });
});
