import { describe, expect, it } from 'vitest';
import { TopologyError } from '../../../core/errors.js';
import { defineTopology } from '../../../topology/define-topology.js';
import type { TopologyDefinition } from '../../../topology/types.js';

function base(): TopologyDefinition {
  return {
    name: 't',
    partitionKey: 'engineId',
    sources: [{ name: 'in', topics: ['topic.in'] }],
    stores: [{ name: 'state' }],
    stages: [
      { name: 'parse', kind: 'decode', inputs: ['in'], onError: 'dead-letter', options: { decoder: 'x' } },
      { name: 'fold', kind: 'observe', inputs: ['parse'], stores: ['state'], onError: 'skip' },
      { name: 'emit', kind: 'route-to-subject', inputs: ['fold'], outputs: ['out'], onError: 'fail' },
    ],
    sinks: [
      { name: 'out', transport: 'subject', destination: 'acts.{engineId}' },
      { name: 'dlq', transport: 'topic', destination: 'topic.dlq' },
    ],
    deadLetterSink: 'dlq',
  };
}

function problemOf(def: TopologyDefinition): TopologyError {
  try {
    defineTopology(def);
  } catch (err) {
    if (err instanceof TopologyError) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('defineTopology', () => {
  it('derives the stage order and downstream edges', () => {
    const def = base();
    const t = defineTopology({ ...def, stages: [...def.stages].reverse() });
    expect(t.stageOrder).toEqual(['parse', 'fold', 'emit']);
    expect(t.downstreamOf('in')).toEqual(['parse']);
    expect(t.downstreamOf('fold')).toEqual(['emit']);
    expect(t.downstreamOf('emit')).toEqual([]);
    expect(t.sink('dlq')?.destination).toBe('topic.dlq');
    expect(Object.isFrozen(t)).toBe(true);
  });

  it('refuses a name used twice, even across node kinds', () => {
    const def = base();
    const twice = problemOf({ ...def, stages: [...def.stages, { ...def.stages[2]!, name: 'parse' }] });
    expect(twice.code).toBe('DUPLICATE_NAME');
    expect(twice.message).toMatch(/"parse"/);
    expect(problemOf({ ...def, stores: [{ name: 'in' }] }).code).toBe('DUPLICATE_NAME');
  });

  it('refuses dangling references, listing every problem', () => {
    const def = base();
    const err = problemOf({
      ...def,
      stages: [
        { name: 'parse', kind: 'decode', inputs: ['nowhere'], onError: 'dead-letter' },
        { name: 'fold', kind: 'observe', inputs: ['parse'], stores: ['nostore'], onError: 'skip' },
        { name: 'emit', kind: 'route-to-subject', inputs: ['fold'], outputs: ['nosink'], onError: 'fail' },
      ],
    });
    expect(err.code).toBe('TOPOLOGY_INVALID');
    const problems = err.details?.problems as string[];
    expect(problems).toEqual(
      expect.arrayContaining([
        'stage parse: unknown input nowhere',
        'stage fold: unknown store nostore',
        'stage emit: unknown output sink nosink',
        'in is not connected to any stage',
        'state is not connected to any stage',
        'out is not connected to any stage',
      ]),
    );
  });

  it('refuses cycles, a dead-letter stage without a dead-letter sink, and bad options', () => {
    const def = base();
    const cyclic = problemOf({
      ...def,
      stages: [
        def.stages[0]!,
        { name: 'fold', kind: 'observe', inputs: ['parse', 'emit'], stores: ['state'], onError: 'skip' },
        def.stages[2]!,
      ],
    });
    expect(cyclic.message).toMatch(/cycle: fold, emit/);
    const { deadLetterSink: _, ...noDlq } = def;
    expect(problemOf({ ...noDlq, sinks: [def.sinks[0]!] }).message).toMatch(/onError is dead-letter but/);
    expect(
      problemOf({ ...def, stages: [{ ...def.stages[0]!, onError: 'retry' as never }, ...def.stages.slice(1)] }).message,
    ).toMatch(/onError must be one of/);
    expect(problemOf({ ...def, sources: [{ name: 'in', topics: [] }] }).message).toMatch(/source in: no topics/);
    expect(
      problemOf({ ...def, sinks: [{ ...def.sinks[0]!, destination: 'acts.{engine id}' }, def.sinks[1]!] }).message,
    ).toMatch(/bad placeholder/);
    expect(problemOf({ ...def, sinks: [def.sinks[0]!, { ...def.sinks[1]!, transport: 'subject' }] }).message).toMatch(
      /deadLetterSink dlq must be a topic/,
    );
    expect(problemOf({ ...def, partitionKey: '' }).message).toMatch(/partitionKey is empty/);
  });
});
