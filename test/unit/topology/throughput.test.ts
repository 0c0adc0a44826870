import { describe, expect, it } from 'vitest';
import { createMemoryBus, memorySources } from '../../../adapters/memory/memory-bus.js';
import { createMemoryStores } from '../../../adapters/memory/memory-store.js';
import { createVirtualScheduler } from '../../../adapters/memory/virtual-scheduler.js';
import type { Policy } from '../../../policies/policy.js';
import { ENGINE_TOPICS, engineTopology } from '../../../topology/engine-topology.js';
import { startTopology } from '../../../topology/runtime/start-topology.js';
import { createEchoPolicy } from '../../support/echo-policy.js';
import { kvEvent, requestEvent } from '../../support/events.js';

describe('runtime overhead on the in-memory bus (values mode)', () => {
  it('runs 100k events through the engine topology at a few µs each', () => {
    const scheduler = createVirtualScheduler();
    const bus = createMemoryBus({ scheduler, actDelayMs: 1 });
    const topology = engineTopology({ policies: ['echo'] });
    const run = startTopology(topology, {
      sources: memorySources(bus, topology),
      sinks: { acts: bus.sink(), dlq: bus.sink() },
      stores: createMemoryStores(topology.stores.map((s) => s.name)),
      policies: [createEchoPolicy() as Policy],
      scheduler,
    });
    let delivered = 0;
    bus.subscribe('cachesage.act.e1.*', () => delivered++);
    const n = 100_000;
    const events = Array.from({ length: n }, (_, i) =>
      i % 2 === 0
        ? { topic: ENGINE_TOPICS.kvEvents, value: kvEvent({ eventId: `k${i}`, ts: i }) }
        : {
            topic: ENGINE_TOPICS.requests,
            value: requestEvent({ eventId: `r${i}`, ts: i, phase: i % 4 === 1 ? 'ARRIVED' : 'FINISHED' }),
          },
    );
    const started = performance.now();
    for (const e of events) {
      bus.publish(e.topic, 'e1', e.value);
      scheduler.runAll();
    }
    const usPerEvent = ((performance.now() - started) * 1000) / n;
    console.log(`engine topology, values mode: ${usPerEvent.toFixed(2)} µs/event (${n} events, 1 policy)`);
    expect(run.stats.records).toBe(n);
    expect(run.stats.commits).toBe(n);
    expect(delivered).toBe(n / 4);
    expect(usPerEvent).toBeLessThan(25);
  });
});
