import { ConfigError } from '../core/errors.js';
import type { BlockHash, RequestEvent } from '../schemas/types.js';
import type { PreparedSession, PreparedTurn, PreparedWorkload } from '../workloads/types.js';

/** A request event with the position it was read from (for a stable order among equal times). */
export interface RecordedRequest {
  event: RequestEvent;
  /** Position in replay order (Kafka timestamp, event time, topic, partition, offset). */
  position: number;
}

/** One LLM call as the recording shows it. */
interface Call {
  requestId: string;
  sessionKey: string;
  engineId: string;
  agentId: string;
  /** Event time of ARRIVED (else of FINISHED) and its position: the call's place in its session and engine. */
  ts: number;
  position: number;
  promptTokens: number;
  blockHashes: BlockHash[];
  finished: RequestEvent | null;
  arrived: boolean;
}

/** What a recording says about its calls beyond the workload itself. */
export interface RebuiltWorkload {
  workload: PreparedWorkload;
  /** Engine ids in natural order; sessions were assigned to the simulator's engines in this order. */
  engineIds: string[];
  /** Most sessions open at once on one engine (first arrival to last finish): the concurrency the run had. */
  inferredConcurrency: number;
  /** LLM calls rebuilt. */
  calls: number;
  /** Calls that arrived but never finished inside the range (their output is unknown: no output blocks). */
  unfinished: number;
  /** Calls seen only by their FINISHED event (they arrived before the range). */
  finishedOnly: number;
  /** Prompt tokens and GPU-cached tokens of the finished calls, as the engines reported them. */
  reported: { promptTokens: number; cachedTokens: number; tokenHitRate: number };
}

export interface RequestsToWorkloadOptions {
  /** Workload to rebuild when the recording holds several; default the only one. */
  workloadId?: string;
  /** `source` of the workload (reports). */
  source: string;
}

const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

/**
 * Rebuilds a PreparedWorkload from recorded RequestEvents, so that the recorded requests can be re-simulated under
 * other policies and budgets: sessions are the sessionIds (of one workload), their turns the calls in order of
 * arrival; prompt blocks are the events' `blockHashes` and output blocks FINISHED's `outputBlockHashes`, mapped to
 * dense block ids in order of first appearance; prompt and output tokens, agent and tool call come from the events.
 * Sessions are ordered so that `buildRequestOrder(..., { engines: engineIds.length })` gives every engine the
 * sessions it served, in the order it started them: the k-th session started on engine e becomes session
 * k · E + e. Duplicate events (at-least-once delivery) count once.
 */
