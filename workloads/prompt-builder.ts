import { BLOCK_SIZE, blockHashesInto, ROOT_HASH } from '../schemas/block-hash.js';
import { BlockTable } from './block-table.js';
import { EOT_ID, headerTokens, systemBlockTokens } from './llama3-format.js';
import type { PreparedSession, PreparedTurn, PreparedWorkload } from './types.js';

/**
 * How a turn's prompt is laid out (Llama 3 chat format, DESIGN §10):
 * - `group-chat`: BOS + system(agent) + every earlier message of the session, each as
 *   header(speaker) + content + eot, then header(agent) as the generation prompt.
 * - `phase`: the same, but only the earlier messages of the current phase (a maximal run of consecutive messages
 *   with the same `phase`), as in ChatDev's two-agent chats.
 * The output of a turn is its content + eot, so prompt + output is a token prefix of the same agent's next prompt
 * in the same session (or phase).
 */
export type PromptTemplate = 'group-chat' | 'phase';

/** One message of a session, already tokenized. */
export interface TemplateMessage {
  agent: string;
  /** Token ids of the content alone (no header, no end-of-turn). */
  content: ArrayLike<number>;
  phase: string | null;
  toolCall: string | null;
}

export interface TemplateSession {
  sessionId: string;
  messages: TemplateMessage[];
}

