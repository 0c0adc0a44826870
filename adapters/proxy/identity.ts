/** Who makes an LLM call: the agent, its session and its workload (DESIGN §3). */
export interface AgentIdentity {
  workloadId: string;
  sessionId: string;
  agentId: string;
}

/** Where a call's identity came from; `none` when neither headers nor `user` named an agent and a session. */
export type IdentitySource = 'headers' | 'user' | 'headers+user' | 'none';

/** Identity fields given by one source; any may be missing. */
export interface PartialIdentity {
  workloadId?: string;
  sessionId?: string;
  agentId?: string;
}

export const AGENT_HEADER = 'x-agent-id';
export const SESSION_HEADER = 'x-session-id';
export const WORKLOAD_HEADER = 'x-workload-id';

const MAX_ID_LENGTH = 256;

function clean(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed.length > 0 && trimmed.length <= MAX_ID_LENGTH ? trimmed : undefined;
}

function partial(workloadId: unknown, sessionId: unknown, agentId: unknown): PartialIdentity {
  const out: PartialIdentity = {};
  const w = clean(workloadId);
  const s = clean(sessionId);
  const a = clean(agentId);
  if (w !== undefined) out.workloadId = w;
  if (s !== undefined) out.sessionId = s;
  if (a !== undefined) out.agentId = a;
  return out;
}

/** Identity fields from `x-agent-id`, `x-session-id`, `x-workload-id` (node's lower-cased header record). */
export function identityFromHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): PartialIdentity {
  const first = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return partial(first(WORKLOAD_HEADER), first(SESSION_HEADER), first(AGENT_HEADER));
}

/**
 * Identity fields from the OpenAI `user` field. Accepted forms:
 * - `workload/session/agent` or `session/agent` (slash-separated; ids cannot contain `/` in this form);
 * - a JSON object `{"workload": ..., "session": ..., "agent": ...}` (also `workloadId`, `sessionId`, `agentId`).
 * Anything else (a plain end-user id) names nobody.
 */
export function identityFromUser(user: unknown): PartialIdentity {
  if (typeof user !== 'string') return {};
  const text = user.trim();
  if (text.startsWith('{')) {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      if (parsed === null || typeof parsed !== 'object') return {};
      return partial(
        parsed.workload ?? parsed.workloadId,
        parsed.session ?? parsed.sessionId,
        parsed.agent ?? parsed.agentId,
      );
    } catch {
      return {};
    }
  }
  const parts = text.split('/');
  if (parts.length === 3) return partial(parts[0], parts[1], parts[2]);
  if (parts.length === 2) return partial(undefined, parts[0], parts[1]);
  return {};
}

/**
 * Merges header and `user` fields (headers win field by field). A call is tagged when an agent and a session are
 * known; the workload defaults to `defaultWorkloadId`.
 */
export function resolveIdentity(
  fromHeaders: PartialIdentity,
  fromUser: PartialIdentity,
  defaultWorkloadId: string,
): { identity: AgentIdentity | null; source: IdentitySource } {
  const agentId = fromHeaders.agentId ?? fromUser.agentId;
  const sessionId = fromHeaders.sessionId ?? fromUser.sessionId;
  if (agentId === undefined || sessionId === undefined) return { identity: null, source: 'none' };
  const workloadId = fromHeaders.workloadId ?? fromUser.workloadId ?? defaultWorkloadId;
  const usedHeaders = Object.keys(fromHeaders).length > 0;
  const usedUser =
    (fromHeaders.agentId === undefined && fromUser.agentId !== undefined) ||
    (fromHeaders.sessionId === undefined && fromUser.sessionId !== undefined) ||
    (fromHeaders.workloadId === undefined && fromUser.workloadId !== undefined);
  const source: IdentitySource = usedHeaders && usedUser ? 'headers+user' : usedUser ? 'user' : 'headers';
  return { identity: { workloadId, sessionId, agentId }, source };
}
