import { ConfigError } from '../core/errors.js';
import { DLQ_TOPIC, MODEL_TOPIC, SESSIONS_REPARTITION_TOPIC, SESSIONS_TOPIC } from '../infra/topics.js';
import { defineTopology } from './define-topology.js';
import { ENGINE_DECODERS, type EngineTopologyOptions, engineTopology } from './engine-topology.js';
import { ON_ERROR_VALUES, type OnError, type Topology } from './types.js';

/** Topics of the session sub-topology (DESIGN §7). */
export const SESSION_TOPICS = Object.freeze({
  repartition: SESSIONS_REPARTITION_TOPIC,
  sessions: SESSIONS_TOPIC,
  model: MODEL_TOPIC,
  deadLetters: DLQ_TOPIC,
});

/** Stage kind that re-keys decoded request events by sessionId into the repartition topic. */
export const REPARTITION_STAGE = 'repartition-by-session';
/** Stage kind that folds request events into session positions and transition counts. */
export const TRACK_SESSIONS_STAGE = 'track-sessions';
/** Store of session positions (changelog: the compacted sessions topic, key sessionId). */
export const POSITIONS_STORE = 'session-positions';
/** Store of transition counts per (workload, source partition) (changelog: the compacted model topic). */
export const COUNTS_STORE = 'model-counts';

export interface ProcessorEngineTopologyOptions extends EngineTopologyOptions {
  /** Where request events go re-keyed by sessionId; default `cachesage.sessions-repartition`. */
  repartitionTopic?: string;
}

/**
 * The engine sub-topology as a processor runs it: `engineTopology` plus a stage that writes every decoded request
 * event, unchanged, to the repartition topic keyed by its sessionId, so the session sub-topology sees each session's
 * calls in order even when the session moves between engines.
 */
export function processorEngineTopology(options: ProcessorEngineTopologyOptions): Topology {
  const engine = engineTopology(options);
  const onError = options.onError ?? 'dead-letter';
  return defineTopology({
    name: engine.name,
    partitionKey: engine.partitionKey,
    sources: engine.sources,
    stores: engine.stores,
    stages: [
      ...engine.stages,
      { name: 'repartition', kind: REPARTITION_STAGE, inputs: ['decode'], outputs: ['sessions-repartition'], onError },
    ],
    sinks: [
      ...engine.sinks,
      {
        name: 'sessions-repartition',
        transport: 'topic',
        destination: options.repartitionTopic ?? SESSION_TOPICS.repartition,
      },
    ],
    ...(engine.deadLetterSink === undefined ? {} : { deadLetterSink: engine.deadLetterSink }),
  });
}

export interface SessionTopologyOptions {
  name?: string;
  repartitionTopic?: string;
  deadLetterTopic?: string;
  /** Sessions whose last call is older than this (event time) end: END is counted and the position removed. */
  sessionIdleMs: number;
  onError?: OnError;
}

/**
 * The session sub-topology (DESIGN §7), keyed by sessionId: request events from the repartition topic are decoded
 * and folded into session positions (`session-positions`, changelog `cachesage.sessions`) and transition counts per
 * (workload, source partition) with the offset they cover (`model-counts`, changelog `cachesage.model`).
 */
export function sessionTopology(options: SessionTopologyOptions): Topology {
  const onError = options.onError ?? 'dead-letter';
  if (!ON_ERROR_VALUES.includes(onError)) throw new ConfigError(`session topology: bad onError ${onError}`);
  if (!(Number.isFinite(options.sessionIdleMs) && options.sessionIdleMs > 0)) {
    throw new ConfigError(`session topology: sessionIdleMs must be > 0, got ${options.sessionIdleMs}`);
  }
  return defineTopology({
    name: options.name ?? 'cachesage-sessions',
    partitionKey: 'sessionId',
    sources: [{ name: 'repartitioned', topics: [options.repartitionTopic ?? SESSION_TOPICS.repartition] }],
    stores: [
      { name: COUNTS_STORE, description: 'transition counts per (workload, partition) with the offset they cover' },
      { name: POSITIONS_STORE, description: 'position of every running session (last two agents, steps)' },
    ],
    stages: [
      {
        name: 'decode',
        kind: 'decode',
        inputs: ['repartitioned'],
        onError,
        options: { decoder: ENGINE_DECODERS.requestEvent },
      },
      {
        name: 'track',
        kind: TRACK_SESSIONS_STAGE,
        inputs: ['decode'],
        stores: [COUNTS_STORE, POSITIONS_STORE],
        onError,
        options: { sessionIdleMs: options.sessionIdleMs },
      },
    ],
    sinks: [{ name: 'dlq', transport: 'topic', destination: options.deadLetterTopic ?? SESSION_TOPICS.deadLetters }],
    deadLetterSink: 'dlq',
  });
}
