import { ConfigError } from '../core/errors.js';
import type { ObservedEvent } from '../policies/policy.js';
import type { Decoder } from '../processors/decode.js';
import { asKvEvent, asRequestEvent, observedKv, observedRequest } from '../processors/event-validators.js';
import { policyStoreName } from '../processors/policy-state.js';
import type { KvEvent, RequestEvent } from '../schemas/types.js';
import { defineTopology } from './define-topology.js';
import { ON_ERROR_VALUES, type OnError, type StageNode, type Topology } from './types.js';

/** Topic and subject names of the engine sub-topology (DESIGN §2). */
export const ENGINE_TOPICS = Object.freeze({
  kvEvents: 'cachesage.kv-events',
  requests: 'cachesage.requests',
  deadLetters: 'cachesage.dlq',
});

/** Subject of every act: `cachesage.act.<engineId>.<kind>`. */
export const ACT_SUBJECT = 'cachesage.act.{engineId}.{kind}';

/** Store of the last act seq per (engine, kind, policy). */
export const ACT_SEQ_STORE = 'act-seq';

/** Decoder names the decode stages of the engine topology ask for. */
export const ENGINE_DECODERS = Object.freeze({ kvEvent: 'kv-event', requestEvent: 'request-event' });

export interface EngineTopologyOptions {
  /** Names of the policies to host (each gets store `policy:<name>`); at least one. */
  policies: readonly string[];
  name?: string;
  kvEventsTopic?: string;
  requestsTopic?: string;
  deadLetterTopic?: string;
  /** Subject template of acts; default `cachesage.act.{engineId}.{kind}`. */
  actSubject?: string;
  /** ttl of acts whose draft gives none. Default 5000 ms. */
  defaultTtlMs?: number;
  /** What every stage does with a bad record. Default `dead-letter`. */
  onError?: OnError;
  /**
   * Conflate decisions under backlog (see `decide`): a policy's conflatable decision point followed in the same
   * source batch by another record of its engine is left to that record. Default false (every point decides, as
   * the simulator needs); the Kafka processors turn it on.
   */
  conflateDecisions?: boolean;
}

const POLICY_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * The engine sub-topology (DESIGN §2, §5, §7), keyed by engineId. One source reads both co-partitioned topics (as a
 * Kafka Streams task reads the same partition of each), so an engine's KV and request events reach the policies in
 * the one order the source delivers them in. Events are decoded (a decoder per topic), folded into
 * every policy (observe), turned into drafted acts at decision points (decide), stamped with their header
 * (stamp) and routed to `cachesage.act.<engineId>.<kind>`; bad records go to `cachesage.dlq`.
 */
export function engineTopology(options: EngineTopologyOptions): Topology {
  const policies = options.policies;
  if (!Array.isArray(policies) || policies.length === 0) throw new ConfigError('engine topology: no policies');
  for (const p of policies) {
    if (typeof p !== 'string' || !POLICY_NAME.test(p)) throw new ConfigError(`engine topology: bad policy name ${p}`);
  }
  if (new Set(policies).size !== policies.length) throw new ConfigError('engine topology: a policy is listed twice');
  const onError = options.onError ?? 'dead-letter';
  if (!ON_ERROR_VALUES.includes(onError)) throw new ConfigError(`engine topology: bad onError ${onError}`);
  const defaultTtlMs = options.defaultTtlMs ?? 5000;
  if (!(Number.isFinite(defaultTtlMs) && defaultTtlMs > 0)) throw new ConfigError('engine topology: bad defaultTtlMs');
  const policyStores = policies.map(policyStoreName);
  const kvTopic = options.kvEventsTopic ?? ENGINE_TOPICS.kvEvents;
  const requestsTopic = options.requestsTopic ?? ENGINE_TOPICS.requests;
  const stage = (node: Omit<StageNode, 'onError'>): StageNode => ({ ...node, onError });
  return defineTopology({
    name: options.name ?? 'cachesage-engine',
    partitionKey: 'engineId',
    sources: [{ name: 'events', topics: [kvTopic, requestsTopic] }],
    stores: [
      ...policies.map((p) => ({ name: policyStoreName(p), description: `state of policy ${p}` })),
      { name: ACT_SEQ_STORE, description: 'last act seq per (engine, kind, policy)' },
    ],
    stages: [
      stage({
        name: 'decode',
        kind: 'decode',
        inputs: ['events'],
        options: { decoders: { [kvTopic]: ENGINE_DECODERS.kvEvent, [requestsTopic]: ENGINE_DECODERS.requestEvent } },
      }),
      stage({
        name: 'observe',
        kind: 'observe',
        inputs: ['decode'],
        stores: policyStores,
        options: { policies: [...policies] },
      }),
      stage({
        name: 'decide',
        kind: 'decide',
        inputs: ['observe'],
        stores: policyStores,
        options: { policies: [...policies], conflate: options.conflateDecisions === true },
      }),
      stage({
        name: 'stamp',
        kind: 'stamp-acts',
        inputs: ['decide'],
        stores: [ACT_SEQ_STORE],
        options: { defaultTtlMs },
      }),
      stage({ name: 'route', kind: 'route-to-subject', inputs: ['stamp'], outputs: ['acts'] }),
    ],
    sinks: [
      { name: 'acts', transport: 'subject', destination: options.actSubject ?? ACT_SUBJECT },
      { name: 'dlq', transport: 'topic', destination: options.deadLetterTopic ?? ENGINE_TOPICS.deadLetters },
    ],
    deadLetterSink: 'dlq',
  });
}

export interface EngineCodecs {
  /** Bytes → KvEvent (the Avro codec's `decode`); default: the values-mode shape check. */
  kvEvent?: (value: unknown) => KvEvent;
  /** Bytes → RequestEvent; default: the values-mode shape check. */
  requestEvent?: (value: unknown) => RequestEvent;
}

/** The decoders the engine topology's decode stages name, wrapping codecs (or value checks) into ObservedEvents. */
export function engineDecoders(codecs: EngineCodecs = {}): Record<string, Decoder<ObservedEvent>> {
  return {
    [ENGINE_DECODERS.kvEvent]: observedKv(codecs.kvEvent ?? asKvEvent),
    [ENGINE_DECODERS.requestEvent]: observedRequest(codecs.requestEvent ?? asRequestEvent),
  };
}
