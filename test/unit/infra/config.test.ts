import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, readEnv } from '../../../core/config.js';
import { ConfigError } from '../../../core/errors.js';

function folder(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'cachesage-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('loadConfig', () => {
  it('uses defaults without env, flags or file; brokers follow the launcher port', () => {
    const cwd = folder();
    const config = loadConfig({ env: {}, cwd });
    expect(config).toMatchObject({
      kafkaBrokers: ['127.0.0.1:19092'],
      natsUrl: 'nats://127.0.0.1:4222',
      dataDir: join(cwd, '.cachesage'),
      workloadsDir: join(cwd, '../shared/workloads'),
      kafkaPort: 19092,
      kafkaControllerPort: 19093,
      topicPartitions: 12,
      configFile: undefined,
    });
    expect(new Set(Object.values(config.sources))).toEqual(new Set(['default']));
    expect(loadConfig({ env: { KAFKA_PORT: '29092' }, cwd }).kafkaBrokers).toEqual(['127.0.0.1:29092']);
  });

  it('applies flags > env > file > defaults per setting', () => {
    const cwd = folder({
      'cachesage.config.yaml': 'kafkaPort: 21000\nnatsUrl: nats://file:4222\ntopicPartitions: 6\ndataDir: state\n',
    });
    const config = loadConfig({
      cwd,
      env: { NATS_URL: 'nats://env:4222', CACHESAGE_PARTITIONS: '8' },
      flags: { topicPartitions: '3', kafkaBrokers: undefined },
    });
    expect(config.kafkaPort).toBe(21000);
    expect(config.natsUrl).toBe('nats://env:4222');
    expect(config.topicPartitions).toBe(3);
    expect(config.dataDir).toBe(join(cwd, 'state'));
    expect(config.configFile).toBe(join(cwd, 'cachesage.config.yaml'));
    expect(config.sources).toMatchObject({
      kafkaPort: 'file',
      natsUrl: 'env',
      topicPartitions: 'flag',
      dataDir: 'file',
      kafkaBrokers: 'default',
    });
  });

  it('reads a JSON file named by CACHESAGE_CONFIG, resolving its paths against the file', () => {
    const dir = folder({ 'other.json': JSON.stringify({ kafkaBrokers: ['a:1', 'b:2'], workloadsDir: 'w' }) });
    const config = loadConfig({ cwd: folder(), env: { CACHESAGE_CONFIG: join(dir, 'other.json') } });
    expect(config.kafkaBrokers).toEqual(['a:1', 'b:2']);
    expect(config.workloadsDir).toBe(join(dir, 'w'));
  });

  it('rejects invalid values with the place they came from', () => {
    const cwd = folder();
    expect(() => loadConfig({ cwd, env: { KAFKA_PORT: 'abc' } })).toThrow(
      /environment KAFKA_PORT: expected a TCP port \(integer 1-65535\), got "abc"/,
    );
    expect(() => loadConfig({ cwd, env: {}, flags: { topicPartitions: '0' } })).toThrow(/flag --partitions/);
    expect(() => loadConfig({ cwd, env: { KAFKA_BROKERS: 'localhost' } })).toThrow(/host:port/);
    expect(() => loadConfig({ cwd, env: { NATS_URL: 'http://x:1' } })).toThrow(/NATS URL/);
    expect(() => loadConfig({ cwd, env: { KAFKA_PORT: '19093' } })).toThrow(/must differ/);
    expect(() => loadConfig({ cwd, env: {}, configPath: 'missing.yaml' })).toThrow(ConfigError);
  });

  it('rejects a config file with unknown settings or a non-mapping body', () => {
    expect(() => loadConfig({ env: {}, cwd: folder({ 'cachesage.config.yaml': 'kafkaPrt: 1\n' }) })).toThrow(
      /unknown setting\(s\) kafkaPrt/,
    );
    expect(() => loadConfig({ env: {}, cwd: folder({ 'cachesage.config.yaml': '- 1\n' }) })).toThrow(/mapping/);
    expect(() => loadConfig({ env: {}, cwd: folder({ 'cachesage.config.yaml': 'a: [\n' }) })).toThrow(/not valid/);
  });
});

describe('readEnv', () => {
  it('keeps its shape for existing callers', () => {
    expect(readEnv({ KAFKA_BROKERS: ' a:1 , b:2 ', CI: 'true' })).toEqual({
      kafkaBrokers: ['a:1', 'b:2'],
      natsUrl: 'nats://127.0.0.1:4222',
      workloadsDir: '../shared/workloads',
      ci: true,
    });
    expect(readEnv({}).kafkaBrokers).toBeUndefined();
  });
});
