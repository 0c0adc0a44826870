import { createCacheSagePolicy } from '../../../../policies/cachesage/cachesage-policy.js';
import type { CacheSageOptions } from '../../../../policies/cachesage/options.js';
import type { CacheSageState } from '../../../../policies/cachesage/state.js';
import type { ActDraft, ObservedEvent, Policy } from '../../../../policies/policy.js';
import type { BlockHash, EvictionEntry, KvEvent, RequestEvent } from '../../../../schemas/types.js';
import { kvEvent, requestEvent } from '../../../support/events.js';

/** A distinct fake block hash per label. */
export function h(label: string): BlockHash {
  let x = 1469598103934665603n;
  for (const ch of label) x = BigInt.asIntN(64, (x ^ BigInt(ch.charCodeAt(0))) * 1099511628211n);
  return x;
}

/** Group-chat-like blocks: the agent's system prompt (2 blocks), then one block per earlier message of the session. */
export function promptOf(agent: string, session: string, messages: number): BlockHash[] {
  const blocks = [h(`sys-${agent}-0`), h(`sys-${agent}-1`)];
  for (let i = 0; i < messages; i++) blocks.push(h(`${session}|${agent}|${i}`));
  return blocks;
}

export interface StepActs {
  arrived: ActDraft[];
  stored: ActDraft[];
  finished: ActDraft[];
  prompt: BlockHash[];
  output: BlockHash[];
}

/**
 * Feeds CacheSage the events an engine would publish for each step: ARRIVED, the GPU stores of the new prompt
 * blocks and of the output block, FINISHED; every decision point runs score → predict → act.
 */
export class CacheSageDriver {
  readonly policy: Policy<CacheSageState>;
  state: CacheSageState;
  ts = 0;
  private seq = 0;
  private readonly messages = new Map<string, number>();

  constructor(options: Partial<CacheSageOptions> = {}) {
    this.policy = createCacheSagePolicy(options);
    this.state = this.policy.createState();
  }

  feed(event: ObservedEvent): ActDraft[] {
    const { policy, state } = this;
    policy.observe(state, event);
    const point = policy.decisionPoint(state, event);
    if (point === null) return [];
    const scores = policy.score(state, point);
    const prediction = policy.predict(state, point);
    return policy.act(state, { point, scores, prediction, cause: event });
  }

  request(overrides: Partial<RequestEvent>): ActDraft[] {
    this.ts += 10;
    return this.feed({
      type: 'request',
      event: requestEvent({ eventId: `r${++this.seq}`, ts: this.ts, ...overrides }),
    });
  }

  kv(overrides: Partial<KvEvent>): ActDraft[] {
    return this.feed({
      type: 'kv',
      event: kvEvent({ eventId: `k${++this.seq}`, seq: this.seq, ts: this.ts, ...overrides }),
    });
  }

  /** One step of `agent` in `session`: its prompt holds every earlier message of the session. */
  step(
    session: string,
    agent: string,
    options: { outputTokens?: number; toolCall?: string | null; engineId?: string; workloadId?: string } = {},
  ): StepActs {
    const n = this.messages.get(session) ?? 0;
    const prompt = promptOf(agent, session, n);
    const output = [h(`${session}|${agent}|${n}`)];
    const engineId = options.engineId ?? 'e1';
    const base = {
      sessionId: session,
      agentId: agent,
      requestId: `${session}/${n}`,
      engineId,
      workloadId: options.workloadId ?? 'w1',
      blockHashes: prompt,
      promptTokens: prompt.length * 16 + 5,
    };
    const arrived = this.request({ ...base, phase: 'ARRIVED', outputBlockHashes: [], outputTokens: 0 });
    const stored = [
      ...this.kv({ engineId, blockHashes: prompt, parentHash: null }),
      ...this.kv({ engineId, blockHashes: output, parentHash: prompt[prompt.length - 1] as BlockHash }),
    ];
    const finished = this.request({
      ...base,
      phase: 'FINISHED',
      outputBlockHashes: output,
      outputTokens: options.outputTokens ?? 20,
      toolCall: options.toolCall ?? null,
    });
    this.messages.set(session, n + 1);
    return { arrived, stored, finished, prompt, output };
  }
}

/** Eviction entries of some acts, last one per context id. */
export function entriesOf(acts: readonly ActDraft[]): Map<string, EvictionEntry> {
  const out = new Map<string, EvictionEntry>();
  for (const a of acts) {
    if (a.kind !== 'evict') continue;
    for (const e of a.entries) if (e.contextId !== null) out.set(e.contextId, e);
  }
  return out;
}

/**
 * What an engine hook holds after applying eviction entries in order (`EvictionEntry.fromBlock` semantics):
 * context id → registered blocks; entries that extend a registration it does not hold are counted as skipped.
 */
export class HookRegistrations {
  readonly blocks = new Map<string, BlockHash[]>();
  skipped = 0;

  apply(acts: readonly ActDraft[]): this {
    for (const a of acts) {
      if (a.kind !== 'evict') continue;
      for (const e of a.entries) {
        if (e.contextId === null) continue;
        const from = e.fromBlock ?? 0;
        if (from === 0) {
          if (e.blockHashes.length > 0) this.blocks.set(e.contextId, [...e.blockHashes]);
          continue;
        }
        const base = this.blocks.get(e.contextId);
        if (base === undefined || base.length < from) this.skipped++;
        else this.blocks.set(e.contextId, [...base.slice(0, from), ...e.blockHashes]);
      }
    }
    return this;
  }
}
