/** A cumulative count of processed records at wall-clock time `t` (ms), with the group joins seen so far. */
export interface ProgressSample {
  t: number;
  records: number;
  joins: number;
}

/** Records processed per second while every process was working, and the window it was measured over. */
export interface SteadyRate {
  perSecond: number;
  records: number;
  windowMs: number;
  startT: number;
  endT: number;
}

function recordsAt(samples: readonly ProgressSample[], t: number): number {
  let r = 0;
  for (const s of samples) {
    if (s.t > t) break;
    r = s.records;
  }
  return r;
}

/**
 * The steady processing rate of processes sharing a backlog, from their progress samples (each in time order). A
 * process's window opens at the last sample before its first progress after its final group join (so a rebalance
 * while processes join is left out) and closes at the sample where its count reached its final value; the rate is
 * the records all processes did between the latest opening and the earliest closing, over that time. NaN when the
 * windows do not overlap or a process never progressed.
 */
export function steadyRate(timelines: readonly (readonly ProgressSample[])[]): SteadyRate {
  const none: SteadyRate = { perSecond: Number.NaN, records: 0, windowMs: 0, startT: Number.NaN, endT: Number.NaN };
  if (timelines.length === 0) return none;
  let start = Number.NEGATIVE_INFINITY;
  let end = Number.POSITIVE_INFINITY;
  for (const samples of timelines) {
    const last = samples[samples.length - 1];
    if (last === undefined || last.records === 0) return none;
    let open: number | undefined;
    for (let k = 1; k < samples.length; k++) {
      const s = samples[k]!;
      const prev = samples[k - 1]!;
      if (s.joins === last.joins && s.records > prev.records) {
        open = prev.t;
        break;
      }
    }
    if (open === undefined) open = samples[0]!.t;
    const close = samples.find((s) => s.records === last.records)!.t;
    start = Math.max(start, open);
    end = Math.min(end, close);
  }
  if (!(end > start)) return none;
  let records = 0;
  for (const samples of timelines) records += recordsAt(samples, end) - recordsAt(samples, start);
  const windowMs = end - start;
  return { perSecond: (records / windowMs) * 1000, records, windowMs, startT: start, endT: end };
}
