/**
 * When does an agent of a session speak next? For a context (s, a), the distribution of the number of session steps
 * k = 1..H until a's next step, "later" (class H + 1: after more than H steps) or never (class 0: the session ends
 * first), learned per workload from how the question turned out for earlier steps.
 *
 * Each question is described by a few small features: a's recency rank in the session, how the latest step ended
 * (running, or its output size and whether it called a tool), agents seen, steps made, the names of a, of the last
 * speaker and of the one before, and the session's own counts of the last speaker being followed by a. Three experts
 * count outcomes over nested keys of these features (each level smoothed towards the coarser one, so an expert backs
 * off to name-free evidence where names are new): rank → seen → steps; rank → finish → names; rank → session
 * counts → names. Their predictions are mixed with weights that follow each expert's online log loss on the
 * workload: the workload itself selects which evidence predicts it, with one parameter set everywhere.
 */
export const RT_FEATURES = ['rank', 'finish', 'seen', 'steps', 'cur', 'agent', 'prev', 'local'] as const;
const F_RANK = 0;
const F_FINISH = 1;
const F_SEEN = 2;
const F_STEPS = 3;
const F_CUR = 4;
const F_AGENT = 5;
const F_PREV = 6;
const F_LOCAL = 7;

/** Caps of the small features (values above share the last bin). */
const RANK_CAP = 5;
const SEEN_CAP = 6;
const STEPS_CAP = 15;
/** `finish` while the latest step is still running. */
export const FINISH_RUNNING = 8;

/** Experts: feature indices in the order their keys nest (coarse to fine). */
export const RT_EXPERTS: readonly (readonly number[])[] = [
  [F_RANK, F_SEEN, F_STEPS],
  [F_RANK, F_FINISH, F_CUR, F_AGENT, F_PREV],
  [F_RANK, F_LOCAL, F_CUR, F_AGENT, F_PREV],
];

export interface ReturnTimeModel {
  horizon: number;
  /** Per expert, per level: key → outcome counts (index 0: never; k ≤ H: at step k; H + 1: later). */
  tables: Map<number, Float64Array>[][];
  /** Cumulative log loss of each expert on answered questions. */
  loss: Float64Array;
  answered: number;
}

/** A question waiting for its answer: when does `agent` speak after step `step`? */
export interface ReturnQuestion {
  step: number;
  agent: number;
  features: number[];
  /** Batch of the agents asked together (rank judge) and this agent's place in it. */
  batch: number;
  index: number;
}

/** Experts that do not key on how the latest step ended learn from one question per step (the finished one). */
function learnsFrom(expert: readonly number[], q: ReturnQuestion): boolean {
  return q.features[F_FINISH] !== FINISH_RUNNING || expert.includes(F_FINISH);
}

export interface ReturnTimeOptions {
  horizon: number;
  /** Smoothing weight of a level towards the coarser one. */
  smoothing: number;
  /** Sharpness of the expert mixture (per answered question of log loss). */
  mixRate: number;
}

export function createReturnTimeModel(horizon: number): ReturnTimeModel {
  return {
    horizon,
    tables: RT_EXPERTS.map((levels) => levels.map(() => new Map())),
    loss: new Float64Array(RT_EXPERTS.length),
    answered: 0,
  };
}

/** Output-size bin of a finished step (0..3), times two, plus one when it called a tool. */
export function finishFeature(outputTokens: number, toolCall: boolean): number {
  const bin = outputTokens < 8 ? 0 : outputTokens < 64 ? 1 : outputTokens < 256 ? 2 : 3;
  return bin * 2 + (toolCall ? 1 : 0);
}

/** Features of the question for an agent at recency `rank` (agent indices: -1 for none). */
export function questionFeatures(
  rank: number,
  finish: number,
  seen: number,
  steps: number,
  cur: number,
  agent: number,
  prev: number,
  localFollows: number,
  localOut: number,
): number[] {
  return [
    Math.min(rank, RANK_CAP),
    finish,
    Math.min(seen, SEEN_CAP),
    Math.min(steps, STEPS_CAP),
    cur,
    agent,
    prev,
    Math.min(localFollows, 2) * 3 + Math.min(localOut, 2),
  ];
}

/**
 * Keys kept per level of an expert, however many agent names the workload has. When a level is full, a new key first
 * clears room: the least used eighth of the keys (fewest answers, oldest first) goes, so the model stays within a
 * fixed size and the scan is paid once per eighth, not per new key. Where names change per task, the keys of names
 * no longer speaking are the least used and go first; their questions back off to the name-free levels.
 */
export const MAX_KEYS_PER_LEVEL = 224;

/** A count reaching this halves its row (rounding up): counts stay small and recent answers weigh more. */
const ROW_HALVING_AT = 512;

/** The k-th smallest value (0-based) of `a`, reordering `a` (quickselect). */
function kthSmallest(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i++] = a[j] as number;
        a[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k] as number;
  }
  return a[k] as number;
}

