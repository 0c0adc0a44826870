import { describe, expect, it } from 'vitest';
import { createMemoryBus, memorySources } from '../../../adapters/memory/memory-bus.js';
import { createMemoryStores } from '../../../adapters/memory/memory-store.js';
import { partitionOfKey } from '../../../adapters/memory/murmur2.js';
import { createVirtualScheduler } from '../../../adapters/memory/virtual-scheduler.js';
import type { SinkMessage } from '../../../core/io.js';
import { createLruPolicy } from '../../../policies/lru.js';
import type { ModelUpdate, SessionPosition } from '../../../schemas/types.js';
import { repartitionBySession } from '../../../services/processor/repartition.js';
import { trackSessions } from '../../../services/processor/track-sessions.js';
import { countOf, sumCounts } from '../../../services/processor/transition-counts.js';
import type { StageContext } from '../../../topology/runtime/stage-builders.js';
import { startTopology } from '../../../topology/runtime/start-topology.js';
import {
  COUNTS_STORE,
  POSITIONS_STORE,
  processorEngineTopology,
  REPARTITION_STAGE,
  SESSION_TOPICS,
  sessionTopology,
  TRACK_SESSIONS_STAGE,
} from '../../../topology/session-topology.js';
import { kvEvent, requestEvent } from '../../support/events.js';

describe('the two sub-topologies of a processor', () => {
  it('repartitions the request events of the engine topology by session, without their block hashes', () => {
    const scheduler = createVirtualScheduler();
    const bus = createMemoryBus({ scheduler, partitions: 4 });
    const topology = processorEngineTopology({ policies: ['lru'], repartitionTopic: 'by-session' });
    expect(topology.stage('repartition')).toMatchObject({ kind: REPARTITION_STAGE, inputs: ['decode'] });
    expect(topology.sink('sessions-repartition')?.destination).toBe('by-session');
    const written: SinkMessage<unknown>[] = [];
    const running = startTopology(topology, {
      sources: memorySources(bus, topology, { fromBeginning: true }),
      sinks: {
        acts: bus.sink('acts'),
        dlq: bus.sink('dlq'),
        'sessions-repartition': { name: 'rep', write: (m) => void written.push(...m), close: async () => {} },
      },
      stores: createMemoryStores(topology.stores.map((s) => s.name)),
      policies: [createLruPolicy()],
      scheduler,
      stageBuilders: {
        [REPARTITION_STAGE]: (ctx: StageContext) =>
          repartitionBySession({ stage: ctx.stage.name, destination: 'by-session' }),
      },
    });
    const a = requestEvent({ eventId: 'a', engineId: 'e1', sessionId: 'sx', phase: 'ARRIVED' });
    const b = requestEvent({ eventId: 'b', engineId: 'e1', sessionId: 'sy', phase: 'FINISHED' });
    bus.publish('cachesage.requests', 'e1', a);
    bus.publish('cachesage.kv-events', 'e1', kvEvent({ engineId: 'e1' }));
    bus.publish('cachesage.requests', 'e1', b);
    expect(a.blockHashes.length).toBeGreaterThan(0);
    const slim = (e: typeof a) => ({ ...e, blockHashes: [], outputBlockHashes: [] });
    expect(written.map((m) => [m.destination, m.key, m.value])).toEqual([
      ['by-session', 'sx', slim(a)],
      ['by-session', 'sy', slim(b)],
    ]);
    void running.close();
  });

  it('folds request events keyed by session into positions and per-partition counts with their offsets', () => {
    const scheduler = createVirtualScheduler();
    const bus = createMemoryBus({ scheduler, partitions: 3 });
    const topology = sessionTopology({ sessionIdleMs: 60_000 });
    expect(topology.partitionKey).toBe('sessionId');
    expect(topology.sources[0]?.topics).toEqual([SESSION_TOPICS.repartition]);
    const stores = createMemoryStores([COUNTS_STORE, POSITIONS_STORE]);
    const running = startTopology(topology, {
      sources: memorySources(bus, topology, { fromBeginning: true }),
      sinks: { dlq: bus.sink('dlq') },
      stores,
      scheduler,
      stageBuilders: {
        [TRACK_SESSIONS_STAGE]: (ctx: StageContext) =>
          trackSessions({
            stage: ctx.stage.name,
            stores: {
              counts: ctx.store<ModelUpdate>(COUNTS_STORE),
              positions: ctx.store<SessionPosition>(POSITIONS_STORE),
            },
          }),
      },
    });
    const call = (sessionId: string, agentId: string, ts: number) =>
      bus.publish(
        SESSION_TOPICS.repartition,
        sessionId,
        requestEvent({ eventId: `${sessionId}${ts}`, sessionId, agentId, ts, phase: 'ARRIVED', workloadId: 'w' }),
      );
    call('s1', 'A', 1);
    call('s1', 'B', 2);
    call('s2', 'A', 3);
    call('s1', 'A', 4);
    call('s2', 'C', 5);
    bus.publish(SESSION_TOPICS.repartition, 's2', { not: 'an event' });
    const positions = stores[POSITIONS_STORE]!;
    expect(positions.get('s1')).toMatchObject({ lastAgent: 'A', prevAgent: 'B', steps: 3 });
    expect(positions.get('s2')).toMatchObject({ lastAgent: 'C', prevAgent: 'A', steps: 2 });
    const counts = [...stores[COUNTS_STORE]!.entries()] as [string, ModelUpdate][];
    const summed = sumCounts(counts.map(([, u]) => u));
    expect(countOf(summed, 'A', 'B')).toBe(1);
    expect(countOf(summed, 'B', 'A')).toBe(1);
    expect(countOf(summed, 'A', 'C')).toBe(1);
    for (const [key, u] of counts) expect(key).toBe(`w:${u.partition}`);
    expect(new Set(counts.map(([, u]) => u.partition))).toEqual(new Set(['s1', 's2'].map((s) => partitionOfKey(s, 3))));
    expect(running.stats.deadLettered).toBe(1);
    void running.close();
  });

  it('refuses a session topology without a positive idle time', () => {
    expect(() => sessionTopology({ sessionIdleMs: 0 })).toThrow(/sessionIdleMs/);
  });
});
