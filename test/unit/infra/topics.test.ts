import { describe, expect, it } from 'vitest';
import { renderServerProperties } from '../../../infra/kafka/server-properties.js';
import { natsStartCommand } from '../../../infra/nats/server.js';
import {
  changelogTopic,
  changelogTopicSpec,
  coPartitionedTopics,
  kvBuckets,
  streams,
  topics,
} from '../../../infra/topics.js';

describe('topic registry', () => {
  it('holds the layer topics once each, with the agreed policies', () => {
    const byName = new Map(topics.map((t) => [t.name, t]));
    expect(byName.size).toBe(topics.length);
    for (const name of ['cachesage.model', 'cachesage.sessions']) {
      expect(byName.get(name)?.config['cleanup.policy']).toBe('compact');
    }
    for (const name of ['cachesage.kv-events', 'cachesage.requests', 'cachesage.dlq']) {
      expect(byName.get(name)?.config['cleanup.policy']).toBe('delete');
      expect(Number(byName.get(name)?.config['retention.ms'])).toBeGreaterThan(0);
    }
    expect(byName.get('cachesage.sessions-repartition')?.internal).toBe(true);
  });

  it('gives co-partitioned topics the same (configured) partition count', () => {
    expect(coPartitionedTopics).toContainEqual(['cachesage.kv-events', 'cachesage.requests']);
    for (const group of coPartitionedTopics) {
      const counts = new Set(group.map((name) => topics.find((t) => t.name === name)?.partitions));
      expect(counts).toEqual(new Set(['default']));
    }
  });

  it('names changelog topics cachesage.<app>.<store>-changelog and compacts them', () => {
    expect(changelogTopic('processor', 'resident-blocks')).toBe('cachesage.processor.resident-blocks-changelog');
    expect(changelogTopicSpec('processor', 'sessions').config['cleanup.policy']).toBe('compact');
    expect(() => changelogTopic('proc essor', 'x')).toThrow(/app name/);
    expect(() => changelogTopic('p', 'a/b')).toThrow(/store name/);
  });

  it('declares the JetStream command stream with one subject filter and a duplicate window, and the owners bucket', () => {
    const acts = streams.find((s) => s.name === 'CACHESAGE_ACTS');
    expect(acts?.subjects).toEqual(['cachesage.cmd.>']);
    expect(acts?.duplicateWindowMs).toBeGreaterThan(0);
    expect(kvBuckets.map((b) => b.name)).toContain('cachesage-owners');
  });
});

describe('server.properties', () => {
  it('describes one combined KRaft node with a static quorum on the given ports', () => {
    const text = renderServerProperties({ kafkaPort: 29092, controllerPort: 29093, logDirs: '/tmp/k' });
    const props = Object.fromEntries(
      text
        .trim()
        .split('\n')
        .map((line) => line.split(/=(.*)/s).slice(0, 2)),
    );
    expect(props).toMatchObject({
      'process.roles': 'broker,controller',
      'controller.quorum.voters': '1@127.0.0.1:29093',
      listeners: 'PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093',
      'advertised.listeners': 'PLAINTEXT://127.0.0.1:29092',
      'log.dirs': '/tmp/k',
      'auto.create.topics.enable': 'false',
      'offsets.topic.replication.factor': '1',
    });
  });
});

describe('natsStartCommand', () => {
  it('starts the machine nats-server with JetStream on the URL host and port', () => {
    expect(natsStartCommand('nats://127.0.0.1:4333')).toBe(
      'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- ' +
        '-a 127.0.0.1 -p 4333 -js -sd /var/lib/nats-server -l /var/log/nats-server.log',
    );
  });
});
