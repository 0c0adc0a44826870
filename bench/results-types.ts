import type { NatsFigure, ThroughputFigure } from './bus-bench.js';
import type { CpuUse } from './cpu-sampler.js';
import type { InProcessResult } from './in-process-bench.js';
import type { MachineFacts } from './machine.js';
import type { LatencyRun, PipelineThroughputRun } from './pipeline-bench.js';
import type { PolicyBenchResult } from './policy-bench.js';
import type { ScalingResult } from './scaling-bench.js';
import type { SharedModelBytes } from './shared-models.js';
import type { Spread } from './stats.js';

/** The recorded stream the bus, pipeline and scaling measurements send. */
export interface StreamInfo {
  engines: number;
  budgetBlocks: number;
  concurrency: number;
  events: number;
  kvEvents: number;
  requestEvents: number;
  kvBlocksPerEvent: number;
  meanKvBytes: number;
  meanRequestBytes: number;
}

export interface LatencyFigure {
  offeredPerSec: number;
  producedPerSec: Spread;
  p50Ms: Spread;
  p99Ms: Spread;
  maxMs: Spread;
  /** Every repetition's processor kept up (caught up within the drain timeout after production stopped). */
  caughtUp: boolean;
  runs: LatencyRun[];
}

/** A pipeline throughput figure of one variant (what drains the backlog). */
export interface PipelineVariantFigure {
  name: string;
  throughput: ThroughputFigure & { runs: PipelineThroughputRun[] };
}

export interface PipelineResult {
  /** The `cachesage processor` with CacheSage: the figure the target is about. */
  throughput: ThroughputFigure & { runs: PipelineThroughputRun[] };
  /** The same backlog drained by other variants: the processor with LRU (no policy work), the engine topology alone. */
  variants: PipelineVariantFigure[];
  /** One processor thread with no transport: the CPU ceiling. */
  inProcess?: InProcessResult;
  /** Median pipeline events/s over median raw kafkajs consume events/s (same broker, topics layout and events). */
  ratioToRawConsume: number;
  latency: LatencyFigure[];
}

export interface BusResult {
  /** Absent when only the pipeline ran (it measures the raw consume it is compared with). */
  produce?: ThroughputFigure;
  consume: ThroughputFigure;
  nats?: NatsFigure;
}

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
  note?: string;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  options: Record<string, unknown>;
  machine: MachineFacts;
  stream?: StreamInfo;
  policy?: PolicyBenchResult & { sharedWorkloads: SharedModelBytes[] };
  bus?: BusResult;
  pipeline?: PipelineResult;
  scaling?: ScalingResult;
  proxy?: unknown;
  /** Mean CPU (% of one core) per process over the pipeline runs, and which one saturates. */
  saturation?: { cpu: Record<string, number>; verdict: string };
  targets: TargetCheck[];
  notes: string[];
}

export type { CpuUse };
