import { TopologyError } from '../core/errors.js';
import { describeTopology } from './describe.js';
import {
  ON_ERROR_VALUES,
  type SinkNode,
  type SourceNode,
  type StageNode,
  type Topology,
  type TopologyDefinition,
} from './types.js';

const PLACEHOLDER = /\{([^{}]*)\}/g;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0;
}

function checkNames(def: TopologyDefinition): void {
  const seen = new Map<string, string>();
  const groups: [string, readonly { name: string }[]][] = [
    ['source', def.sources],
    ['store', def.stores],
    ['stage', def.stages],
    ['sink', def.sinks],
  ];
  for (const [kind, nodes] of groups) {
    if (!Array.isArray(nodes))
      throw new TopologyError('TOPOLOGY_INVALID', `topology ${def.name}: ${kind}s must be an array`);
    for (const node of nodes) {
      if (!nonEmpty(node?.name))
        throw new TopologyError('TOPOLOGY_INVALID', `topology ${def.name}: a ${kind} has no name`);
      const previous = seen.get(node.name);
      if (previous !== undefined) {
        throw new TopologyError(
          'DUPLICATE_NAME',
          `topology ${def.name}: name "${node.name}" is used by a ${previous} and a ${kind}`,
          {
            details: { name: node.name },
          },
        );
      }
      seen.set(node.name, kind);
    }
  }
}

function templateProblems(sink: SinkNode): string[] {
  const problems: string[] = [];
  for (const match of sink.destination.matchAll(PLACEHOLDER)) {
    if (!IDENTIFIER.test(match[1] ?? ''))
      problems.push(`sink ${sink.name}: bad placeholder "${match[0]}" in destination`);
  }
  return problems;
}

