import { ConfigError } from '../../core/errors.js';
import type { PreparedWorkload } from '../../workloads/types.js';

export interface SessionSelection {
  /** Index (file order) of the first session kept; default 0. */
  from?: number;
  /** Sessions kept from there; default all. */
  count?: number;
  /** Only sessions whose id matches (applied before from/count). */
  filter?: RegExp;
}

/**
 * The workload restricted to some of its sessions, in file order; blocks and hashes are shared with the original.
 * Every engine of a distributed run and the in-memory reference select the same sessions this way.
 */
export function selectSessions(workload: PreparedWorkload, selection: SessionSelection): PreparedWorkload {
  const from = selection.from ?? 0;
  if (!Number.isInteger(from) || from < 0) throw new ConfigError(`sessions from must be an integer ≥ 0, got ${from}`);
  const count = selection.count;
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
    throw new ConfigError(`sessions count must be an integer ≥ 1, got ${count}`);
  }
  const matching =
    selection.filter === undefined
      ? workload.sessions
      : workload.sessions.filter((s) => selection.filter?.test(s.sessionId));
  const sessions = matching.slice(from, count === undefined ? undefined : from + count);
  if (sessions.length === 0) throw new ConfigError(`no session of ${workload.workloadId} is selected`);
  if (sessions.length === workload.sessions.length) return workload;
  return { ...workload, sessions };
}
