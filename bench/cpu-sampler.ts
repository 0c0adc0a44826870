import { readFileSync } from 'node:fs';

/** CPU use of one process over an interval, in percent of one core (200 = two cores busy). */
export interface CpuUse {
  meanPct: number;
  /** Highest use over one sampling period. */
  peakPct: number;
}

/** Samples processes' CPU time (and the whole machine's) from `/proc` at a fixed period. */
export interface CpuSampler {
  /** Use per process name over the whole sampling, and `machine` for every core together (null: unreadable). */
  stop(): Record<string, CpuUse | null>;
  /** Use between two wall-clock times (ms since epoch), from the samples around them; sampling goes on. */
  between(fromMs: number, toMs: number): Record<string, CpuUse | null>;
}

const TICKS_PER_SECOND = 100;

/** utime + stime of a process in clock ticks, or undefined when it cannot be read. */
export function cpuTicks(pid: number): number | undefined {
  try {
    return ticksOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** utime + stime (clock ticks) from the text of `/proc/<pid>/stat`; the command may contain spaces and parens. */
export function ticksOfStat(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Busy clock ticks of all cores together (everything but idle and iowait) from `/proc/stat`. */
export function machineBusyTicks(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return total - (v[3] ?? 0) - (v[4] ?? 0);
  } catch {
    return undefined;
  }
}

/** CPU percent from two tick readings `elapsedMs` apart. */
export function cpuPercent(ticksBefore: number, ticksAfter: number, elapsedMs: number): number {
  if (!(elapsedMs > 0)) return Number.NaN;
  return ((ticksAfter - ticksBefore) / TICKS_PER_SECOND / (elapsedMs / 1000)) * 100;
}

interface Tick {
  t: number;
  ticks: Map<string, number | undefined>;
}

const wallNow = (): number => performance.timeOrigin + performance.now();

/** Use of each name between the first and last of `ticks` (null where unreadable at either end). */
export function useOver(
  names: readonly string[],
  ticks: readonly { t: number; ticks: ReadonlyMap<string, number | undefined> }[],
): Record<string, CpuUse | null> {
  const out: Record<string, CpuUse | null> = {};
  const first = ticks[0];
  const last = ticks[ticks.length - 1];
  for (const n of names) {
    const a = first?.ticks.get(n);
    const b = last?.ticks.get(n);
    if (first === undefined || last === undefined || a === undefined || b === undefined || last.t <= first.t) {
      out[n] = null;
      continue;
    }
    let peak = 0;
    for (let k = 1; k < ticks.length; k++) {
      const x = ticks[k - 1]!.ticks.get(n);
      const y = ticks[k]!.ticks.get(n);
      if (x !== undefined && y !== undefined) peak = Math.max(peak, cpuPercent(x, y, ticks[k]!.t - ticks[k - 1]!.t));
    }
    out[n] = { meanPct: Math.round(cpuPercent(a, b, last.t - first.t)), peakPct: Math.round(peak) };
  }
  return out;
}

/**
 * Starts sampling the named processes (and `machine`: all cores) every `periodMs` (default 250). `stop()` reports
 * the whole interval; `between()` the samples closest around a window (for a rate measured over part of a run).
 */
export function startCpuSampler(pids: Record<string, number | undefined>, periodMs = 250): CpuSampler {
  const names = [...Object.keys(pids), 'machine'];
  const samples: Tick[] = [];
  const read = (): void => {
    const ticks = new Map<string, number | undefined>();
    for (const [n, pid] of Object.entries(pids)) ticks.set(n, pid === undefined ? undefined : cpuTicks(pid));
    ticks.set('machine', machineBusyTicks());
    samples.push({ t: wallNow(), ticks });
  };
  read();
  const timer = setInterval(read, periodMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      read();
      return useOver(names, samples);
    },
    between(fromMs, toMs) {
      read();
      let i = 0;
      while (i + 1 < samples.length && samples[i + 1]!.t <= fromMs) i++;
      let j = samples.length - 1;
      while (j - 1 > i && samples[j - 1]!.t >= toMs) j--;
      return useOver(names, samples.slice(i, j + 1));
    },
  };
}
