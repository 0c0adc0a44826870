/**
 * Which return estimate ranks a session's agents better on this workload: the transition chain or the learned
 * return-time mixture? Every time a session's agents are asked when they speak next, both estimates' discounted
 * scores are kept; once every agent of that ask has its answer, each estimate earns one point per pair of agents it
 * put in the order they actually came back (half a point for a tie). Eviction keeps the contexts it ranks first, so
 * ranking (not log loss) decides.
 */
export interface RankJudge {
  /** Per estimate (0 chain, 1 mixture): points and pairs judged. */
  points: Float64Array;
  pairs: Float64Array;
}

/** The agents asked together, filled in as their answers come. */
export interface RankBatch {
  remaining: number;
  /** Per agent: outcome (0: never, else the step, H + 1 later), and both estimates' scores. */
  outcomes: number[];
  chain: number[];
  direct: number[];
}

/** Pairs judged before the judge may prefer the chain over the mixture. */
const MIN_PAIRS = 50;

export function createRankJudge(): RankJudge {
  return { points: new Float64Array(2), pairs: new Float64Array(2) };
}

export function createRankBatch(chain: number[], direct: number[]): RankBatch {
  return { remaining: chain.length, outcomes: chain.map(() => -1), chain, direct };
}

/** Records one answer of a batch; judges the batch once it is complete. Returns whether it was complete. */
export function answerBatch(j: RankJudge, b: RankBatch, index: number, outcome: number): boolean {
  if ((b.outcomes[index] as number) >= 0) return b.remaining === 0;
  b.outcomes[index] = outcome;
  b.remaining--;
  if (b.remaining > 0) return false;
  const n = b.outcomes.length;
  const order = (o: number): number => (o === 0 ? Number.POSITIVE_INFINITY : o);
  for (let x = 0; x < n; x++) {
    for (let y = 0; y < n; y++) {
      const ox = order(b.outcomes[x] as number);
      const oy = order(b.outcomes[y] as number);
      if (!(ox < oy)) continue;
      for (const [e, scores] of [b.chain, b.direct].entries()) {
        const sx = scores[x] as number;
        const sy = scores[y] as number;
        j.points[e] = (j.points[e] as number) + (sx > sy ? 1 : sx === sy ? 0.5 : 0);
        j.pairs[e] = (j.pairs[e] as number) + 1;
      }
    }
  }
  return true;
}

/** Whether the chain has ranked better than the mixture (with enough pairs judged). */
export function judgePrefersChain(j: RankJudge): boolean {
  const pairs = j.pairs[0] as number;
  if (pairs < MIN_PAIRS) return false;
  return (j.points[0] as number) > (j.points[1] as number);
}
