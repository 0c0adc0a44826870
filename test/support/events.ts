import type { KvEvent, RequestEvent } from '../../schemas/types.js';

/** A RequestEvent with plausible defaults, for tests. */
export function requestEvent(overrides: Partial<RequestEvent> = {}): RequestEvent {
  return {
    eventId: 'r-1',
    requestId: 'req-1',
    engineId: 'e1',
    workloadId: 'w1',
    sessionId: 's1',
    agentId: 'Planner',
    phase: 'FINISHED',
    ts: 100,
    producedAt: 1_000,
    promptTokens: 48,
    cachedTokens: 0,
    blockHashes: [11n, 12n, 13n],
    outputBlockHashes: [],
    outputTokens: 10,
    toolCall: null,
    ...overrides,
  };
}

/** A KvEvent with plausible defaults, for tests. */
export function kvEvent(overrides: Partial<KvEvent> = {}): KvEvent {
  return {
    eventId: 'k-1',
    engineId: 'e1',
    seq: 1,
    ts: 100,
    producedAt: 1_000,
    kind: 'BLOCK_STORED',
    blockHashes: [11n, 12n],
    parentHash: null,
    tokenIds: [],
    medium: 'GPU',
    ...overrides,
  };
}
