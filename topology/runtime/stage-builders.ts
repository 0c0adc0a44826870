import type { OperatorFunction } from 'rxjs';
import { BadRecordError, ConfigError } from '../../core/errors.js';
import type { Store } from '../../core/io.js';
import type { Policy } from '../../policies/policy.js';
import { createDeferredDecisions, decide } from '../../processors/decide.js';
import { type Decoder, decode } from '../../processors/decode.js';
import { observe } from '../../processors/observe.js';
import { type PolicyBinding, policyStoreName } from '../../processors/policy-state.js';
import { type ActEncoder, routeToSubject } from '../../processors/route-to-subject.js';
import type { StageOutput, StageRecord } from '../../processors/stage-record.js';
import { stampActs } from '../../processors/stamp-acts.js';
import type { DeadLetter } from '../../schemas/types.js';
import type { StageNode, Topology } from '../types.js';

/** Encoders for the wire; absent ones leave values as they are (in-memory values mode). */
export interface Encoders {
  /** Bytes, or bytes and headers (the act codec's `encodeForNats`). */
  act?: ActEncoder;
  deadLetter?: (letter: DeadLetter) => Uint8Array;
}

/** What a stage builder gets: its node, and the resolved stores, policies, clock and codecs of the run. */
export interface StageContext {
  topology: Topology;
  stage: StageNode;
  /** A store the stage lists in `stores`; a `ConfigError` otherwise or when none was provided. */
  store<V>(name: string): Store<V>;
  policy(name: string): Policy;
  now: () => number;
  decoders: Readonly<Record<string, Decoder<unknown>>>;
  encoders: Encoders;
}

// biome-ignore lint/suspicious/noExplicitAny: a builder's record types depend on its kind
export type StageOperator = OperatorFunction<StageRecord<any>, StageOutput<any>>;

/** Builds the operator of one stage node from its options. Throws `ConfigError` on options it cannot use. */
export type StageBuilder = (ctx: StageContext) => StageOperator;

function option<T>(ctx: StageContext, key: string, check: (v: unknown) => v is T, what: string): T {
  const value = ctx.stage.options?.[key];
  if (!check(value)) throw new ConfigError(`stage ${ctx.stage.name}: option ${key} must be ${what}`);
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every(isString);
const isPositive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

function bindings(ctx: StageContext): PolicyBinding[] {
  return option(ctx, 'policies', isStrings, 'a non-empty list of policy names').map((name) => ({
    policy: ctx.policy(name),
    store: ctx.store(policyStoreName(name)),
  }));
}

/** The processors the runtime knows by stage kind. */
export const STAGE_BUILDERS: Readonly<Record<string, StageBuilder>> = Object.freeze({
  decode: (ctx: StageContext) => {
    const decoderOf = (name: unknown): Decoder<unknown> => {
      const decoder = isString(name) ? ctx.decoders[name] : undefined;
      if (decoder === undefined) {
        const given = Object.keys(ctx.decoders).join(', ');
        throw new ConfigError(`stage ${ctx.stage.name}: no decoder ${String(name)}; given: ${given}`);
      }
      return decoder;
    };
    const byTopic = ctx.stage.options?.decoders;
    if (byTopic === undefined) return decode({ stage: ctx.stage.name, decoder: decoderOf(ctx.stage.options?.decoder) });
    if (typeof byTopic !== 'object' || byTopic === null) {
      throw new ConfigError(`stage ${ctx.stage.name}: option decoders must map topics to decoder names`);
    }
    const decoders = new Map(Object.entries(byTopic).map(([topic, name]) => [topic, decoderOf(name)]));
    return decode({
      stage: ctx.stage.name,
      decoder: (value, record) => {
        const decoder = decoders.get(record.origin.topic);
        if (decoder === undefined) throw new BadRecordError(`no decoder for topic ${record.origin.topic}`);
        return decoder(value, record);
      },
    });
  },
  observe: (ctx: StageContext) => observe({ stage: ctx.stage.name, policies: bindings(ctx) }),
  decide: (ctx: StageContext) =>
    decide({
      stage: ctx.stage.name,
      policies: bindings(ctx),
      conflate: ctx.stage.options?.conflate === true,
      deferred: createDeferredDecisions(),
    }),
  'stamp-acts': (ctx: StageContext) => {
    const stores = ctx.stage.stores ?? [];
    const seqStore = ctx.stage.options?.seqStore ?? (stores.length === 1 ? stores[0] : undefined);
    if (!isString(seqStore)) throw new ConfigError(`stage ${ctx.stage.name}: option seqStore must name a store`);
    return stampActs({
      stage: ctx.stage.name,
      seqStore: ctx.store<number>(seqStore),
      now: ctx.now,
      defaultTtlMs: option(ctx, 'defaultTtlMs', isPositive, 'a positive number of ms'),
    });
  },
  'route-to-subject': (ctx: StageContext) => {
    const sinks = (ctx.stage.outputs ?? []).map((o) => ctx.topology.sink(o)!).filter((s) => s.transport === 'subject');
    if (sinks.length !== 1) throw new ConfigError(`stage ${ctx.stage.name}: needs exactly one subject sink in outputs`);
    return routeToSubject({
      stage: ctx.stage.name,
      destination: sinks[0]!.destination,
      ...(ctx.encoders.act === undefined ? {} : { encode: ctx.encoders.act }),
    });
  },
});
