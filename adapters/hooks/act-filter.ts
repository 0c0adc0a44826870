import { ConfigError } from '../../core/errors.js';
import type { Act } from '../../schemas/types.js';
import type { HookCounters, RejectReason } from './engine-hooks.js';
import { actProblem } from './validate-act.js';

/** The verdict on one act: accept it (and apply it), or the reason it was rejected with a detail for logs. */
export type ActVerdict = { accepted: true; act: Act } | { accepted: false; reason: RejectReason; detail: string };

/**
 * The engine side's guard (DESIGN §9): every act is a hint, and stale or foreign ones are dropped, never applied.
 * `check` rejects, in this order: malformed (missing or invalid fields), foreign (another engine), stale-seq (seq not
 * newer than the last accepted one of the same kind and policy: a duplicate or an overtaken act), stale-ttl
 * (`now() > issuedAt + ttlMs`). An accepted act is counted as applied: the caller applies every act accepted.
 */
export interface ActFilter {
  readonly engineId: string;
  check(act: unknown): ActVerdict;
  readonly counters: HookCounters;
}

export interface ActFilterOptions {
  engineId: string;
  /** The engine's clock, same time base as the acts' `issuedAt` (simulated time in the simulator). */
  now: () => number;
}

export function createHookCounters(): HookCounters {
  return {
    applied: { evict: 0, prefetch: 0, pin: 0 },
    rejected: { foreign: 0, 'stale-ttl': 0, 'stale-seq': 0, malformed: 0 },
  };
}

export function createActFilter(options: ActFilterOptions): ActFilter {
  const { engineId, now } = options;
  if (typeof engineId !== 'string' || engineId.length === 0) throw new ConfigError('act filter: engineId is required');
  if (typeof now !== 'function') throw new ConfigError('act filter: now() is required');
  const counters = createHookCounters();
  const lastSeq = new Map<string, number>();
  const reject = (reason: RejectReason, detail: string): ActVerdict => {
    counters.rejected[reason]++;
    return { accepted: false, reason, detail };
  };
  return {
    engineId,
    counters,
    check(value) {
      const problem = actProblem(value);
      if (problem !== null) return reject('malformed', problem);
      const act = value as Act;
      if (act.engineId !== engineId) return reject('foreign', `act for engine ${act.engineId}`);
      const key = `${act.kind}|${act.policy}`;
      const last = lastSeq.get(key);
      if (last !== undefined && act.seq <= last) return reject('stale-seq', `seq ${act.seq} <= last applied ${last}`);
      const t = now();
      if (t > act.issuedAt + act.ttlMs) return reject('stale-ttl', `expired at ${act.issuedAt + act.ttlMs}, now ${t}`);
      lastSeq.set(key, act.seq);
      counters.applied[act.kind]++;
      return { accepted: true, act };
    },
  };
}
