import type { SimEvent } from '../adapters/engine-sim/engine-sim.js';
import { createSimulation } from '../adapters/engine-sim/simulate.js';
import type { Sink, SinkMessage } from '../core/io.js';
import type { ObservedEvent } from '../policies/policy.js';
import { generateSynthetic, type SyntheticOptions } from '../workloads/synthetic.js';
import type { PreparedWorkload } from '../workloads/types.js';

/** Options of a recorded engine event stream. */
export interface EventStreamOptions {
  /** GPU blocks each engine keeps for reuse between requests (resident ≈ this plus running requests' blocks). */
  budgetBlocks: number;
  /** CPU-tier blocks per engine (0: none). */
  cpuTierBlocks: number;
  /** Active sessions per engine. */
  concurrency: number;
  engines: number;
  /** Sessions of the synthetic workload (spread round-robin over the engines). */
  sessions: number;
  seed: number;
  /** Engine ids; default `engine-0`, `engine-1`, ... */
  engineIds?: readonly string[];
}

/** Every event the simulated engines published, in publish order, and the workload they served. */
export interface EventStream {
  events: SimEvent[];
  workload: PreparedWorkload;
  options: EventStreamOptions;
}

/**
 * The synthetic workload the benchmarks use: 12 agents with a structured transition matrix (a main successor and a
 * second one per agent), 10–30 steps per session, 400–2000-token system prompts and 100–800-token messages,
 * group-chat prompts (every step's prompt is the agent's system prompt plus the whole history).
 */
export function benchWorkload(sessions: number, seed: number): PreparedWorkload {
  const options: SyntheticOptions = {
    seed,
    agents: 12,
    transitions: 'structured',
    sessions,
    sessionTurns: { min: 10, max: 30 },
    systemPromptTokens: { min: 400, max: 2000 },
    turnTokens: { min: 100, max: 800 },
    toolCallProbability: 0.2,
    workloadId: 'bench',
  };
  return generateSynthetic(options, `synthetic:bench?seed=${seed}`);
}

/**
 * Records the KV and request events of simulated engines (the engine left in its own LRU order) serving the bench
 * workload: realistic streams of many sessions and contexts whose resident set grows to the budget and stays there.
 * Times are rounded to whole ms, as the wire carries them.
 */
export function recordEventStream(options: EventStreamOptions): EventStream {
  const events: SimEvent[] = [];
  const workload = simulateInto(options, (e) => events.push(e));
  return { events, workload, options };
}

/**
 * Runs the simulated engines of `options` and hands every event, in publish order, to `onEvent` (times rounded to
 * whole ms); returns the workload. Nothing is kept: long streams can be encoded as they come.
 */
export function simulateInto(options: EventStreamOptions, onEvent: (event: SimEvent) => void): PreparedWorkload {
  const workload = benchWorkload(options.sessions, options.seed);
  const sink: Sink<SimEvent> = {
    name: 'record',
    write(messages: readonly SinkMessage<SimEvent>[]) {
      for (const m of messages) {
        const e = m.value;
        onEvent({ ...e, ts: Math.round(e.ts), producedAt: Math.round(e.producedAt) });
      }
    },
    close: async () => undefined,
  };
  const sim = createSimulation({
    workload,
    budgetBlocks: options.budgetBlocks,
    cpuTierBlocks: options.cpuTierBlocks,
    concurrency: options.concurrency,
    engines: options.engines,
    evictor: 'lru',
    seed: options.seed,
    sink,
    ...(options.engineIds === undefined ? {} : { engineIds: options.engineIds }),
  });
  sim.run();
  return workload;
}

/** A simulator event as the policy sees it. */
export function observed(event: SimEvent): ObservedEvent {
  return 'kind' in event ? { type: 'kv', event } : { type: 'request', event };
}

/** Blocks carried by KV events, and messages per topic. */
export function streamCounts(events: readonly SimEvent[]): { kv: number; requests: number; kvBlocks: number } {
  let kv = 0;
  let kvBlocks = 0;
  for (const e of events) {
    if ('kind' in e) {
      kv++;
      kvBlocks += e.blockHashes.length;
    }
  }
  return { kv, requests: events.length - kv, kvBlocks };
}