function dropLeastUsed(table: Map<number, Float64Array>, maxKeys: number): void {
  const size = table.size;
  const keys = new Float64Array(size);
  const totals = new Float64Array(size);
  let i = 0;
  for (const [key, c] of table) {
    let total = 0;
    for (let k = 0; k < c.length; k++) total += c[k] as number;
    keys[i] = key;
    totals[i++] = total;
  }
  const drop = Math.min(size, Math.max(1, Math.ceil(maxKeys / 8)));
  // the drop least used keys, oldest first among equal totals: every key below the cut, then ties in map order
  const cut = kthSmallest(totals.slice(), drop - 1);
  let ties = drop;
  for (let j = 0; j < size; j++) if ((totals[j] as number) < cut) ties--;
  for (let j = 0; j < size; j++) {
    const total = totals[j] as number;
    if (total < cut || (total === cut && ties-- > 0)) table.delete(keys[j] as number);
  }
}

/** Agent indices above this share one name bin (keys stay exact doubles: at most 3 names + 4 small features). */
const NAME_CAP = 4094;

/** Key of level `level` of an expert: the features up to it, packed in mixed radix (4 bits or 12 bits each). */
function keyOf(expert: readonly number[], level: number, f: readonly number[]): number {
  let key = 0;
  for (let i = 0; i <= level; i++) {
    const fi = expert[i] as number;
    const v = f[fi] as number;
    key = fi >= F_CUR && fi <= F_PREV ? key * 4096 + Math.min(v, NAME_CAP) + 1 : key * 16 + v;
  }
  return key;
}

function expertPredict(
  m: ReturnTimeModel,
  e: number,
  f: readonly number[],
  smoothing: number,
  out: Float64Array,
): Float64Array {
  const n = m.horizon + 2;
  out.fill(1 / n);
  const expert = RT_EXPERTS[e] as readonly number[];
  const tables = m.tables[e] as Map<number, Float64Array>[];
  let parentTotal = -1;
  for (let l = 0; l < expert.length; l++) {
    const c = (tables[l] as Map<number, Float64Array>).get(keyOf(expert, l, f));
    if (c === undefined) break;
    let total = 0;
    for (let k = 0; k < n; k++) total += c[k] as number;
    if (total === parentTotal) continue;
    parentTotal = total;
    for (let k = 0; k < n; k++) out[k] = ((c[k] as number) + smoothing * (out[k] as number)) / (total + smoothing);
  }
  return out;
}

/** The mixture's distribution for one question: index 0 never, k ≤ H the k-th next step, H + 1 later. */
export function returnTimeP(
  m: ReturnTimeModel,
  f: readonly number[],
  o: ReturnTimeOptions,
  out: Float64Array,
): Float64Array {
  const n = m.horizon + 2;
  out.fill(0);
  let minLoss = Number.POSITIVE_INFINITY;
  for (const l of m.loss) minLoss = Math.min(minLoss, l);
  const tmp = new Float64Array(n);
  let wsum = 0;
  for (let e = 0; e < RT_EXPERTS.length; e++) {
    const w = Math.exp(-o.mixRate * ((m.loss[e] as number) - minLoss));
    if (w < 1e-6) continue;
    expertPredict(m, e, f, o.smoothing, tmp);
    for (let k = 0; k < n; k++) out[k] = (out[k] as number) + w * (tmp[k] as number);
    wsum += w;
  }
  for (let k = 0; k < n; k++) out[k] = (out[k] as number) / wsum;
  return out;
}

/**
 * Records answers (0: never, else the step, capped at H + 1) of questions settled together: every expert is scored on all of
 * them before any count moves, so questions that share a step never see each other's outcome.
 */
export function answerQuestions(
  m: ReturnTimeModel,
  answers: readonly { q: ReturnQuestion; outcome: number }[],
  o: ReturnTimeOptions,
): void {
  const maxKeys = MAX_KEYS_PER_LEVEL;
  if (answers.length === 0) return;
  const n = m.horizon + 2;
  const tmp = new Float64Array(n);
  for (const { q, outcome } of answers) {
    for (let e = 0; e < RT_EXPERTS.length; e++) {
      expertPredict(m, e, q.features, o.smoothing, tmp);
      m.loss[e] = (m.loss[e] as number) - Math.log(Math.max(1e-9, tmp[outcome] as number));
    }
  }
  for (const { q, outcome } of answers) {
    for (let e = 0; e < RT_EXPERTS.length; e++) {
      const expert = RT_EXPERTS[e] as readonly number[];
      if (!learnsFrom(expert, q)) continue;
      const tables = m.tables[e] as Map<number, Float64Array>[];
      for (let l = 0; l < expert.length; l++) {
        const table = tables[l] as Map<number, Float64Array>;
        const key = keyOf(expert, l, q.features);
        let c = table.get(key);
        if (c === undefined) {
          if (table.size >= maxKeys) dropLeastUsed(table, maxKeys);
          c = new Float64Array(n);
          table.set(key, c);
        }
        c[outcome] = (c[outcome] as number) + 1;
        if (c[outcome] === ROW_HALVING_AT) for (let k = 0; k < n; k++) c[k] = Math.ceil((c[k] as number) / 2);
      }
    }
    m.answered++;
  }
}
