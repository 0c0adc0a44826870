/**
 * Is a silent session still running? Sessions on an engine come back at their own pace (about `interval` engine
 * requests between their steps). Once a session is due and other requests keep arriving instead, the chance that
 * it comes back falls; how fast depends on how the engine is fed (a fixed rotation of sessions replaces an ended one
 * in its turn, bursty traffic does not), so it is learned: each time a request arrives, every other session that is
 * about due is asked "will you come back?", keyed by how late it is (in its own intervals) and by whether the
 * request that arrived instead started a new session. The answer is yes when the session arrives again, no when it
 * is dropped as over (turned into yes if it comes back after all).
 */
export interface LivenessModel {
  /** Per key: [returned, asked]. */
  counts: Float64Array;
}

/** Lateness (elapsed / interval) from which a session is asked; below it a session counts as running. */
export const LATE_FROM = 0.75;
const LATE_BINS = [1, 1.25, 1.5, 2, 3];
const KEYS = (LATE_BINS.length + 1) * 2;

export function createLivenessModel(): LivenessModel {
  return { counts: new Float64Array(KEYS * 2) };
}

/** Key of a question, or -1 when the session is not late enough to ask. */
export function livenessKey(elapsed: number, interval: number, newArrival: boolean): number {
  const d = elapsed / Math.max(1, interval);
  if (d < LATE_FROM) return -1;
  let bin = 0;
  while (bin < LATE_BINS.length && d >= (LATE_BINS[bin] as number)) bin++;
  return bin * 2 + (newArrival ? 1 : 0);
}

/** The prior before any answer: a session overdue by x of its intervals comes back with probability exp(−x). */
export function livenessPrior(elapsed: number, interval: number): number {
  const overdue = elapsed - interval;
  return overdue > 0 ? Math.exp(-overdue / Math.max(1, interval)) : 1;
}

/** P(the session comes back | key), smoothed towards `prior` with weight `weight` answers. */
export function livenessP(m: LivenessModel, key: number, prior: number, weight = 1): number {
  if (key < 0) return 1;
  const yes = m.counts[key * 2] as number;
  const asked = m.counts[key * 2 + 1] as number;
  return (yes + weight * prior) / (asked + weight);
}

/** Records the answers of a session's questions. */
export function answerLiveness(m: LivenessModel, keys: readonly number[], returned: boolean): void {
  for (const key of keys) {
    if (returned) m.counts[key * 2] = (m.counts[key * 2] as number) + 1;
    m.counts[key * 2 + 1] = (m.counts[key * 2 + 1] as number) + 1;
  }
}

/** A dropped session came back: its answers turn from no to yes. */
export function reviseLiveness(m: LivenessModel, keys: readonly number[]): void {
  for (const key of keys) m.counts[key * 2] = (m.counts[key * 2] as number) + 1;
}
