import { describe, expect, it } from 'vitest';
import { createActFilter } from '../../../../adapters/hooks/act-filter.js';
import { attachEngineHooks } from '../../../../adapters/hooks/attach-engine-hooks.js';
import type { EngineHooks } from '../../../../adapters/hooks/engine-hooks.js';
import { createMemoryBus } from '../../../../adapters/memory/memory-bus.js';
import { createVirtualScheduler } from '../../../../adapters/memory/virtual-scheduler.js';
import { ConfigError, DecodeError } from '../../../../core/errors.js';
import type { Act, EvictionHints, Pin, Prefetch } from '../../../../schemas/types.js';

const header = { engineId: 'e1', issuedAt: 0, ttlMs: 100, causeId: 'c', causeProducedAt: 0, policy: 'echo' };
const acts: Act[] = [
  { ...header, kind: 'evict', seq: 1, entries: [{ contextId: null, blockHashes: [3n], priority: 0 }] },
  { ...header, kind: 'prefetch', seq: 1, sessionId: 's', agentId: 'a', blockHashes: [4n], deadlineMs: 10 },
  { ...header, kind: 'pin', seq: 1, blockHashes: [5n], pinTtlMs: 10 },
];

function recorder(engineId: string): EngineHooks & { calls: string[] } {
  const calls: string[] = [];
  return {
    engineId,
    calls,
    applyEvictionHints: (a: EvictionHints) => calls.push(`evict:${a.seq}`),
    prefetch: (a: Prefetch) => calls.push(`prefetch:${a.seq}`),
    pin: (a: Pin) => calls.push(`pin:${a.seq}`),
  };
}

describe('attachEngineHooks', () => {
  it("dispatches accepted acts on the engine's subjects to the matching hook, and ignores other engines", () => {
    const scheduler = createVirtualScheduler();
    const bus = createMemoryBus({ scheduler, actDelayMs: 2 });
    const hooks = recorder('e1');
    const filter = createActFilter({ engineId: 'e1', now: () => scheduler.now() });
    const attached = attachEngineHooks({ subscribe: bus.subscribe, engineId: 'e1', hooks, filter });
    const sink = bus.sink();
    sink.write(acts.map((a) => ({ destination: `cachesage.act.e1.${a.kind}`, key: 'e1', value: a })));
    sink.write([{ destination: 'cachesage.act.e2.pin', key: 'e2', value: { ...acts[2]!, engineId: 'e2' } }]);
    sink.write([{ destination: 'cachesage.act.e1.pin', key: 'e1', value: acts[2] }]);
    expect(hooks.calls).toEqual([]);
    scheduler.runAll();
    expect(hooks.calls).toEqual(['evict:1', 'prefetch:1', 'pin:1']);
    expect(attached.counters.applied).toEqual({ evict: 1, prefetch: 1, pin: 1 });
    expect(attached.counters.rejected['stale-seq']).toBe(1);
    expect(attached.counters.rejected.foreign).toBe(0);
    attached.detach();
    sink.write([{ destination: 'cachesage.act.e1.pin', key: 'e1', value: { ...acts[2]!, seq: 2 } }]);
    scheduler.runAll();
    expect(hooks.calls).toHaveLength(3);
  });

  it('counts a foreign act that arrives on its subject, an undecodable message and a kind/subject mismatch', () => {
    const scheduler = createVirtualScheduler();
    const bus = createMemoryBus({ scheduler, mode: 'bytes' });
    const hooks = recorder('e1');
    const filter = createActFilter({ engineId: 'e1', now: () => scheduler.now() });
    const table = new Map<number, unknown>([
      [1, acts[2]],
      [2, { ...acts[2]!, engineId: 'e9', seq: 2 }],
      [3, { ...acts[0]!, seq: 3 }],
    ]);
    const decode = (value: unknown): unknown => {
      const id = (value as Uint8Array)[0]!;
      if (!table.has(id)) throw new DecodeError('UNKNOWN_SCHEMA', `schema ${id}`);
      return table.get(id);
    };
    attachEngineHooks({ subscribe: bus.subscribe, engineId: 'e1', hooks, filter, decode });
    const send = (kind: string, id: number): void => {
      void bus.sink().write([{ destination: `cachesage.act.e1.${kind}`, key: 'e1', value: new Uint8Array([id]) }]);
    };
    send('pin', 1);
    send('pin', 2);
    send('pin', 9);
    send('pin', 3);
    scheduler.runAll();
    expect(hooks.calls).toEqual(['pin:1']);
    expect(filter.counters.rejected).toEqual({ foreign: 1, 'stale-ttl': 0, 'stale-seq': 0, malformed: 2 });
  });

  it('refuses an engine id that is not one subject token and mismatched hooks or filter', () => {
    const bus = createMemoryBus({ scheduler: createVirtualScheduler() });
    const filter = createActFilter({ engineId: 'e1', now: () => 0 });
    expect(() =>
      attachEngineHooks({ subscribe: bus.subscribe, engineId: 'e.1', hooks: recorder('e.1'), filter }),
    ).toThrow(ConfigError);
    expect(() =>
      attachEngineHooks({ subscribe: bus.subscribe, engineId: 'e1', hooks: recorder('e2'), filter }),
    ).toThrow(/hooks are for engine e2/);
    const other = createActFilter({ engineId: 'e2', now: () => 0 });
    expect(() =>
      attachEngineHooks({ subscribe: bus.subscribe, engineId: 'e1', hooks: recorder('e1'), filter: other }),
    ).toThrow(/filter is for engine e2/);
  });
});