function stageOrderOf(def: TopologyDefinition, problems: string[]): string[] {
  const stageNames = new Set(def.stages.map((s) => s.name));
  const pending = new Map<string, number>();
  const next = new Map<string, string[]>();
  for (const stage of def.stages) {
    const upstream = stage.inputs.filter((i) => stageNames.has(i));
    pending.set(stage.name, upstream.length);
    for (const u of upstream) next.set(u, [...(next.get(u) ?? []), stage.name]);
  }
  const ready = def.stages.filter((s) => pending.get(s.name) === 0).map((s) => s.name);
  const order: string[] = [];
  while (ready.length > 0) {
    const name = ready.shift()!;
    order.push(name);
    for (const d of next.get(name) ?? []) {
      const left = pending.get(d)! - 1;
      pending.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  if (order.length < def.stages.length) {
    const cyclic = def.stages.filter((s) => !order.includes(s.name)).map((s) => s.name);
    problems.push(`stages form a cycle: ${cyclic.join(', ')}`);
  }
  return order;
}

function collectProblems(def: TopologyDefinition): string[] {
  const problems: string[] = [];
  if (!nonEmpty(def.partitionKey)) problems.push('partitionKey is empty');
  const sources = new Set(def.sources.map((s) => s.name));
  const stages = new Set(def.stages.map((s) => s.name));
  const sinks = new Map(def.sinks.map((s) => [s.name, s]));
  const stores = new Set(def.stores.map((s) => s.name));
  const topics = new Map<string, string>();
  for (const source of def.sources) {
    if (!Array.isArray(source.topics) || source.topics.length === 0) problems.push(`source ${source.name}: no topics`);
    for (const topic of source.topics ?? []) {
      if (!nonEmpty(topic)) problems.push(`source ${source.name}: empty topic name`);
      const other = topics.get(topic);
      if (other !== undefined) problems.push(`topic ${topic} is read by sources ${other} and ${source.name}`);
      topics.set(topic, source.name);
    }
  }
  for (const sink of def.sinks) {
    if (sink.transport !== 'topic' && sink.transport !== 'subject') {
      problems.push(`sink ${sink.name}: transport must be topic or subject`);
    }
    if (!nonEmpty(sink.destination)) problems.push(`sink ${sink.name}: empty destination`);
    else problems.push(...templateProblems(sink));
  }
  const used = new Set<string>();
  for (const stage of def.stages) {
    if (!nonEmpty(stage.kind)) problems.push(`stage ${stage.name}: no kind`);
    if (!ON_ERROR_VALUES.includes(stage.onError)) {
      problems.push(`stage ${stage.name}: onError must be one of ${ON_ERROR_VALUES.join(', ')}`);
    }
    if (!Array.isArray(stage.inputs) || stage.inputs.length === 0) problems.push(`stage ${stage.name}: no inputs`);
    if (new Set(stage.inputs).size !== stage.inputs.length) problems.push(`stage ${stage.name}: repeated input`);
    for (const input of stage.inputs ?? []) {
      used.add(input);
      if (input === stage.name) problems.push(`stage ${stage.name}: reads itself`);
      else if (!sources.has(input) && !stages.has(input)) problems.push(`stage ${stage.name}: unknown input ${input}`);
    }
    for (const output of stage.outputs ?? []) {
      used.add(output);
      if (!sinks.has(output)) problems.push(`stage ${stage.name}: unknown output sink ${output}`);
    }
    for (const store of stage.stores ?? []) {
      used.add(store);
      if (!stores.has(store)) problems.push(`stage ${stage.name}: unknown store ${store}`);
    }
    if (stage.onError === 'dead-letter' && def.deadLetterSink === undefined) {
      problems.push(`stage ${stage.name}: onError is dead-letter but the topology has no deadLetterSink`);
    }
  }
  if (def.deadLetterSink !== undefined) {
    used.add(def.deadLetterSink);
    const sink = sinks.get(def.deadLetterSink);
    if (sink === undefined) problems.push(`deadLetterSink ${def.deadLetterSink} is not a sink`);
    else if (sink.transport !== 'topic') problems.push(`deadLetterSink ${sink.name} must be a topic`);
  }
  for (const name of [...sources, ...sinks.keys(), ...stores]) {
    if (!used.has(name)) problems.push(`${name} is not connected to any stage`);
  }
  return problems;
}

function freeze<T>(items: readonly T[]): readonly T[] {
  return Object.freeze(items.map((i) => Object.freeze({ ...i })));
}

/**
 * Validates a topology definition and returns it with its derived graph. Refuses duplicate names
 * (`DUPLICATE_NAME`), dangling references, unconnected nodes, cycles and bad options (`TOPOLOGY_INVALID`, every
 * problem listed in one message). Does no I/O.
 */
export function defineTopology(def: TopologyDefinition): Topology {
  if (!nonEmpty(def?.name)) throw new TopologyError('TOPOLOGY_INVALID', 'topology has no name');
  checkNames(def);
  const problems = collectProblems(def);
  const stageOrder = stageOrderOf(def, problems);
  if (problems.length > 0) {
    throw new TopologyError('TOPOLOGY_INVALID', `topology ${def.name} is invalid: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  const downstream = new Map<string, string[]>();
  for (const name of stageOrder) {
    const stage = def.stages.find((s) => s.name === name)!;
    for (const input of stage.inputs) downstream.set(input, [...(downstream.get(input) ?? []), name]);
  }
  const sources = freeze<SourceNode>(def.sources);
  const stages = freeze<StageNode>(def.stages);
  const sinks = freeze<SinkNode>(def.sinks);
  const topology: Topology = Object.freeze({
    name: def.name,
    partitionKey: def.partitionKey,
    sources,
    stores: freeze(def.stores),
    stages,
    sinks,
    ...(def.deadLetterSink === undefined ? {} : { deadLetterSink: def.deadLetterSink }),
    stageOrder: Object.freeze(stageOrder),
    downstreamOf: (name: string) => downstream.get(name) ?? [],
    source: (name: string) => sources.find((s) => s.name === name),
    stage: (name: string) => stages.find((s) => s.name === name),
    sink: (name: string) => sinks.find((s) => s.name === name),
    describe: () => describeTopology(topology),
  });
  return topology;
}