export function requestsToWorkload(
  requests: readonly RecordedRequest[],
  options: RequestsToWorkloadOptions,
): RebuiltWorkload {
  const workloads = [...new Set(requests.map((r) => r.event.workloadId))];
  const workloadId = options.workloadId ?? (workloads.length === 1 ? workloads[0] : undefined);
  if (workloadId === undefined) {
    throw new ConfigError(
      workloads.length === 0
        ? 'the recording holds no request events: nothing to re-simulate'
        : `the recording holds several workloads (${workloads.join(', ')}); choose one with --workload-id`,
    );
  }
  if (!workloads.includes(workloadId)) {
    throw new ConfigError(
      `workload ${workloadId} is not in the recording (it holds ${workloads.join(', ') || 'none'})`,
    );
  }

  const calls = new Map<string, Call>();
  const sorted = requests.filter((r) => r.event.workloadId === workloadId).sort((a, b) => a.position - b.position);
  for (const { event, position } of sorted) {
    if (event.phase !== 'ARRIVED' && event.phase !== 'FINISHED') continue;
    const id = `${event.sessionId}\u0000${event.requestId}`;
    let call = calls.get(id);
    if (call === undefined) {
      call = {
        requestId: event.requestId,
        sessionKey: event.sessionId,
        engineId: event.engineId,
        agentId: event.agentId,
        ts: event.ts,
        position,
        promptTokens: event.promptTokens,
        blockHashes: event.blockHashes,
        finished: null,
        arrived: false,
      };
      calls.set(id, call);
    }
    if (event.phase === 'ARRIVED' && !call.arrived) {
      call.arrived = true;
      call.ts = event.ts;
      call.position = position;
      call.engineId = event.engineId;
    } else if (event.phase === 'FINISHED' && call.finished === null) {
      call.finished = event;
    }
  }

  const bySession = new Map<string, Call[]>();
  for (const call of calls.values()) {
    const list = bySession.get(call.sessionKey);
    if (list === undefined) bySession.set(call.sessionKey, [call]);
    else list.push(call);
  }
  for (const list of bySession.values()) list.sort((a, b) => a.ts - b.ts || a.position - b.position);

  const engineIds = [...new Set([...bySession.values()].map((list) => (list[0] as Call).engineId))].sort(naturalOrder);
  const perEngine = engineIds.map((engineId) =>
    [...bySession.entries()]
      .filter(([, list]) => (list[0] as Call).engineId === engineId)
      .sort(
        ([, a], [, b]) => (a[0] as Call).ts - (b[0] as Call).ts || (a[0] as Call).position - (b[0] as Call).position,
      ),
  );
  const orderedSessions: [string, Call[]][] = [];
  for (let k = 0; ; k++) {
    let any = false;
    for (const list of perEngine) {
      const entry = list[k];
      if (entry !== undefined) {
        orderedSessions.push(entry);
        any = true;
      }
    }
    if (!any) break;
  }

  const ids = new Map<BlockHash, number>();
  const hashes: BlockHash[] = [];
  const idsOf = (list: readonly BlockHash[]): Uint32Array => {
    const out = new Uint32Array(list.length);
    for (let i = 0; i < list.length; i++) {
      const h = list[i] as BlockHash;
      let id = ids.get(h);
      if (id === undefined) {
        id = hashes.length;
        ids.set(h, id);
        hashes.push(h);
      }
      out[i] = id;
    }
    return out;
  };

  const agents: string[] = [];
  const seenAgents = new Set<string>();
  let unfinished = 0;
  let finishedOnly = 0;
  let reportedPrompt = 0;
  let reportedCached = 0;
  const sessions: PreparedSession[] = orderedSessions.map(([sessionId, list]) => ({
    sessionId,
    turns: list.map((call, turn): PreparedTurn => {
      if (!seenAgents.has(call.agentId)) {
        seenAgents.add(call.agentId);
        agents.push(call.agentId);
      }
      const f = call.finished;
      if (f === null) unfinished++;
      else {
        reportedPrompt += f.promptTokens;
        reportedCached += f.cachedTokens;
      }
      if (!call.arrived) finishedOnly++;
      return {
        turn,
        agentId: call.agentId,
        llm: true,
        promptTokens: call.promptTokens,
        promptBlocks: idsOf(call.blockHashes),
        outputTokens: f?.outputTokens ?? 0,
        outputBlocks: idsOf(f?.outputBlockHashes ?? []),
        anchorBlocks: 0,
        toolCall: f?.toolCall ?? null,
        phase: null,
      };
    }),
  }));
  setAnchors(sessions);

  return {
    workload: {
      workloadId,
      agents,
      sessions,
      hashes: BigInt64Array.from(hashes),
      source: options.source,
    },
    engineIds,
    inferredConcurrency: inferConcurrency(bySession),
    calls: calls.size,
    unfinished,
    finishedOnly,
    reported: {
      promptTokens: reportedPrompt,
      cachedTokens: reportedCached,
      tokenHitRate: reportedPrompt > 0 ? reportedCached / reportedPrompt : 0,
    },
  };
}

/** An agent's anchor: the prefix its first prompts share across sessions (0 when it spoke in one session only). */
function setAnchors(sessions: PreparedSession[]): void {
  const firstPrompt = new Map<string, Uint32Array[]>();
  for (const s of sessions) {
    const seen = new Set<string>();
    for (const t of s.turns) {
      if (seen.has(t.agentId)) continue;
      seen.add(t.agentId);
      const list = firstPrompt.get(t.agentId);
      if (list === undefined) firstPrompt.set(t.agentId, [t.promptBlocks]);
      else list.push(t.promptBlocks);
    }
  }
  const anchor = new Map<string, number>();
  for (const [agent, prompts] of firstPrompt) {
    if (prompts.length < 2) continue;
    let n = Math.min(...prompts.map((p) => p.length));
    const head = prompts[0] as Uint32Array;
    for (const p of prompts) {
      let k = 0;
      while (k < n && p[k] === head[k]) k++;
      n = k;
    }
    anchor.set(agent, n);
  }
  for (const s of sessions) {
    for (const t of s.turns) t.anchorBlocks = Math.min(anchor.get(t.agentId) ?? 0, t.promptBlocks.length);
  }
}

/**
 * Most sessions open at once on one engine: a session is open from its first call's arrival to its last call's
 * finish (an unfinished call keeps it open to the end). A session that starts when another ends does not overlap it.
 */
function inferConcurrency(bySession: Map<string, Call[]>): number {
  const marks = new Map<string, { at: number; delta: number }[]>();
  for (const list of bySession.values()) {
    const first = list[0] as Call;
    let end = Number.POSITIVE_INFINITY;
    const last = list[list.length - 1] as Call;
    if (list.every((c) => c.finished !== null)) end = (last.finished as RequestEvent).ts;
    let engine = marks.get(first.engineId);
    if (engine === undefined) {
      engine = [];
      marks.set(first.engineId, engine);
    }
    engine.push({ at: first.ts, delta: 1 }, { at: end, delta: -1 });
  }
  let best = 1;
  for (const list of marks.values()) {
    list.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let open = 0;
    for (const m of list) {
      open += m.delta;
      if (open > best) best = open;
    }
  }
  return best;
}
