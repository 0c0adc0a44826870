import type { Topology } from './types.js';

function list(items: readonly string[]): string {
  return `[${items.join(', ')}]`;
}

function components(topology: Topology): string[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(x, root);
    return root;
  };
  const union = (a: string, b: string): void => {
    parent.set(find(a), find(b));
  };
  const nodes = [...topology.sources, ...topology.stages, ...topology.sinks, ...topology.stores].map((n) => n.name);
  for (const n of nodes) parent.set(n, n);
  for (const stage of topology.stages) {
    for (const other of [...stage.inputs, ...(stage.outputs ?? []), ...(stage.stores ?? [])]) union(stage.name, other);
  }
  const groups = new Map<string, string[]>();
  for (const n of nodes) {
    if (n === topology.deadLetterSink) continue;
    const root = find(n);
    groups.set(root, [...(groups.get(root) ?? []), n]);
  }
  return [...groups.values()];
}

/**
 * Renders a topology as text: sub-topologies (connected components) with each source, stage and sink and its edges
 * (`-->` downstream, `<--` upstream), then the state stores and the dead-letter sink.
 */
export function describeTopology(topology: Topology): string {
  const lines = [`Topology: ${topology.name} (partition key: ${topology.partitionKey})`];
  const writersOf = (sink: string): string[] =>
    topology.stageOrder.filter((s) => topology.stage(s)?.outputs?.includes(sink));
  components(topology).forEach((members, index) => {
    const inGroup = new Set(members);
    lines.push(`  Sub-topology: ${index}`);
    for (const source of topology.sources.filter((s) => inGroup.has(s.name))) {
      lines.push(`    Source: ${source.name} (topics: ${list(source.topics)})`);
      lines.push(`      --> ${topology.downstreamOf(source.name).join(', ')}`);
    }
    for (const name of topology.stageOrder.filter((s) => inGroup.has(s))) {
      const stage = topology.stage(name)!;
      const next = [...topology.downstreamOf(name), ...(stage.outputs ?? [])];
      lines.push(
        `    Stage: ${name} (kind: ${stage.kind}, stores: ${list(stage.stores ?? [])}, on error: ${stage.onError})`,
      );
      if (next.length > 0) lines.push(`      --> ${next.join(', ')}`);
      lines.push(`      <-- ${stage.inputs.join(', ')}`);
    }
    for (const sink of topology.sinks.filter((s) => inGroup.has(s.name))) {
      lines.push(`    Sink: ${sink.name} (${sink.transport}: ${sink.destination})`);
      lines.push(`      <-- ${writersOf(sink.name).join(', ')}`);
    }
  });
  if (topology.stores.length > 0) {
    lines.push('  Stores:');
    for (const store of topology.stores) {
      const users = topology.stageOrder.filter((s) => topology.stage(s)?.stores?.includes(store.name));
      const about = store.description === undefined ? '' : ` -- ${store.description}`;
      lines.push(`    ${store.name} (used by: ${users.join(', ')})${about}`);
    }
  }
  const dlq = topology.deadLetterSink === undefined ? undefined : topology.sink(topology.deadLetterSink);
  if (dlq !== undefined) {
    const from = topology.stageOrder.filter((s) => topology.stage(s)?.onError === 'dead-letter');
    const direct = writersOf(dlq.name);
    lines.push(`  Dead letters: ${dlq.name} (${dlq.transport}: ${dlq.destination})`);
    lines.push(`      <-- ${[...new Set([...from, ...direct])].join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
