import { ConfigError } from '../../core/errors.js';
import type { ActDraft, DecisionPoint, ObservedEvent, Policy, Scores } from '../../policies/policy.js';

/** State of the test-only `echo` policy: plain data, so it survives structuredClone and JSON. */
export interface EchoState {
  events: number;
  storedBlocks: number;
  /** Last agent of each session. */
  lastAgent: Record<string, string>;
  /** Counts of `from>to` agent transitions within sessions. */
  transitions: Record<string, number>;
  /** FNV-1a over every observed eventId in order: differs if an event is missed, repeated or reordered. */
  digest: number;
}

export interface EchoOptions {
  ttlMs?: number;
  pinTtlMs?: number;
  /** Name under which it registers (for tests running two instances). */
  name?: string;
}

function fnv(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * A tiny policy for tests only: counts what it observes and, when a request FINISHES, pins that request's prompt
 * blocks on its engine. It proves the Policy interface carries a policy other than the real ones.
 */
export function createEchoPolicy(options: EchoOptions = {}): Policy<EchoState> {
  const ttlMs = options.ttlMs ?? 1000;
  const pinTtlMs = options.pinTtlMs ?? 500;
  if (!(ttlMs > 0 && pinTtlMs > 0)) throw new ConfigError('echo: ttlMs and pinTtlMs must be positive');
  return {
    name: options.name ?? 'echo',
    createState: () => ({ events: 0, storedBlocks: 0, lastAgent: {}, transitions: {}, digest: 0x811c9dc5 }),
    observe(state, e: ObservedEvent) {
      state.events++;
      state.digest = fnv(state.digest, e.event.eventId);
      if (e.type === 'kv') {
        if (e.event.kind === 'BLOCK_STORED') state.storedBlocks += e.event.blockHashes.length;
        return;
      }
      if (e.event.phase !== 'FINISHED') return;
      const previous = state.lastAgent[e.event.sessionId];
      if (previous !== undefined) {
        const key = `${previous}>${e.event.agentId}`;
        state.transitions[key] = (state.transitions[key] ?? 0) + 1;
      }
      state.lastAgent[e.event.sessionId] = e.event.agentId;
    },
    decisionPoint(_state, e): DecisionPoint | null {
      if (e.type !== 'request' || e.event.phase !== 'FINISHED') return null;
      return { engineId: e.event.engineId, sessionId: e.event.sessionId, now: e.event.ts };
    },
    score: (_state, point): Scores => ({ engineId: point.engineId, now: point.now, changed: [] }),
    predict: () => null,
    act(_state, input): ActDraft[] {
      if (input.cause.type !== 'request') return [];
      return [{ kind: 'pin', ttlMs, pinTtlMs, blockHashes: input.cause.event.blockHashes }];
    },
    stateBytes: (state) => JSON.stringify(state).length,
  };
}
