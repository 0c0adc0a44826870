import { leastUsedKey } from './least-used.js';

/**
 * The online agent-transition model of one workload (DESIGN §6.1): counts of agent i followed by agent j within a
 * session, first order (N[i][j]) and second order (N[h][i][j]: the two previous agents), with an END state and the
 * distribution of a session's first agent. Agents are interned to small integers in first-seen order; END is index
 * -1 in the API and the last column internally. Counts are sparse (Map per row) and the rows are capped (the least used
 * goes first), so a workload with hundreds of agent names (a new expert per task) keeps the rows of those still
 * speaking.
 *
 * Probabilities back off from the most specific evidence to the least, each level smoothed towards the next:
 *   P0(j)       = (next counts of j + 1) / (total + |agents| + 1)      (marginal, Laplace)
 *   Q(j)        = a prior the caller gives: by default P0; CacheSage gives the recency-rank model below
 *   P1(j|i)     = (N[i][j] + a1 * Q(j)) / (N[i] + a1)
 *   P2(j|h,i)   = (N[h][i][j] + a2 * P1(j|i)) / (N[h][i] + a2)
 * The recency-rank model counts, across sessions, how recently the next speaker last spoke in its session (rank 0:
 * the agent that just spoke again, rank 1: the one before it, ..., or an agent new to the session). It does not
 * depend on agent names, so it carries over to workloads whose agents are renamed per task, and it gives the chain
 * its structure where the name counts are still thin.
 * With no structure in the data the rows stay near the prior and every agent looks alike (the policy then falls
 * back to LRU order). Optional exponential decay (half-life in transitions) lets the model follow drift: counts are kept
 * scaled by a growing factor instead of touching every cell.
 */

export const END = -1;

export interface TransitionModelOptions {
  /** Smoothing weight of the first-order rows towards the marginal. */
  firstOrderPrior: number;
  /** Smoothing weight of the second-order rows towards the first-order row. */
  secondOrderPrior: number;
  /** Half-life of counts in observed transitions; Infinity (default) keeps every count at full weight. */
  decayHalfLifeTransitions: number;
}

export const DEFAULT_TRANSITION_OPTIONS: TransitionModelOptions = {
  firstOrderPrior: 2,
  secondOrderPrior: 2,
  decayHalfLifeTransitions: Number.POSITIVE_INFINITY,
};

type Row = Map<number, number>;

/** Plain-data state (kept in the policy's store; serializable). */
export interface TransitionModel {
  agents: string[];
  index: Map<string, number>;
  /** Row per previous agent; column END_COL for END. */
  first: Map<number, Row>;
  firstTotals: Map<number, number>;
  /** Row per (h, i) pair key h * PAIR + i. */
  second: Map<number, Row>;
  secondTotals: Map<number, number>;
  /** Marginal counts of every agent as a next step (and of END). */
  marginal: Row;
  marginalTotal: number;
  /** First agent of sessions. */
  starts: Row;
  startsTotal: number;
  /** Completed sessions by length in steps (the last bin holds every longer session). */
  lengths: number[];
  lengthsTotal: number;
  /** Next speakers by recency rank in their session (RANK_BINS bins, then one for an agent new to the session). */
  ranks: number[];
  ranksTotal: number;
  /** The same counts by how many agents the session had seen (row key: that count, capped at SEEN_BINS). */
  ranksBySeen: Map<number, number[]>;
  ranksBySeenTotals: Map<number, number>;
  /** The same counts by agents seen and whether the last two steps were by one agent (row key: seen bin · 2 + streak). */
  ranksByStreak: Map<number, number[]>;
  ranksByStreakTotals: Map<number, number>;
  /** The same counts by agent that spoke last and agents seen (row key: agent · SEEN_STRIDE + seen bin). */
  ranksAfter: Map<number, number[]>;
  ranksAfterTotals: Map<number, number>;
  /** Current weight of one new observation (grows under decay; counts are divided by it when read). */
  scale: number;
  transitions: number;
  options: TransitionModelOptions;
}

/** Session lengths counted separately; longer sessions share the last bin. */
export const LENGTH_BINS = 64;

/** Recency ranks counted separately; deeper ranks share the last bin. */
export const RANK_BINS = 8;

/** Sessions are told apart by how many agents they have seen, up to this many (more share the last bin). */
export const SEEN_BINS = 6;
const SEEN_STRIDE = 16;

