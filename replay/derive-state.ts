import { avroEngineDecoders } from '../adapters/kafka/start-kafka-topology.js';
import { createMemoryBus, memorySources } from '../adapters/memory/memory-bus.js';
import { createMemoryStores } from '../adapters/memory/memory-store.js';
import { createVirtualScheduler } from '../adapters/memory/virtual-scheduler.js';
import type { RecordedRecord } from '../adapters/recording/recording-format.js';
import { ConfigError } from '../core/errors.js';
import type { CacheSageState } from '../policies/cachesage/state.js';
import { createPolicy } from '../policies/index.js';
import type { Policy } from '../policies/policy.js';
import { POLICY_STATE_KEY, policyStoreName } from '../processors/policy-state.js';
import { encodeActForNats } from '../schemas/act-codec.js';
import { createCodec } from '../schemas/codec.js';
import { ACT_KINDS, type ActKind } from '../schemas/types.js';
import { engineTopology } from '../topology/engine-topology.js';
import { startTopology } from '../topology/runtime/start-topology.js';

/** One engine's state as the replay re-derived it (CacheSage's view of the engine). */
export interface EngineStateSummary {
  engineId: string;
  /** Request arrivals seen. */
  requests: number;
  /** GPU blocks resident after the last event (BlockStored minus BlockRemoved, in the layer's hash space). */
  residentBlocks: number;
  /** CPU-tier blocks resident after the last event. */
  cpuBlocks: number;
  /** Sessions the engine served. */
  sessions: number;
  /** (session, agent) contexts it holds. */
  contexts: number;
}

/** One agent-to-agent transition count of a workload's learned model. */
export interface TransitionCount {
  from: string;
  /** Next agent, or `END`. */
  to: string;
  count: number;
}

/** A workload's transition model as re-derived. */
export interface WorkloadModelSummary {
  workloadId: string;
  agents: number;
  /** Transitions counted (agent → next agent or END). */
  transitions: number;
  /** The most frequent transitions, descending. */
  top: TransitionCount[];
}

export interface DerivedState {
  /** Policies the topology hosted (CacheSage always, for the state summary). */
  policies: string[];
  events: { kv: number; requests: number; other: number };
  /** Records the topology could not process (dead letters), by stage. */
  failures: Record<string, number>;
  deadLettered: number;
  /** Acts the hosted policies issued, by kind. */
  acts: Record<ActKind, number>;
  engines: EngineStateSummary[];
  workloads: WorkloadModelSummary[];
  wallMs: number;
}

export interface DeriveStateOptions {
  /** Records in replay order. */
  records: readonly RecordedRecord[];
  /** Topic names of the two streams in the recording. */
  kvTopic: string | null;
  requestsTopic: string | null;
  /** Policies to host beside CacheSage (acts counted per kind). */
  policies?: readonly string[];
  /** Transitions listed per workload; default 5. */
  topTransitions?: number;
  /** Options handed to the registry per policy. */
  policyOptions?: (policy: string) => unknown;
}

const END_NAME = 'END';
const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

/**
 * Re-derives state from recorded events (DESIGN §7 replay): the records go, as the bytes they were, through the
 * engine topology on the in-memory bus in bytes mode with the Avro codecs (the runtime of the processors), and the
 * state the policies built is summarized per engine (resident GPU and CPU blocks, sessions, contexts) and per
 * workload (CacheSage's transition counts). Records that do not decode are dead-lettered and counted, as live.
 */
export function deriveState(options: DeriveStateOptions): DerivedState {
  const started = performance.now();
  const kvTopic = options.kvTopic ?? 'cachesage.replay.no-kv-events';
  const requestsTopic = options.requestsTopic ?? 'cachesage.replay.no-requests';
  if (kvTopic === requestsTopic) throw new ConfigError('replay: the KV-event and request topics must differ');
  const names = ['cachesage', ...(options.policies ?? []).filter((p) => p !== 'cachesage')];
  const policies: Policy[] = names.map((name) => createPolicy(name, options.policyOptions?.(name)));
  const scheduler = createVirtualScheduler({ startMs: options.records[0]?.timestamp ?? 0 });
  const bus = createMemoryBus({ scheduler, mode: 'bytes', releaseDelivered: true });
  const topology = engineTopology({ policies: names, kvEventsTopic: kvTopic, requestsTopic });
  const stores = createMemoryStores(topology.stores.map((s) => s.name));
  const letters = createCodec('DeadLetter');
  const running = startTopology(topology, {
    sources: memorySources(bus, topology, { fromBeginning: true, groupId: 'replay' }),
    sinks: { acts: bus.sink('acts'), dlq: bus.sink('dlq') },
    stores,
    policies,
    scheduler,
    decoders: avroEngineDecoders(),
    encoders: { act: encodeActForNats, deadLetter: (l) => letters.encode(l) },
  });
  const acts = Object.fromEntries(ACT_KINDS.map((k) => [k, 0])) as Record<ActKind, number>;
  bus.subscribe('cachesage.act.>', (m) => {
    const kind = m.subject.slice(m.subject.lastIndexOf('.') + 1) as ActKind;
    if (kind in acts) acts[kind]++;
  });
  const events = { kv: 0, requests: 0, other: 0 };
  for (const r of options.records) {
    if (r.topic === kvTopic) events.kv++;
    else if (r.topic === requestsTopic) events.requests++;
    else {
      events.other++;
      continue;
    }
    scheduler.runUntil(Math.max(scheduler.now(), r.timestamp));
    bus.publish(r.topic, r.key, r.value ?? new Uint8Array(0), { headers: r.headers, timestampMs: r.timestamp });
  }
  scheduler.runAll();
  if (running.stats.state === 'failed') {
    throw new ConfigError(`replay: the topology failed: ${String(running.stats.error)}`);
  }
  const stats = running.stats;
  void running.close();
  const state = stores[policyStoreName('cachesage')]?.get(POLICY_STATE_KEY) as CacheSageState | undefined;
  return {
    policies: names,
    events,
    failures: Object.fromEntries(Object.entries(stats.failures).filter(([, n]) => n > 0)),
    deadLettered: stats.deadLettered,
    acts,
    engines: state === undefined ? [] : engineSummaries(state),
    workloads: state === undefined ? [] : workloadSummaries(state, options.topTransitions ?? 5),
    wallMs: performance.now() - started,
  };
}

function engineSummaries(state: CacheSageState): EngineStateSummary[] {
  return [...state.engines.values()]
    .map((e) => ({
      engineId: e.id,
      requests: e.clock,
      residentBlocks: e.resident.size,
      cpuBlocks: e.cpu.size,
      sessions: e.sessions.size,
      contexts: e.contexts.size,
    }))
    .sort((a, b) => naturalOrder(a.engineId, b.engineId));
}

function workloadSummaries(state: CacheSageState, top: number): WorkloadModelSummary[] {
  const out: WorkloadModelSummary[] = [];
  for (const [workloadId, w] of state.workloads) {
    const m = w.model;
    const counts: TransitionCount[] = [];
    for (const [i, row] of m.first) {
      for (const [j, raw] of row) {
        counts.push({
          from: m.agents[i] ?? String(i),
          to: j < m.agents.length ? (m.agents[j] ?? String(j)) : END_NAME,
          count: raw / (m.scale || 1),
        });
      }
    }
    counts.sort((a, b) => b.count - a.count || a.from.localeCompare(b.from) || a.to.localeCompare(b.to));
    out.push({ workloadId, agents: m.agents.length, transitions: m.transitions, top: counts.slice(0, top) });
  }
  return out.sort((a, b) => a.workloadId.localeCompare(b.workloadId));
}
