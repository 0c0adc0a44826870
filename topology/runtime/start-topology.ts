import { Subject, type Subscription } from 'rxjs';
import { ConfigError, ProgrammerError } from '../../core/errors.js';
import type { Scheduler, Sink, SinkMessage, Source, SourceBatch, Store } from '../../core/io.js';
import type { Policy } from '../../policies/policy.js';
import { deadLetter } from '../../processors/dead-letter.js';
import type { Decoder } from '../../processors/decode.js';
import {
  isFailure,
  keysFollowing,
  type StageFailure,
  type StageOutput,
  type StageRecord,
  toStageRecord,
} from '../../processors/stage-record.js';
import { engineDecoders } from '../engine-topology.js';
import type { StageNode, Topology } from '../types.js';
import { type Encoders, STAGE_BUILDERS, type StageBuilder, type StageContext } from './stage-builders.js';

export interface StartTopologyOptions {
  /** A Source per source node name. The running topology closes them when it stops. */
  sources: Readonly<Record<string, Source<unknown>>>;
  /** A Sink per sink node name (several names may share one Sink). Left open: the caller owns them. */
  sinks: Readonly<Record<string, Sink<unknown>>>;
  /** A Store per store node name; restored before the first batch, flushed before every commit. */
  stores: Readonly<Record<string, Store<unknown>>>;
  /** Policy instances the stages name (by `policy.name`). */
  policies?: readonly Policy[];
  /** Clock for issue and failure times. */
  scheduler: Scheduler;
  /** Decoders the decode stages name; default `engineDecoders()` (values-mode shape checks). */
  decoders?: Readonly<Record<string, Decoder<unknown>>>;
  /** Encoders for acts and dead letters; default none (values travel as they are). */
  encoders?: Encoders;
  /** Extra stage kinds (or replacements), merged over `STAGE_BUILDERS`. */
  stageBuilders?: Readonly<Record<string, StageBuilder>>;
  /**
   * Outputs are handed to the sinks every this many records of a batch (and at its end), so the acts of a long
   * batch leave while the rest of it is processed; the commit still waits for every write. Default 64.
   */
  writeEveryRecords?: number;
  /**
   * Batches processed whose writes, store flushes or commit are still pending (default 1: a batch is processed only
   * once the one before it committed). Above 1, the next batch is processed while earlier ones wait for their I/O;
   * each still commits only after its own writes, so offsets never run ahead of the acts they caused. Use it where
   * the stores do not checkpoint the offsets their state covers (a store flushed for one batch would then also hold
   * the effects of the batches processed after it), e.g. state rebuilt from the input after a rebalance.
   */
  maxUncommittedBatches?: number;
}

export type TopologyState = 'starting' | 'running' | 'draining' | 'closed' | 'failed';

/** Counters of a running topology (a live view). */
export interface TopologyStats {
  readonly state: TopologyState;
  batches: number;
  records: number;
  commits: number;
  /** Messages written, by sink name. */
  emitted: Record<string, number>;
  /** Failures, by stage name (whatever their routing). */
  failures: Record<string, number>;
  deadLettered: number;
  skipped: number;
  /** Batches received but not yet processed. */
  queued: number;
  /** True while a batch waits for its sink writes, store flushes or commit. */
  inFlight: boolean;
  /** Batches waiting for their sink writes, store flushes or commit. */
  uncommitted: number;
  /** Why the topology failed, if it did. */
  error: unknown;
}

/** A topology running over its edges (nats.js-like lifecycle). */
export interface RunningTopology {
  readonly topology: Topology;
  /** Resolves when the topology stops (drain or close); rejects with the error that failed it. */
  readonly closed: Promise<void>;
  readonly stats: Readonly<TopologyStats>;
  /** Resolves once every batch received so far is processed and committed. */
  idle(): Promise<void>;
  /** Stops taking batches, finishes and commits those received, closes the sources; rejects if the topology failed. */
  drain(): Promise<void>;
  /** Stops now: queued and in-flight batches are abandoned uncommitted (they are read again after a restart). */
  close(): Promise<void>;
}