const PAIR = 1 << 20;

/**
 * Rows kept however many agent names a workload has: second-order rows (pairs of previous agents), first-order rows
 * (one per agent that spoke) and per-agent rank rows (agent × seen bin). A new row replaces the least used one (the
 * lowest decayed total), so a workload that names a new expert per task keeps the rows of the agents that still speak;
 * a dropped agent's questions fall back to the name-free rank model.
 */
export const MAX_PAIR_ROWS = 64;
export const MAX_FIRST_ROWS = 128;
export const MAX_RANK_ROWS = 128;

function dropLeastUsed<V>(rows: Map<number, V>, totals: Map<number, number>): void {
  const victim = leastUsedKey(totals);
  if (victim === undefined) return;
  rows.delete(victim);
  totals.delete(victim);
}
const END_COL = PAIR - 1;

export function createTransitionModel(options: Partial<TransitionModelOptions> = {}): TransitionModel {
  return {
    agents: [],
    index: new Map(),
    first: new Map(),
    firstTotals: new Map(),
    second: new Map(),
    secondTotals: new Map(),
    marginal: new Map(),
    marginalTotal: 0,
    starts: new Map(),
    startsTotal: 0,
    lengths: new Array<number>(LENGTH_BINS + 1).fill(0),
    lengthsTotal: 0,
    ranks: new Array<number>(RANK_BINS + 1).fill(0),
    ranksTotal: 0,
    ranksBySeen: new Map(),
    ranksBySeenTotals: new Map(),
    ranksByStreak: new Map(),
    ranksByStreakTotals: new Map(),
    ranksAfter: new Map(),
    ranksAfterTotals: new Map(),
    scale: 1,
    transitions: 0,
    options: { ...DEFAULT_TRANSITION_OPTIONS, ...options },
  };
}

/** Index of an agent, interning it on first sight. */
export function agentIndex(m: TransitionModel, agent: string): number {
  let i = m.index.get(agent);
  if (i === undefined) {
    i = m.agents.length;
    m.agents.push(agent);
    m.index.set(agent, i);
  }
  return i;
}

function col(j: number): number {
  return j === END ? END_COL : j;
}

function bump(row: Row, key: number, w: number): void {
  row.set(key, (row.get(key) ?? 0) + w);
}

/**
 * A row whose total reaches ROW_HALVING_AT observations is halved (rounding up while counts are whole): counts stay
 * small (so does the serialized model) and recent sessions weigh more. Returns the row's new total.
 */
export const ROW_HALVING_AT = 1024;

function halve(v: number, scale: number): number {
  return scale === 1 ? Math.ceil(v / 2) : v / 2;
}

function halveRow(row: Row, total: number, scale: number): number {
  if (total < ROW_HALVING_AT * scale) return total;
  let sum = 0;
  for (const [k, v] of row) {
    const h = halve(v, scale);
    row.set(k, h);
    sum += h;
  }
  return sum;
}

function halveBins(row: number[], total: number, scale: number): number {
  if (total < ROW_HALVING_AT * scale) return total;
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    const h = halve(row[i] as number, scale);
    row[i] = h;
    sum += h;
  }
  return sum;
}

function rowOf(rows: Map<number, Row>, key: number): Row {
  let r = rows.get(key);
  if (r === undefined) {
    r = new Map();
    rows.set(key, r);
  }
  return r;
}

function advanceDecay(m: TransitionModel): number {
  const h = m.options.decayHalfLifeTransitions;
  if (Number.isFinite(h) && h > 0) {
    m.scale *= 2 ** (1 / h);
    if (m.scale > 1e12) rescale(m);
  }
  return m.scale;
}

