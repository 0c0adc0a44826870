import { ConfigError } from '../core/errors.js';
import { Prng } from './prng.js';
import { buildPreparedWorkload, type TemplateSession } from './prompt-builder.js';
import type { PreparedWorkload } from './types.js';

/** An inclusive integer range, drawn uniformly. */
export interface LengthRange {
  min: number;
  max: number;
}

/** Agent transition structure: explicit row-stochastic weights, or generated from the seed. */
export type TransitionSpec = 'structured' | 'random' | readonly (readonly number[])[];

/** Options of the synthetic generator. Every random choice comes from `seed`. */
export interface SyntheticOptions {
  seed: number;
  /** Agent count (named `agent-0` ...) or the agent names. */
  agents: number | readonly string[];
  /**
   * `structured`: sparse peaked rows (a main successor, a second one, a little mass everywhere);
   * `random`: uniform rows (no structure); or explicit weights, row i = next-agent weights after agent i.
   */
  transitions: TransitionSpec;
  /** Weights of the first agent of a session; default agent 0 when structured, uniform otherwise. */
  initial?: readonly number[];
  sessions: number;
  /** Turns per session, uniform in the range; with `endProbability`, a geometric length clipped to the range. */
  sessionTurns: LengthRange;
  /** Chance that a session ends after each turn once it has `sessionTurns.min` turns. */
  endProbability?: number;
  /** System prompt length of each agent in tokens. */
  systemPromptTokens: LengthRange;
  /** Length of each message in tokens. */
  turnTokens: LengthRange;
  /** Chance that a turn calls a tool: one value, or one per agent. */
  toolCallProbability: number | readonly number[];
  workloadId?: string;
  /** Agents whose turns are not LLM calls. */
  nonLlmAgents?: readonly string[];
}

const VOCAB = 128000;
const NEWLINE = Uint32Array.of(271);
const SYSTEM_ROLE = Uint32Array.of(9125);

