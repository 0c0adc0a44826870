import { ConfigError } from '../core/errors.js';
import type { BlockHash, RequestEvent } from '../schemas/types.js';
import type { ActDraft, ActInput, DecisionPoint, ObservedEvent, Policy, Scores } from './policy.js';

/**
 * Options of the Continuum-like baseline. `pinTtlMs` 'auto' pins for the median of the tool-call gaps observed for
 * the same tool (else for any tool), and `fallbackPinTtlMs` until `minGapSamples` gaps are known.
 */
export interface ContinuumOptions {
  /** How long a context stays pinned after its step ends with a tool call (ms), or 'auto'. Default 'auto'. */
  pinTtlMs: number | 'auto';
  /** Pin ttl before enough gaps were observed ('auto' only). Default 5000 ms. */
  fallbackPinTtlMs: number;
  /** Gaps needed before their median is used ('auto' only). Default 3. */
  minGapSamples: number;
  /** Recent gaps kept per tool (and over all tools). Default 64. */
  gapWindow: number;
  /** Sessions waiting on a tool that are tracked at once (the oldest is dropped beyond). Default 4096. */
  maxPendingSessions: number;
}

export const DEFAULT_CONTINUUM_OPTIONS: ContinuumOptions = {
  pinTtlMs: 'auto',
  fallbackPinTtlMs: 5000,
  minGapSamples: 3,
  gapWindow: 64,
  maxPendingSessions: 4096,
};

/** Key of the gap window over every tool. */
export const ANY_TOOL = '*';

export interface ContinuumStats {
  pins: number;
  pinnedBlocks: number;
  gapsObserved: number;
}

/** State of the Continuum-like policy (store `policy:continuum`): plain data, nothing in closures. */
export interface ContinuumState {
  options: ContinuumOptions;
  /** Sessions whose latest step ended with a tool call: the tool and the step's finish time. */
  pending: Map<string, { tool: string; finishedAt: number }>;
  /** Recent tool-call gaps (ms, oldest first) per tool name and under `ANY_TOOL`. */
  gaps: Map<string, number[]>;
  stats: ContinuumStats;
}

export function resolveContinuumOptions(given: Partial<ContinuumOptions> = {}): ContinuumOptions {
  const o: ContinuumOptions = { ...DEFAULT_CONTINUUM_OPTIONS, ...given };
  if (o.pinTtlMs !== 'auto' && !(typeof o.pinTtlMs === 'number' && Number.isFinite(o.pinTtlMs) && o.pinTtlMs > 0)) {
    throw new ConfigError(`continuum: pinTtlMs must be 'auto' or a finite number > 0, got ${String(o.pinTtlMs)}`);
  }
  if (!(Number.isFinite(o.fallbackPinTtlMs) && o.fallbackPinTtlMs > 0)) {
    throw new ConfigError(`continuum: fallbackPinTtlMs must be a finite number > 0, got ${o.fallbackPinTtlMs}`);
  }
  for (const name of ['minGapSamples', 'gapWindow', 'maxPendingSessions'] as const) {
    if (!Number.isInteger(o[name]) || o[name] < 1) {
      throw new ConfigError(`continuum: ${name} must be an integer ≥ 1, got ${o[name]}`);
    }
  }
  return o;
}

/**
 * Continuum-like baseline (DESIGN §6, baselines): when a step ends with a tool call, pin the blocks of that step's
 * context (its prompt and output) for a ttl that covers the tool's run, so the agent finds them when it resumes;
 * otherwise the engine stays LRU. Decision points: request finishes with a tool call.
 */
export function createContinuumPolicy(options: Partial<ContinuumOptions> = {}): Policy<ContinuumState> {
  const resolved = resolveContinuumOptions(options);
  return {
    name: 'continuum',
    createState: () => ({
      options: resolved,
      pending: new Map(),
      gaps: new Map(),
      stats: { pins: 0, pinnedBlocks: 0, gapsObserved: 0 },
    }),
    observe: observeContinuum,
    decisionPoint(_state, event): DecisionPoint | null {
      if (event.type !== 'request') return null;
      const ev = event.event;
      if (ev.phase !== 'FINISHED' || ev.toolCall === null) return null;
      return { engineId: ev.engineId, sessionId: ev.sessionId, now: ev.ts };
    },
    score: (_state, point): Scores => ({ engineId: point.engineId, now: point.now, changed: [] }),
    predict: () => null,
    act: actContinuum,
  };
}

/** The pin ttl for a step that called `tool`: the fixed option, or the median of the observed gaps. */
export function pinTtlFor(state: ContinuumState, tool: string): number {
  const o = state.options;
  if (o.pinTtlMs !== 'auto') return o.pinTtlMs;
  for (const key of [tool, ANY_TOOL]) {
    const window = state.gaps.get(key);
    if (window !== undefined && window.length >= o.minGapSamples) return median(window);
  }
  return o.fallbackPinTtlMs;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function observeContinuum(state: ContinuumState, event: ObservedEvent): void {
  if (event.type !== 'request') return;
  const ev = event.event;
  if (ev.phase === 'ARRIVED') observeArrival(state, ev);
  else if (ev.phase === 'FINISHED' && ev.toolCall !== null) {
    state.pending.delete(ev.sessionId);
    state.pending.set(ev.sessionId, { tool: ev.toolCall, finishedAt: ev.ts });
    if (state.pending.size > state.options.maxPendingSessions) {
      const oldest = state.pending.keys().next().value;
      if (oldest !== undefined) state.pending.delete(oldest);
    }
  }
}

function observeArrival(state: ContinuumState, ev: RequestEvent): void {
  const waiting = state.pending.get(ev.sessionId);
  if (waiting === undefined) return;
  state.pending.delete(ev.sessionId);
  const gap = ev.ts - waiting.finishedAt;
  if (!(gap >= 0)) return;
  state.stats.gapsObserved++;
  for (const key of [waiting.tool, ANY_TOOL]) {
    let window = state.gaps.get(key);
    if (window === undefined) {
      window = [];
      state.gaps.set(key, window);
    }
    window.push(gap);
    if (window.length > state.options.gapWindow) window.shift();
  }
}

function actContinuum(state: ContinuumState, input: ActInput): ActDraft[] {
  const cause = input.cause;
  if (cause.type !== 'request' || cause.event.toolCall === null) return [];
  const ev = cause.event;
  const tool = cause.event.toolCall;
  const blockHashes: BlockHash[] = ev.blockHashes.concat(ev.outputBlockHashes);
  if (blockHashes.length === 0) return [];
  const pinTtlMs = pinTtlFor(state, tool);
  state.stats.pins++;
  state.stats.pinnedBlocks += blockHashes.length;
  return [{ kind: 'pin', ttlMs: pinTtlMs, pinTtlMs, blockHashes }];
}