/** Input of `buildPreparedWorkload`: sessions of token ids plus the token ids of roles and system prompts. */
export interface BuildPromptsOptions {
  workloadId: string;
  source: string;
  sessions: readonly TemplateSession[];
  template: PromptTemplate;
  /** Token ids of an agent's system prompt (content only). */
  systemPrompt: (agent: string) => ArrayLike<number>;
  /** Token ids of a role name as written in a header (called with "system" and with every agent id). */
  roleName: (role: string) => ArrayLike<number>;
  /** Token ids of the "\n\n" that ends a header. */
  newline: ArrayLike<number>;
  /** Agents whose turns are messages, not LLM calls: their turns get no prompt and no blocks. */
  nonLlmAgents?: ReadonlySet<string>;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const EOT = Uint32Array.of(EOT_ID);
const EMPTY = new Uint32Array(0);

interface ChainContext {
  ids: Uint32Array;
  blocks: number;
  tokens: number;
  consumed: number;
  parent: bigint;
  pending: Uint32Array;
  pendingLen: number;
}

interface TurnSlot {
  ctx: ChainContext | null;
  promptTokens: number;
  promptBlocks: number;
  endBlocks: number;
}

/** Shared scratch of one build: the dense id table and a reusable hash buffer. */
interface BuildState {
  table: BlockTable;
  scratch: BigInt64Array;
  words: Uint32Array;
}

function append(ctx: ChainContext, tokens: ArrayLike<number>): void {
  const need = ctx.pendingLen + tokens.length;
  if (need > ctx.pending.length) {
    const next = new Uint32Array(Math.max(need, ctx.pending.length * 2));
    next.set(ctx.pending.subarray(0, ctx.pendingLen));
    ctx.pending = next;
  }
  ctx.pending.set(tokens as ArrayLike<number>, ctx.pendingLen);
  ctx.pendingLen = need;
  ctx.tokens += tokens.length;
}

function flush(ctx: ChainContext, state: BuildState): void {
  const full = Math.floor(ctx.pendingLen / BLOCK_SIZE);
  if (full === 0) return;
  if (state.scratch.length < full) {
    state.scratch = new BigInt64Array(Math.max(full, state.scratch.length * 2));
    state.words = new Uint32Array(state.scratch.buffer);
  }
  blockHashesInto(ctx.pending.subarray(0, full * BLOCK_SIZE), state.scratch, ctx.parent);
  if (ctx.blocks + full > ctx.ids.length) {
    const next = new Uint32Array(Math.max(ctx.blocks + full, ctx.ids.length * 2));
    next.set(ctx.ids.subarray(0, ctx.blocks));
    ctx.ids = next;
  }
  for (let i = 0; i < full; i++) {
    let lo: number;
    let hi: number;
    if (LITTLE_ENDIAN) {
      lo = state.words[2 * i] as number;
      hi = state.words[2 * i + 1] as number;
    } else {
      const u = BigInt.asUintN(64, state.scratch[i] as bigint);
      lo = Number(u & 0xffffffffn);
      hi = Number(u >> 32n);
    }
    ctx.ids[ctx.blocks++] = state.table.idOf(lo, hi);
  }
  ctx.parent = state.scratch[full - 1] as bigint;
  ctx.pending.copyWithin(0, full * BLOCK_SIZE, ctx.pendingLen);
  ctx.pendingLen -= full * BLOCK_SIZE;
}

/**
 * Lays out every turn's prompt with the template and turns it into block ids: each (session, agent) context (per
 * phase under `phase`) hashes its token stream once, incrementally, so a prompt's blocks are a prefix of the
 * context's blocks. `promptBlocks`/`outputBlocks` are views into one array per context: treat them as read-only.
 */
export function buildPreparedWorkload(options: BuildPromptsOptions): PreparedWorkload {
  const nonLlm = options.nonLlmAgents ?? new Set<string>();
  const state: BuildState = { table: new BlockTable(), scratch: new BigInt64Array(1024), words: EMPTY };
  state.words = new Uint32Array(state.scratch.buffer);
  const headers = new Map<string, Uint32Array>();
  const systems = new Map<string, Uint32Array>();
  const header = (role: string): Uint32Array => {
    let h = headers.get(role);
    if (!h) {
      h = headerTokens(options.roleName(role), options.newline);
      headers.set(role, h);
    }
    return h;
  };
  const systemBlock = (agent: string): Uint32Array => {
    let s = systems.get(agent);
    if (!s) {
      s = systemBlockTokens(header('system'), options.systemPrompt(agent));
      systems.set(agent, s);
    }
    return s;
  };

  const agents: string[] = [];
  const seenAgents = new Set<string>();
  const sessions: PreparedSession[] = [];
  for (const session of options.sessions) {
    const contexts = new Map<string, ChainContext>();
    const slots: TurnSlot[] = [];
    const msgs = session.messages;
    let segmentStart = 0;
    for (let t = 0; t < msgs.length; t++) {
      const m = msgs[t] as TemplateMessage;
      if (!seenAgents.has(m.agent)) {
        seenAgents.add(m.agent);
        agents.push(m.agent);
      }
      if (options.template === 'phase' && t > 0 && m.phase !== (msgs[t - 1] as TemplateMessage).phase) {
        segmentStart = t;
        contexts.clear();
      }
      if (nonLlm.has(m.agent)) {
        slots.push({ ctx: null, promptTokens: 0, promptBlocks: 0, endBlocks: 0 });
        continue;
      }
      let ctx = contexts.get(m.agent);
      if (!ctx) {
        ctx = {
          ids: new Uint32Array(64),
          blocks: 0,
          tokens: 0,
          consumed: segmentStart,
          parent: ROOT_HASH,
          pending: new Uint32Array(1024),
          pendingLen: 0,
        };
        append(ctx, systemBlock(m.agent));
        contexts.set(m.agent, ctx);
      }
      for (; ctx.consumed < t; ctx.consumed++) {
        const prev = msgs[ctx.consumed] as TemplateMessage;
        append(ctx, header(prev.agent));
        append(ctx, prev.content);
        append(ctx, EOT);
      }
      append(ctx, header(m.agent));
      const promptTokens = ctx.tokens;
      append(ctx, m.content);
      append(ctx, EOT);
      ctx.consumed = t + 1;
      flush(ctx, state);
      slots.push({ ctx, promptTokens, promptBlocks: Math.floor(promptTokens / BLOCK_SIZE), endBlocks: ctx.blocks });
    }
    const turns: PreparedTurn[] = msgs.map((m, t) => {
      const slot = slots[t] as TurnSlot;
      const outputTokens = m.content.length + 1;
      if (!slot.ctx) {
        return {
          turn: t,
          agentId: m.agent,
          llm: false,
          promptTokens: 0,
          promptBlocks: EMPTY,
          outputTokens,
          outputBlocks: EMPTY,
          anchorBlocks: 0,
          toolCall: m.toolCall,
          phase: m.phase,
        };
      }
      return {
        turn: t,
        agentId: m.agent,
        llm: true,
        promptTokens: slot.promptTokens,
        promptBlocks: slot.ctx.ids.subarray(0, slot.promptBlocks),
        outputTokens,
        outputBlocks: slot.ctx.ids.subarray(slot.promptBlocks, slot.endBlocks),
        anchorBlocks: Math.floor(systemBlock(m.agent).length / BLOCK_SIZE),
        toolCall: m.toolCall,
        phase: m.phase,
      };
    });
    sessions.push({ sessionId: session.sessionId, turns });
  }
  return {
    workloadId: options.workloadId,
    agents,
    sessions,
    hashes: state.table.hashes(),
    source: options.source,
  };
}
