import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Service {
  image?: string;
  restart?: string;
  volumes?: string[];
  build?: unknown;
  command?: string[];
  container_name?: string;
  ports?: unknown[];
  deploy?: { replicas?: number };
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
}

const root = new URL('../../../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');

describe('docker-compose.yml', () => {
  const engineSims = ['engine-sim-0', 'engine-sim-1', 'engine-sim-2', 'engine-sim-3'];

  it('runs Kafka, NATS, topic creation, the processor and 4 simulated engines', () => {
    expect(Object.keys(services).sort()).toEqual(['kafka', 'nats', 'processor', 'topics', ...engineSims].sort());
  });

  it('pins every image to a tag other than latest', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(service.image, name).not.toMatch(/:latest$/);
    }
    expect(services.kafka?.image).toMatch(/^apache\/kafka:3\.9\.\d+$/);
    expect(services.nats?.image).toMatch(/^nats:2\.\d+/);
  });

  it('runs Kafka in KRaft mode and NATS with JetStream, each with a healthcheck', () => {
    expect(services.kafka?.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(services.nats?.command).toContain('-js');
    for (const name of ['kafka', 'nats', 'processor']) {
      expect(services[name]?.healthcheck?.test?.length, name).toBeGreaterThan(1);
    }
    expect(services.nats?.healthcheck?.test?.join(' ')).toContain(':8222/healthz');
    expect(services.processor?.healthcheck?.test?.join(' ')).toContain('127.0.0.1:9464/healthz');
  });

  it('creates topics once Kafka and NATS are healthy, and starts processors after that', () => {
    expect(services.topics?.command).toEqual(['node', 'dist/cli/main.js', 'topics', 'create']);
    expect(services.topics?.depends_on).toMatchObject({
      kafka: { condition: 'service_healthy' },
      nats: { condition: 'service_healthy' },
    });
    expect(services.processor?.depends_on).toMatchObject({
      topics: { condition: 'service_completed_successfully' },
      nats: { condition: 'service_healthy' },
    });
  });

  it('lets the processor scale: replicas, no container_name, no fixed host ports', () => {
    const processor = services.processor!;
    expect(processor.command).toEqual(['node', 'dist/cli/main.js', 'processor']);
    expect(processor.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(processor.container_name).toBeUndefined();
    expect(processor.ports).toBeUndefined();
    expect(processor.build).toBeDefined();
  });

  it('runs each engine-sim as one part of a 4-engine request order, after healthy processors', () => {
    engineSims.forEach((name, k) => {
      const sim = services[name]!;
      const command = sim.command ?? [];
      expect(command.slice(0, 3), name).toEqual(['node', 'dist/cli/main.js', 'engine-sim']);
      const flag = (f: string) => command[command.indexOf(f) + 1];
      expect(flag('--engines'), name).toBe('4');
      expect(flag('--engine-index'), name).toBe(String(k));
      expect(flag('--workload'), name).toMatch(/synthetic/);
      for (const f of ['--sessions-count', '--budget', '--concurrency', '--speed']) {
        expect(command, `${name} ${f}`).toContain(f);
        const first = services['engine-sim-0']?.command ?? [];
        expect(flag(f), `${name} ${f}`).toBe(first[first.indexOf(f) + 1]);
      }
      expect(sim.image).toBe(services.processor?.image);
      expect(sim.restart).toBe('no');
      expect(sim.container_name).toBeUndefined();
      expect(sim.ports).toBeUndefined();
      expect(sim.depends_on).toMatchObject({
        topics: { condition: 'service_completed_successfully' },
        processor: { condition: 'service_healthy' },
      });
      expect(sim.environment?.KAFKA_BROKERS).toBe('kafka:9092');
      expect(sim.environment?.NATS_URL).toBe('nats://nats:4222');
      expect(
        sim.volumes?.some((v) => /:\/workloads:ro$/.test(v)),
        name,
      ).toBe(true);
    });
    expect(compose.volumes).toHaveProperty('token-cache');
  });
});

describe('Dockerfile', () => {
  it('builds in one stage and runs from a second with production dependencies only', () => {
    const stages = dockerfile.match(/^FROM \S+/gm) ?? [];
    expect(stages.length).toBe(2);
    expect(dockerfile).toMatch(/^FROM node:20[\w.-]* AS build$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist \.\/dist/);
    expect(dockerfile).toMatch(/COPY schemas \.\/schemas/);
  });
});
