import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createActFilter } from '../../adapters/hooks/act-filter.js';
import { attachEngineHooks } from '../../adapters/hooks/attach-engine-hooks.js';
import { kafkaConfigOf } from '../../adapters/kafka/kafka-client.js';
import { natsConnectionOptions } from '../../adapters/nats/connect.js';
import { loadConfig } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';

const SEED = 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4';

function folder(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'cachesage-security-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('security settings', () => {
  it('default to no SASL, no TLS and no NATS credentials', () => {
    const config = loadConfig({ env: {}, cwd: folder() });
    expect(config.kafkaSecurity).toEqual({});
    expect(config.natsSecurity).toEqual({});
    expect(new Set(Object.values(config.securitySources))).toEqual(new Set(['default']));
  });

  it('take flags over env over the config file, per setting, with file paths relative to their origin', () => {
    const cwd = folder({
      'ca.pem': 'CA',
      'cachesage.config.yaml':
        'kafkaSaslMechanism: plain\nkafkaSaslUsername: file-user\nkafkaSaslPassword: file-pass\nkafkaTlsCaFile: ca.pem\n',
    });
    const config = loadConfig({
      cwd,
      env: { KAFKA_SASL_USERNAME: 'env-user', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256' },
      flags: { kafkaSaslMechanism: 'scram-sha-512' },
    });
    expect(config.kafkaSecurity).toEqual({
      sasl: { mechanism: 'scram-sha-512', username: 'env-user', password: 'file-pass' },
      tls: { caFile: join(cwd, 'ca.pem') },
    });
    expect(config.securitySources).toMatchObject({
      kafkaSaslMechanism: 'flag',
      kafkaSaslUsername: 'env',
      kafkaSaslPassword: 'file',
      kafkaTlsCaFile: 'file',
      kafkaTls: 'default',
    });
  });

  it('builds kafkajs sasl and ssl options from the settings, reading the PEM files', () => {
    const cwd = folder({ 'ca.pem': 'THE-CA', 'cert.pem': 'THE-CERT', 'key.pem': 'THE-KEY' });
    const config = loadConfig({
      cwd,
      env: {
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'svc',
        KAFKA_SASL_PASSWORD: ' p w ',
        KAFKA_TLS_CA_FILE: 'ca.pem',
        KAFKA_TLS_CERT_FILE: 'cert.pem',
        KAFKA_TLS_KEY_FILE: 'key.pem',
      },
    });
    const kafka = kafkaConfigOf({ brokers: ['b:9093'], clientId: 'c', security: config.kafkaSecurity });
    expect(kafka.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'svc', password: ' p w ' });
    expect(kafka.ssl).toEqual({ ca: ['THE-CA'], cert: 'THE-CERT', key: 'THE-KEY' });
    const tlsOnly = loadConfig({ cwd, env: { KAFKA_TLS: 'true' } });
    expect(kafkaConfigOf({ brokers: ['b:9093'], clientId: 'c', security: tlsOnly.kafkaSecurity }).ssl).toBe(true);
    const plain = kafkaConfigOf({ brokers: ['b:9092'], clientId: 'c' });
    expect(plain.ssl).toBeUndefined();
    expect(plain.sasl).toBeUndefined();
  });

  it('refuses incomplete or contradictory Kafka settings with messages naming the setting and its origin', () => {
    const cwd = folder({ 'cert.pem': 'C' });
    const bad = (env: Record<string, string>, pattern: RegExp) => {
      let error: unknown;
      try {
        loadConfig({ cwd, env });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(pattern);
    };
    bad({ KAFKA_SASL_MECHANISM: 'gssapi' }, /environment KAFKA_SASL_MECHANISM: unknown Kafka SASL mechanism "gssapi"/);
    bad(
      { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' },
      /missing: kafkaSaslPassword \(KAFKA_SASL_PASSWORD/,
    );
    bad({ KAFKA_SASL_USERNAME: 'u' }, /environment KAFKA_SASL_USERNAME set without a mechanism/);
    bad({ KAFKA_TLS_CERT_FILE: 'cert.pem' }, /kafkaTlsKeyFile .*a client certificate needs its key/);
    bad({ KAFKA_TLS_CA_FILE: 'nope.pem' }, /environment KAFKA_TLS_CA_FILE: file .*nope\.pem does not exist/);
    bad({ KAFKA_TLS: 'maybe' }, /environment KAFKA_TLS: expected true or false/);
    bad({ KAFKA_TLS: 'false', KAFKA_TLS_CERT_FILE: 'cert.pem', KAFKA_TLS_KEY_FILE: 'cert.pem' }, /turns TLS off/);
  });

  it('accepts exactly one NATS credential kind and builds the connection options', () => {
    const cwd = folder({ 'user.nk': `${SEED}\n`, 'ca.pem': 'CA', 'bad.nk': 'not a seed' });
    const user = loadConfig({ cwd, env: { NATS_USER: 'proc', NATS_PASSWORD: 'secret' } });
    expect(user.natsSecurity).toEqual({ auth: { kind: 'user', user: 'proc', password: 'secret' } });
    const opts = natsConnectionOptions({ servers: 'nats://h:4222', name: 'n', security: user.natsSecurity });
    expect(opts).toMatchObject({ user: 'proc', pass: 'secret', reconnect: false });
    expect(opts.tls).toBeUndefined();

    const token = loadConfig({ cwd, env: {}, flags: { natsToken: 't0k' } });
    expect(natsConnectionOptions({ servers: 'nats://h:1', name: 'n', security: token.natsSecurity }).token).toBe('t0k');

    const nkey = loadConfig({ cwd, env: { NATS_NKEY_SEED_FILE: 'user.nk', NATS_TLS_CA_FILE: 'ca.pem' } });
    expect(nkey.natsSecurity).toEqual({
      auth: { kind: 'nkey', seedFile: join(cwd, 'user.nk') },
      tls: { caFile: join(cwd, 'ca.pem') },
    });
    const nkeyOpts = natsConnectionOptions({ servers: ['nats://h:1'], name: 'n', security: nkey.natsSecurity });
    expect(typeof nkeyOpts.authenticator).toBe('function');
    expect(nkeyOpts.tls).toEqual({ caFile: join(cwd, 'ca.pem') });
    expect(natsConnectionOptions({ servers: 'tls://h:1', name: 'n', reconnect: true })).toMatchObject({
      tls: {},
      reconnect: true,
      maxReconnectAttempts: -1,
    });

    const badSeed = loadConfig({ cwd, env: { NATS_NKEY_SEED_FILE: 'bad.nk' } });
    expect(() => natsConnectionOptions({ servers: 'nats://h:1', name: 'n', security: badSeed.natsSecurity })).toThrow(
      /does not hold a user seed/,
    );
    expect(() => loadConfig({ cwd, env: { NATS_USER: 'a', NATS_TOKEN: 't' } })).toThrow(
      /environment NATS_USER and environment NATS_TOKEN are all set; give only one/,
    );
    expect(() => loadConfig({ cwd, env: { NATS_USER: 'a' } })).toThrow(/needs a password/);
    expect(() => loadConfig({ cwd, env: { NATS_PASSWORD: 'p' } })).toThrow(/without a user/);
    expect(() => loadConfig({ cwd, env: { NATS_CREDS_FILE: 'missing.creds' } })).toThrow(/does not exist/);
  });

  it('lets a config file set security keys and still refuses unknown keys', () => {
    const cwd = folder({ 'cachesage.config.yaml': 'natsToken: from-file\nnatsTls: true\n' });
    expect(loadConfig({ cwd, env: {} }).natsSecurity).toEqual({ auth: { kind: 'token', token: 'from-file' }, tls: {} });
    expect(() => loadConfig({ env: {}, cwd: folder({ 'cachesage.config.yaml': 'natsTokn: x\n' }) })).toThrow(
      /unknown setting\(s\) natsTokn/,
    );
  });
});

describe('engine hook subjects', () => {
  it('subscribes to its own engine act subjects only, and refuses engine ids that would widen them', () => {
    const patterns: string[] = [];
    const subscribe = (pattern: string) => {
      patterns.push(pattern);
      return () => undefined;
    };
    const hooks = (engineId: string) => ({
      engineId,
      applyEvictionHints: () => undefined,
      prefetch: () => undefined,
      pin: () => undefined,
    });
    attachEngineHooks({
      subscribe,
      engineId: 'gpu-3',
      hooks: hooks('gpu-3'),
      filter: createActFilter({ engineId: 'gpu-3', now: Date.now }),
    });
    expect(patterns).toEqual(['cachesage.act.gpu-3.*']);
    for (const wide of ['>', '*', 'a.b', 'gpu 3']) {
      expect(() =>
        attachEngineHooks({
          subscribe,
          engineId: wide,
          hooks: hooks(wide),
          filter: createActFilter({ engineId: wide, now: Date.now }),
        }),
      ).toThrow(ConfigError);
    }
    expect(patterns).toHaveLength(1);
  });
});
