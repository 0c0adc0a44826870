import type { BusContext, ThroughputFigure } from './bus-bench.js';
import { throughputFigure } from './bus-bench.js';
import { measurePipelineThroughput, type PipelineThroughputRun } from './pipeline-bench.js';
import { type Spread, spread } from './stats.js';

/** One scaling configuration: processors of one group draining the backlog of some engines. */
export interface ScalingConfig {
  processors: number;
  engines: number;
  events: number;
}

export interface ScalingCase extends ScalingConfig {
  throughput: ThroughputFigure;
  /** Aggregate events/s divided by the processors. */
  perProcessorEventsPerSec: Spread;
}

export interface ScalingResult {
  cases: ScalingCase[];
  /** (2 processors, 2E engines) over (1 processor, E engines): 2 is perfect scaling. */
  scaleFactor: number;
}

/**
 * Scaling (issue 6, part 4): one `cachesage processor` on E engines, two processors (one consumer group,
 * co-partitioning assigner) on 2E engines with twice the events, and one processor on the 2E engines as well. The
 * processors start on fresh, empty topics; once the group settled the driver produces the backlog as fast as it can,
 * and the rate is taken over the window in which every processor worked.
 */
export async function benchScaling(
  small: BusContext,
  large: BusContext,
  eventsPerEngine: number,
  repetitions: number,
): Promise<ScalingResult> {
  const configs: (ScalingConfig & { ctx: BusContext })[] = [
    { processors: 1, engines: small.stream.engineIds.length, events: 0, ctx: small },
    { processors: 2, engines: large.stream.engineIds.length, events: 0, ctx: large },
    { processors: 1, engines: large.stream.engineIds.length, events: 0, ctx: large },
  ];
  for (const c of configs) c.events = Math.min(c.ctx.stream.events.length, eventsPerEngine * c.engines);
  const runs = configs.map(() => [] as PipelineThroughputRun[]);
  for (let r = 0; r < repetitions; r++) {
    for (const [i, c] of configs.entries()) {
      small.progress(`scaling: ${c.processors} processor(s), ${c.engines} engines, repetition ${r + 1}`);
      runs[i]!.push(
        await measurePipelineThroughput(c.ctx, c.events, {
          mode: 'processor',
          policy: 'cachesage',
          processes: c.processors,
          fillAfterSettled: true,
        }),
      );
    }
  }
  const cases = configs.map((c, i) => ({
    processors: c.processors,
    engines: c.engines,
    events: c.events,
    throughput: throughputFigure(runs[i]!),
    perProcessorEventsPerSec: spread(runs[i]!.map((run) => run.eventsPerSec / c.processors)),
  }));
  return { cases, scaleFactor: cases[1]!.throughput.eventsPerSec.median / cases[0]!.throughput.eventsPerSec.median };
}