function deriveSeed(seed: number, stream: number): number {
  let x = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function randomTokens(prng: Prng, length: number): Uint32Array {
  const out = new Uint32Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(prng.next() * VOCAB);
  return out;
}

function checkRange(name: string, r: LengthRange, min: number): void {
  if (!Number.isInteger(r.min) || !Number.isInteger(r.max) || r.min < min || r.max < r.min) {
    throw new ConfigError(`${name} must be integers with ${min} <= min <= max (got ${r.min}..${r.max})`);
  }
}

function checkProbability(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new ConfigError(`${name} must be in [0, 1] (got ${p})`);
}

/** A generated transition matrix over `n` agents (rows sum to 1). */
export function generateTransitions(kind: 'structured' | 'random', n: number, prng: Prng): number[][] {
  if (kind === 'random' || n === 1) return Array.from({ length: n }, () => new Array<number>(n).fill(1 / n));
  return Array.from({ length: n }, (_, i) => {
    const row = new Array<number>(n).fill(0.1 / n);
    const others = Array.from({ length: n - 1 }, (_, k) => (k >= i ? k + 1 : k));
    const first = others.splice(prng.int(0, others.length - 1), 1)[0] as number;
    row[first] = (row[first] as number) + (n > 2 ? 0.7 : 0.9);
    if (n > 2) {
      const second = others[prng.int(0, others.length - 1)] as number;
      row[second] = (row[second] as number) + 0.2;
    }
    return row;
  });
}

function agentNames(agents: number | readonly string[]): string[] {
  if (typeof agents === 'number') {
    if (!Number.isInteger(agents) || agents < 1)
      throw new ConfigError(`agents must be an integer >= 1 (got ${agents})`);
    return Array.from({ length: agents }, (_, i) => `agent-${i}`);
  }
  if (agents.length === 0 || new Set(agents).size !== agents.length || agents.some((a) => !a)) {
    throw new ConfigError('agents must be distinct non-empty names');
  }
  return [...agents];
}

function checkWeights(name: string, w: readonly number[], n: number): void {
  if (w.length !== n || w.some((x) => !(x >= 0)) || !w.some((x) => x > 0)) {
    throw new ConfigError(`${name} must have ${n} non-negative weights, not all zero`);
  }
}

/** The transition matrix the generator will use for these options (rows sum to 1). */
export function syntheticTransitionMatrix(options: SyntheticOptions): number[][] {
  const n = agentNames(options.agents).length;
  if (typeof options.transitions === 'string') {
    if (options.transitions !== 'structured' && options.transitions !== 'random') {
      throw new ConfigError(`transitions must be 'structured', 'random' or a matrix (got '${options.transitions}')`);
    }
    return generateTransitions(options.transitions, n, new Prng(deriveSeed(options.seed, 0)));
  }
  if (options.transitions.length !== n) throw new ConfigError(`transitions must have ${n} rows`);
  return options.transitions.map((row, i) => {
    checkWeights(`transitions row ${i}`, row, n);
    const sum = row.reduce((a, b) => a + b, 0);
    return row.map((x) => x / sum);
  });
}

/**
 * Generates a workload from a Markov chain over agents: random token ids (distinct per message and per system
 * prompt, so nothing is shared by accident), laid out with the group-chat template like a real trace.
 */
export function generateSynthetic(options: SyntheticOptions, source = 'synthetic'): PreparedWorkload {
  if (!Number.isInteger(options.seed)) throw new ConfigError(`seed must be an integer (got ${options.seed})`);
  const names = agentNames(options.agents);
  const n = names.length;
  if (!Number.isInteger(options.sessions) || options.sessions < 1) {
    throw new ConfigError(`sessions must be an integer >= 1 (got ${options.sessions})`);
  }
  checkRange('sessionTurns', options.sessionTurns, 1);
  checkRange('systemPromptTokens', options.systemPromptTokens, 0);
  checkRange('turnTokens', options.turnTokens, 0);
  if (options.endProbability !== undefined) checkProbability('endProbability', options.endProbability);
  const toolP =
    typeof options.toolCallProbability === 'number'
      ? new Array<number>(n).fill(options.toolCallProbability)
      : [...options.toolCallProbability];
  if (toolP.length !== n) throw new ConfigError(`toolCallProbability must have ${n} values`);
  for (const p of toolP) checkProbability('toolCallProbability', p);
  const matrix = syntheticTransitionMatrix(options);
  const initial = options.initial
    ? [...options.initial]
    : options.transitions === 'structured'
      ? names.map((_, i) => (i === 0 ? 1 : 0))
      : new Array<number>(n).fill(1);
  checkWeights('initial', initial, n);

  const structure = new Prng(deriveSeed(options.seed, 1));
  const systemPrompts = names.map(() =>
    randomTokens(structure, structure.int(options.systemPromptTokens.min, options.systemPromptTokens.max)),
  );
  const roleNames = new Map<string, Uint32Array>(names.map((name) => [name, randomTokens(structure, 2)]));
  roleNames.set('system', SYSTEM_ROLE);
  const index = new Map(names.map((name, i) => [name, i]));

  const prng = new Prng(deriveSeed(options.seed, 2));
  const sessions: TemplateSession[] = [];
  for (let s = 0; s < options.sessions; s++) {
    const { min, max } = options.sessionTurns;
    const length = options.endProbability === undefined ? prng.int(min, max) : max;
    const messages: TemplateSession['messages'] = [];
    let agent = prng.pick(initial);
    for (let t = 0; t < length; t++) {
      if (t > 0) agent = prng.pick(matrix[agent] as number[]);
      const content = randomTokens(prng, prng.int(options.turnTokens.min, options.turnTokens.max));
      const name = names[agent] as string;
      const toolCall = prng.next() < (toolP[agent] as number) ? `${name}.tool` : null;
      messages.push({ agent: name, content, phase: null, toolCall });
      if (options.endProbability !== undefined && t + 1 >= min && prng.next() < options.endProbability) break;
    }
    sessions.push({ sessionId: `s${String(s).padStart(4, '0')}`, messages });
  }
  return buildPreparedWorkload({
    workloadId: options.workloadId ?? 'synthetic',
    source,
    sessions,
    template: 'group-chat',
    systemPrompt: (a) => systemPrompts[index.get(a) as number] as Uint32Array,
    roleName: (role) => roleNames.get(role) as Uint32Array,
    newline: NEWLINE,
    nonLlmAgents: new Set(options.nonLlmAgents ?? []),
  });
}