function rescale(m: TransitionModel): void {
  const s = m.scale;
  const shrink = (row: Row): void => {
    for (const [k, v] of row) row.set(k, v / s);
  };
  for (const r of m.first.values()) shrink(r);
  for (const r of m.second.values()) shrink(r);
  shrink(m.marginal);
  shrink(m.starts);
  for (let r = 0; r < m.ranks.length; r++) m.ranks[r] = (m.ranks[r] as number) / s;
  for (const rows of [m.ranksAfter, m.ranksBySeen, m.ranksByStreak]) {
    for (const row of rows.values()) for (let r = 0; r < row.length; r++) row[r] = (row[r] as number) / s;
  }
  for (const totals of [m.ranksAfterTotals, m.ranksBySeenTotals, m.ranksByStreakTotals]) {
    for (const [k, v] of totals) totals.set(k, v / s);
  }
  for (let r = 0; r < m.lengths.length; r++) m.lengths[r] = (m.lengths[r] as number) / s;
  m.lengthsTotal /= s;
  m.ranksTotal /= s;
  for (const [k, v] of m.firstTotals) m.firstTotals.set(k, v / s);
  for (const [k, v] of m.secondTotals) m.secondTotals.set(k, v / s);
  m.marginalTotal /= s;
  m.startsTotal /= s;
  m.scale = 1;
}

/** A session started with agent `j`. */
export function observeStart(m: TransitionModel, j: number): void {
  const w = advanceDecay(m);
  bump(m.starts, j, w);
  m.startsTotal += w;
}

/**
 * One transition within a session: `prev` (the agent before `cur`, or null) and `cur` (the agent that spoke last)
 * are followed by `next` (an agent index or END).
 */
export function observeTransition(m: TransitionModel, prev: number | null, cur: number, next: number): void {
  const w = advanceDecay(m);
  const c = col(next);
  if (!m.first.has(cur) && m.first.size >= MAX_FIRST_ROWS) dropLeastUsed(m.first, m.firstTotals);
  const first = rowOf(m.first, cur);
  bump(first, c, w);
  m.firstTotals.set(cur, halveRow(first, (m.firstTotals.get(cur) ?? 0) + w, m.scale));
  if (prev !== null) {
    const key = prev * PAIR + cur;
    if (!m.second.has(key) && m.second.size >= MAX_PAIR_ROWS) dropLeastUsed(m.second, m.secondTotals);
    const second = rowOf(m.second, key);
    bump(second, c, w);
    m.secondTotals.set(key, halveRow(second, (m.secondTotals.get(key) ?? 0) + w, m.scale));
  }
  bump(m.marginal, c, w);
  m.marginalTotal += w;
  m.transitions++;
}

/**
 * After agent `cur` spoke in a session that had seen `seen` distinct agents, the next speaker had recency rank `rank`
 * (null: it had not spoken in the session yet); `streak` when `cur` had also made the step before.
 */
export function observeRank(m: TransitionModel, cur: number, seen: number, rank: number | null, streak = false): void {
  const w = m.scale;
  const bin = rank === null ? RANK_BINS : Math.min(rank, RANK_BINS - 1);
  m.ranks[bin] = (m.ranks[bin] as number) + w;
  m.ranksTotal += w;
  const sb = Math.min(Math.max(seen, 1), SEEN_BINS);
  bumpRank(m.ranksBySeen, m.ranksBySeenTotals, sb, bin, w, m.scale);
  bumpRank(m.ranksByStreak, m.ranksByStreakTotals, sb * 2 + (streak ? 1 : 0), bin, w, m.scale);
  const key = cur * SEEN_STRIDE + sb;
  if (!m.ranksAfter.has(key) && m.ranksAfter.size >= MAX_RANK_ROWS) dropLeastUsed(m.ranksAfter, m.ranksAfterTotals);
  bumpRank(m.ranksAfter, m.ranksAfterTotals, key, bin, w, m.scale);
}

function bumpRank(
  rows: Map<number, number[]>,
  totals: Map<number, number>,
  key: number,
  bin: number,
  w: number,
  scale: number,
): void {
  let row = rows.get(key);
  if (row === undefined) {
    row = new Array<number>(RANK_BINS + 1).fill(0);
    rows.set(key, row);
  }
  row[bin] = (row[bin] as number) + w;
  totals.set(key, halveBins(row, (totals.get(key) ?? 0) + w, scale));
}

/** A session ended after `steps` steps. */
export function observeLength(m: TransitionModel, steps: number): void {
  const w = m.scale;
  const bin = Math.min(Math.max(steps, 1), LENGTH_BINS);
  m.lengths[bin] = (m.lengths[bin] as number) + w;
  m.lengthsTotal += w;
}

/**
 * Hazard of the session-length distribution: P(a session that has made `steps` steps ends now), from completed
 * sessions, smoothed towards the overall end rate (completed sessions per step) with weight `prior` sessions.
 * Returns the overall rate while no session has completed.
 */
