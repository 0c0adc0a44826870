import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/errors.js';
import { ACT_SEQ_STORE, engineDecoders, engineTopology } from '../../../topology/engine-topology.js';
import { requestEvent } from '../../support/events.js';

describe('engine topology', () => {
  it('wires kv and request events through decode, observe, decide, stamp and route, one store per policy', () => {
    const t = engineTopology({ policies: ['lru', 'cachesage'] });
    expect(t.partitionKey).toBe('engineId');
    expect(t.sources).toEqual([{ name: 'events', topics: ['cachesage.kv-events', 'cachesage.requests'] }]);
    expect(t.stageOrder).toEqual(['decode', 'observe', 'decide', 'stamp', 'route']);
    expect(t.stores.map((s) => s.name)).toEqual(['policy:lru', 'policy:cachesage', ACT_SEQ_STORE]);
    expect(t.stage('observe')?.options).toEqual({ policies: ['lru', 'cachesage'] });
    expect(t.sink('acts')?.destination).toBe('cachesage.act.{engineId}.{kind}');
    expect(t.deadLetterSink).toBe('dlq');
    expect(t.stages.every((s) => s.onError === 'dead-letter')).toBe(true);
  });

  it('describes itself', () => {
    expect(engineTopology({ policies: ['echo'] }).describe()).toBe(
      [
        'Topology: cachesage-engine (partition key: engineId)',
        '  Sub-topology: 0',
        '    Source: events (topics: [cachesage.kv-events, cachesage.requests])',
        '      --> decode',
        '    Stage: decode (kind: decode, stores: [], on error: dead-letter)',
        '      --> observe',
        '      <-- events',
        '    Stage: observe (kind: observe, stores: [policy:echo], on error: dead-letter)',
        '      --> decide',
        '      <-- decode',
        '    Stage: decide (kind: decide, stores: [policy:echo], on error: dead-letter)',
        '      --> stamp',
        '      <-- observe',
        '    Stage: stamp (kind: stamp-acts, stores: [act-seq], on error: dead-letter)',
        '      --> route',
        '      <-- decide',
        '    Stage: route (kind: route-to-subject, stores: [], on error: dead-letter)',
        '      --> acts',
        '      <-- stamp',
        '    Sink: acts (subject: cachesage.act.{engineId}.{kind})',
        '      <-- route',
        '  Stores:',
        '    policy:echo (used by: observe, decide) -- state of policy echo',
        '    act-seq (used by: stamp) -- last act seq per (engine, kind, policy)',
        '  Dead letters: dlq (topic: cachesage.dlq)',
        '      <-- decode, observe, decide, stamp, route',
        '',
      ].join('\n'),
    );
  });

  it('refuses bad options', () => {
    expect(() => engineTopology({ policies: [] })).toThrow(ConfigError);
    expect(() => engineTopology({ policies: ['lru', 'lru'] })).toThrow(/twice/);
    expect(() => engineTopology({ policies: ['Bad Name'] })).toThrow(/bad policy name/);
    expect(() => engineTopology({ policies: ['lru'], defaultTtlMs: 0 })).toThrow(/defaultTtlMs/);
  });

  it('decodes values into observed events, and rejects malformed ones', () => {
    const decoders = engineDecoders();
    const event = requestEvent();
    const decodeRequest = decoders['request-event']!;
    expect(decodeRequest(event, undefined as never)).toEqual({ type: 'request', event });
    expect(() => decodeRequest({ ...event, phase: 'DONE' }, undefined as never)).toThrow(/phase/);
    expect(() => decoders['kv-event']!(event, undefined as never)).toThrow(/BAD_RECORD|kind/);
  });
});
