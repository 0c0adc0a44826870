import { afterEach, describe, expect, it } from 'vitest';
import { parseLogLevel } from '../../../adapters/ops/logger.js';
import { type OpsServer, startOpsServer } from '../../../adapters/ops/ops-server.js';
import { createProcessorMetrics } from '../../../adapters/ops/processor-metrics.js';
import { resolveProcessorTopics } from '../../../services/processor/processor-topics.js';
import { requestEvent } from '../../support/events.js';

let server: OpsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('processor operations', () => {
  it('serves /metrics, /healthz (200 or 503) and /status', async () => {
    const metrics = createProcessorMetrics();
    let ok = true;
    server = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      health: () => ({ ok, detail: { engine: ok ? 'running' : 'closed' } }),
      status: () => ({ offset: 7n }),
    });
    metrics.eventsIn.inc({ topic: 'cachesage.kv-events' }, 3);
    metrics.actLatency.observe({ kind: 'evict' }, 0.004);
    metrics.finished(requestEvent({ engineId: 'e1', phase: 'FINISHED', promptTokens: 100, cachedTokens: 25 }));
    metrics.finished(requestEvent({ engineId: 'e1', phase: 'FINISHED', promptTokens: 100, cachedTokens: 75 }));
    metrics.finished(requestEvent({ engineId: 'e1', phase: 'ARRIVED', promptTokens: 100, cachedTokens: 0 }));
    const base = `http://127.0.0.1:${server.port}`;
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('cachesage_processor_events_in_total{topic="cachesage.kv-events"} 3');
    expect(text).toContain('cachesage_processor_act_latency_seconds_bucket{le="0.005",kind="evict"} 1');
    expect(text).toContain('cachesage_engine_token_hit_rate{engine="e1"} 0.5');
    expect(text).toContain('cachesage_processor_dead_letters_total 0');
    const healthy = await fetch(`${base}/healthz`);
    expect(healthy.status).toBe(200);
    ok = false;
    expect((await fetch(`${base}/healthz`)).status).toBe(503);
    expect(await (await fetch(`${base}/status`)).json()).toEqual({ offset: '7' });
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
  });

  it('validates log levels and topic names', () => {
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(() => parseLogLevel('loud')).toThrow(/log level/);
    expect(resolveProcessorTopics({ model: 'm' }).model).toBe('m');
    expect(resolveProcessorTopics().kvEvents).toBe('cachesage.kv-events');
    expect(() => resolveProcessorTopics({ model: 'bad name' })).toThrow(/not a Kafka topic/);
    expect(() => resolveProcessorTopics({ sessions: 'cachesage.model' })).toThrow(/twice/);
  });
});