export function lengthHazard(m: TransitionModel, steps: number, prior = 2): number {
  const base = marginalP(m, END);
  if (m.lengthsTotal === 0) return base;
  const bin = Math.min(Math.max(steps, 1), LENGTH_BINS);
  let reached = 0;
  for (let b = bin; b <= LENGTH_BINS; b++) reached += m.lengths[b] as number;
  const ended = bin === LENGTH_BINS ? base * reached : (m.lengths[bin] as number);
  return (ended / m.scale + prior * base) / (reached / m.scale + prior);
}

/**
 * P(the next speaker has recency rank `rank`; null for an agent new to the session), from the least to the most
 * specific counts, each smoothed towards the previous with weight `prior`: all sessions (Laplace), sessions that had
 * seen as many agents, those that also had (or had not) the same agent make the last two steps (when `streak` is
 * known), and those where the same agent spoke last.
 */
export function rankP(
  m: TransitionModel,
  rank: number | null,
  cur?: number,
  seen?: number,
  prior = 2,
  streak?: boolean,
): number {
  const bin = rank === null ? RANK_BINS : Math.min(rank, RANK_BINS - 1);
  let p = ((m.ranks[bin] as number) / m.scale + 1) / (m.ranksTotal / m.scale + RANK_BINS + 1);
  if (seen === undefined) return p;
  const sb = Math.min(Math.max(seen, 1), SEEN_BINS);
  p = smoothRank(m.ranksBySeen, m.ranksBySeenTotals, sb, bin, p, prior, m.scale);
  if (streak !== undefined) {
    p = smoothRank(m.ranksByStreak, m.ranksByStreakTotals, sb * 2 + (streak ? 1 : 0), bin, p, prior, m.scale);
  }
  if (cur === undefined) return p;
  return smoothRank(m.ranksAfter, m.ranksAfterTotals, cur * SEEN_STRIDE + sb, bin, p, prior, m.scale);
}

function smoothRank(
  rows: Map<number, number[]>,
  totals: Map<number, number>,
  key: number,
  bin: number,
  p: number,
  prior: number,
  scale: number,
): number {
  const total = (totals.get(key) ?? 0) / scale;
  if (total === 0) return p;
  return ((rows.get(key)?.[bin] ?? 0) / scale + prior * p) / (total + prior);
}

/** Marginal probability of `j` (an agent or END) as a next step. */
export function marginalP(m: TransitionModel, j: number): number {
  const n = m.agents.length + 1;
  return ((m.marginal.get(col(j)) ?? 0) / m.scale + 1) / (m.marginalTotal / m.scale + n);
}

/** P(next = j | cur), smoothed towards the prior `q` (default: the marginal). */
export function firstOrderP(m: TransitionModel, cur: number, j: number, q?: number): number {
  const a = m.options.firstOrderPrior;
  const total = (m.firstTotals.get(cur) ?? 0) / m.scale;
  const count = (m.first.get(cur)?.get(col(j)) ?? 0) / m.scale;
  return (count + a * (q ?? marginalP(m, j))) / (total + a);
}

/** P(next = j | prev, cur), backing off to first order (and to the prior `q`). */
export function secondOrderP(m: TransitionModel, prev: number | null, cur: number, j: number, q?: number): number {
  const p1 = firstOrderP(m, cur, j, q);
  if (prev === null) return p1;
  const key = prev * PAIR + cur;
  const total = (m.secondTotals.get(key) ?? 0) / m.scale;
  if (total === 0) return p1;
  const a = m.options.secondOrderPrior;
  const count = (m.second.get(key)?.get(col(j)) ?? 0) / m.scale;
  return (count + a * p1) / (total + a);
}

/** P(a session's first agent = j), Laplace-smoothed over the known agents. */
export function startP(m: TransitionModel, j: number): number {
  const n = Math.max(1, m.agents.length);
  return ((m.starts.get(j) ?? 0) / m.scale + 1) / (m.startsTotal / m.scale + n);
}

/** Observed (weighted) transitions out of `cur` (first order), for evidence gates. */
export function evidenceOf(m: TransitionModel, cur: number): number {
  return (m.firstTotals.get(cur) ?? 0) / m.scale;
}

/** Every agent the model has seen, with its index. */
export function knownAgents(m: TransitionModel): readonly string[] {
  return m.agents;
}