interface Job {
  batch: SourceBatch<unknown>;
  inputs: Subject<StageRecord<unknown>>[];
}

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as Promise<unknown> | undefined)?.then === 'function';
}

function resolveEdges<T>(kind: string, names: readonly string[], given: Readonly<Record<string, T>>): void {
  const missing = names.filter((n) => given[n] === undefined);
  if (missing.length > 0) throw new ConfigError(`startTopology: no ${kind} given for ${missing.join(', ')}`);
}

/**
 * Runs a topology: subscribes every source's batches, pushes each record through the stages in order, writes the
 * batch's outputs to the sinks (every `writeEveryRecords` records, so a long batch's acts do not wait for its end),
 * flushes the stores, and only then commits the batch (at-least-once: offsets never
 * run ahead of the acts they caused). Batches are processed one at a time in arrival order; with
 * `maxUncommittedBatches` above 1, the next one is processed while earlier ones wait for their writes and commit.
 * On a transport whose `write`, `flush` and `commit` return no promise (the in-memory bus), a batch is processed to
 * its commit on the delivering call's stack: publishing a record runs the topology before `publish` returns.
 */
export function startTopology(topology: Topology, options: StartTopologyOptions): RunningTopology {
  const { sources, sinks, stores, scheduler } = options;
  resolveEdges(
    'source',
    topology.sources.map((s) => s.name),
    sources,
  );
  resolveEdges(
    'sink',
    topology.sinks.map((s) => s.name),
    sinks,
  );
  resolveEdges(
    'store',
    topology.stores.map((s) => s.name),
    stores,
  );
  const policies = new Map<string, Policy>();
  for (const p of options.policies ?? []) {
    if (policies.has(p.name)) throw new ConfigError(`startTopology: policy ${p.name} given twice`);
    policies.set(p.name, p);
  }
  const builders = { ...STAGE_BUILDERS, ...options.stageBuilders };
  const decoders = options.decoders ?? engineDecoders();
  const encoders = options.encoders ?? {};
  const now = (): number => scheduler.now();
  const storeList = topology.stores.map((s) => stores[s.name]!);
  const writeEveryRecords = options.writeEveryRecords ?? 64;
  // only a conflating stage reads `keyFollows`: without one, a batch is not scanned for repeated keys
  const marksKeys = topology.stages.some((s) => s.options?.conflate === true);
  if (!Number.isInteger(writeEveryRecords) || writeEveryRecords < 1) {
    throw new ConfigError(`startTopology: writeEveryRecords must be a positive integer, got ${writeEveryRecords}`);
  }
  const maxUncommitted = options.maxUncommittedBatches ?? 1;
  if (!Number.isInteger(maxUncommitted) || maxUncommitted < 1) {
    throw new ConfigError(`startTopology: maxUncommittedBatches must be a positive integer, got ${maxUncommitted}`);
  }

  const stats: TopologyStats = {
    state: 'starting',
    batches: 0,
    records: 0,
    commits: 0,
    emitted: Object.fromEntries(topology.sinks.map((s) => [s.name, 0])),
    failures: Object.fromEntries(topology.stages.map((s) => [s.name, 0])),
    deadLettered: 0,
    skipped: 0,
    queued: 0,
    inFlight: false,
    uncommitted: 0,
    error: undefined,
  };
  const setState = (state: TopologyState): void => {
    (stats as { state: TopologyState }).state = state;
  };

  let outputs: Map<string, SinkMessage<unknown>[]> | null = null;
  let failedBy: { error: unknown } | null = null;
  const collect = (sink: string, message: SinkMessage<unknown>): void => {
    if (outputs === null) throw new ProgrammerError(`output for sink ${sink} outside a batch`);
    const list = outputs.get(sink);
    if (list === undefined) outputs.set(sink, [message]);
    else list.push(message);
  };

  const inputs = new Map<string, Subject<StageRecord<unknown>>>();
  for (const name of topology.stageOrder) inputs.set(name, new Subject());
  const internal: Subscription[] = [];

  const dlqSink = topology.deadLetterSink === undefined ? undefined : topology.sink(topology.deadLetterSink);
  const failures = new Subject<StageFailure>();
  if (dlqSink !== undefined) {
    const encode = encoders.deadLetter;
    internal.push(
      failures.pipe(deadLetter({ destination: dlqSink.destination, now, ...(encode ? { encode } : {}) })).subscribe({
        next: (message) => {
          stats.deadLettered++;
          collect(dlqSink.name, message);
        },
        error: (err: unknown) => fail(err),
      }),
    );
  }
  const onFailure = (stage: StageNode, f: StageFailure): void => {
    stats.failures[stage.name] = (stats.failures[stage.name] ?? 0) + 1;
    if (stage.onError === 'skip') stats.skipped++;
    else if (stage.onError === 'dead-letter') failures.next(f);
    else if (failedBy === null) failedBy = { error: f.error };
  };

  for (const name of topology.stageOrder) {
    const stage = topology.stage(name)!;
    const builder = builders[stage.kind];
    if (builder === undefined) {
      throw new ConfigError(`stage ${name}: unknown kind ${stage.kind}; known: ${Object.keys(builders).join(', ')}`);
    }
    const ctx: StageContext = {
      topology,
      stage,
      store<V>(storeName: string): Store<V> {
        if (!(stage.stores ?? []).includes(storeName)) {
          throw new ConfigError(`stage ${name}: uses store ${storeName} but does not list it`);
        }
        return stores[storeName] as Store<V>;
      },
      policy(policyName: string): Policy {
        const policy = policies.get(policyName);
        if (policy === undefined) {
          throw new ConfigError(
            `stage ${name}: no policy ${policyName} given; given: ${[...policies.keys()].join(', ')}`,
          );
        }
        return policy;
      },
      now,
      decoders,
      encoders,
    };
    const operator = builder(ctx);
    const downstream = topology.downstreamOf(name).map((d) => inputs.get(d)!);
    const sinkOutputs = stage.outputs ?? [];
    internal.push(
      inputs
        .get(name)!
        .pipe(operator)
        .subscribe({
          next: (item: StageOutput<unknown>) => {
            if (isFailure(item)) {
              onFailure(stage, item);
              return;
            }
            for (const d of downstream) d.next(item);
            for (const s of sinkOutputs) collect(s, item.value as SinkMessage<unknown>);
          },
          error: (err: unknown) => fail(err),
        }),
    );
  }

  const queue: Job[] = [];
  let busy = false;
  let idleWaiters: (() => void)[] = [];
  const sourceSubscriptions: Subscription[] = [];
  let resolveClosed!: () => void;
  let rejectClosed!: (err: unknown) => void;
  const closed = new Promise<void>((resolve, reject) => {
    resolveClosed = resolve;
    rejectClosed = reject;
  });
  closed.catch(() => {});

  const active = (): boolean => stats.state === 'running' || stats.state === 'draining' || stats.state === 'starting';

  /** Nothing being processed, queued or waiting for its commit. */
  const quiet = (): boolean => !busy && queue.length === 0 && stats.uncommitted === 0;

  const wakeIdle = (): void => {
    if (!quiet()) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  const stopSources = (): Promise<unknown> => {
    for (const s of sourceSubscriptions.splice(0)) s.unsubscribe();
    return Promise.allSettled(topology.sources.map((s) => sources[s.name]!.close()));
  };

  const finish = (state: 'closed' | 'failed', error?: unknown): void => {
    if (stats.state === 'closed' || stats.state === 'failed') return;
    setState(state);
    queue.length = 0;
    stats.queued = 0;
    for (const s of internal.splice(0)) s.unsubscribe();
    const stopped = stopSources();
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
    if (state === 'failed') {
      stats.error = error;
      void stopped.then(() => rejectClosed(error));
    } else void stopped.then(() => resolveClosed());
  };
  const fail = (err: unknown): void => finish('failed', err);

  const commitStep = (batch: SourceBatch<unknown>): Promise<void> | undefined => {
    if (!active()) return undefined;
    const flushes: Promise<unknown>[] = [];
    for (const store of storeList) {
      const r = store.flush();
      if (isPromise(r)) flushes.push(r);
    }
    const commit = (): Promise<void> | undefined => {
      if (!active()) return undefined;
      const r = batch.commit();
      if (isPromise(r)) {
        return r.then(() => {
          stats.commits++;
        });
      }
      stats.commits++;
      return undefined;
    };
    return flushes.length === 0 ? commit() : Promise.all(flushes).then(commit);
  };

  /** Hands the outputs collected so far to their sinks; a write's promise joins `writes`. */
  const writeOutputs = (writes: Promise<unknown>[]): void => {
    const produced = outputs;
    if (produced === null || produced.size === 0) return;
    outputs = new Map();
    for (const [sinkName, messages] of produced) {
      const r = sinks[sinkName]!.write(messages);
      stats.emitted[sinkName] = (stats.emitted[sinkName] ?? 0) + messages.length;
      if (isPromise(r)) writes.push(r);
    }
  };

  const processBatch = (job: Job): Promise<void> | undefined => {
    outputs = new Map();
    const writes: Promise<unknown>[] = [];
    try {
      let sinceWrite = 0;
      const records = job.batch.records;
      const follows = marksKeys ? keysFollowing(records) : null;
      for (let i = 0; i < records.length; i++) {
        const item = toStageRecord(records[i]!, follows?.[i] === true);
        for (const input of job.inputs) input.next(item);
        stats.records++;
        if (failedBy !== null) {
          fail(failedBy.error);
          return undefined;
        }
        if (!active()) return undefined;
        if (++sinceWrite === writeEveryRecords) {
          sinceWrite = 0;
          writeOutputs(writes);
        }
      }
      writeOutputs(writes);
    } finally {
      stats.batches++;
      outputs = null;
    }
    if (writes.length === 0) return commitStep(job.batch);
    return Promise.all(writes).then(() => commitStep(job.batch));
  };

  const settled = (): void => {
    stats.uncommitted--;
    stats.inFlight = stats.uncommitted > 0;
  };

  const pump = (): void => {
    busy = true;
    try {
      while (queue.length > 0 && active() && stats.uncommitted < maxUncommitted) {
        const job = queue.shift()!;
        stats.queued = queue.length;
        const pending = processBatch(job);
        if (pending !== undefined) {
          stats.uncommitted++;
          stats.inFlight = true;
          pending.then(
            () => {
              settled();
              if (!busy) pump();
            },
            (err: unknown) => {
              settled();
              fail(err);
            },
          );
        }
      }
    } catch (err) {
      outputs = null;
      busy = false;
      fail(err);
      return;
    }
    busy = false;
    wakeIdle();
    if (stats.state === 'draining' && quiet()) finish('closed');
  };

  const subscribeSources = (): void => {
    if (stats.state === 'draining') finish('closed');
    if (stats.state !== 'starting') return;
    setState('running');
    for (const node of topology.sources) {
      const jobInputs = topology.downstreamOf(node.name).map((d) => inputs.get(d)!);
      sourceSubscriptions.push(
        sources[node.name]!.batches().subscribe({
          next: (batch) => {
            if (stats.state !== 'running') return;
            queue.push({ batch, inputs: jobInputs });
            stats.queued = queue.length;
            if (!busy) pump();
          },
          error: (err: unknown) => fail(err),
        }),
      );
    }
  };

  const restores: Promise<unknown>[] = [];
  try {
    for (const store of storeList) {
      const r = store.restore();
      if (isPromise(r)) restores.push(r);
    }
  } catch (err) {
    fail(err);
  }
  if (restores.length === 0) subscribeSources();
  else Promise.all(restores).then(subscribeSources, fail);

  return {
    topology,
    closed,
    stats,
    idle: () => (!active() || quiet() ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))),
    drain: () => {
      if (active()) {
        setState('draining');
        for (const s of sourceSubscriptions.splice(0)) s.unsubscribe();
        if (quiet()) finish('closed');
      }
      return closed;
    },
    close: () => {
      finish('closed');
      return closed.catch(() => {});
    },
  };
}
