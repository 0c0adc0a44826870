import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestEvent } from '../../schemas/types.js';

/** Prometheus metrics of one processor (DESIGN §2, issue 5: events in/out, lag, act latency, DLQ, hit rate). */
export interface ProcessorMetrics {
  readonly registry: Registry;
  /** Records delivered to a sub-topology, by topic. */
  readonly eventsIn: Counter<'topic'>;
  /** Records folded into rebuilt state after a rebalance, by topic. */
  readonly eventsReplayed: Counter<'topic'>;
  /** Messages written, by sink (acts, sessions-repartition, dlq, model, sessions). */
  readonly eventsOut: Counter<'sink'>;
  /** End offset minus the next offset to process, per owned partition. */
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  /** From the causing event's production (`causeProducedAt`) to the act's publication, seconds. */
  readonly actLatency: Histogram<'kind'>;
  readonly deadLetters: Counter;
  /** Cached prompt tokens / prompt tokens of the FINISHED requests seen, per engine. */
  readonly engineHitRate: Gauge<'engine'>;
  readonly enginePromptTokens: Counter<'engine'>;
  readonly engineCachedTokens: Counter<'engine'>;
  /** Engine-state rebuilds after rebalances, and their duration. */
  readonly rebuilds: Counter;
  readonly rebuildSeconds: Histogram;
  /** Partitions owned, by sub-topology (`engine`, `session`). */
  readonly ownedPartitions: Gauge<'side'>;
  /** Request events of the session sub-topology by outcome (counted, started, covered, duplicate, ignored). */
  readonly sessionEvents: Counter<'outcome'>;
  readonly sessionsExpired: Counter;
  /** Prompt and cached tokens of the FINISHED requests seen, per engine (what the hit-rate gauge shows). */
  readonly hitTokens: Map<string, { prompt: number; cached: number }>;
  /** Counts a FINISHED request event into the engine's hit rate. */
  finished(event: RequestEvent): void;
}

/** Creates the processor metrics in `registry` (a new one when omitted). Create once per registry. */
export function createProcessorMetrics(registry: Registry = new Registry()): ProcessorMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const metrics: Omit<ProcessorMetrics, 'finished'> = {
    hitTokens: new Map(),
    registry,
    eventsIn: counter('cachesage_processor_events_in_total', 'Records delivered to a sub-topology', ['topic']),
    eventsReplayed: counter(
      'cachesage_processor_events_replayed_total',
      'Records folded into rebuilt engine state after a rebalance',
      ['topic'],
    ),
    eventsOut: counter('cachesage_processor_events_out_total', 'Messages written, by sink', ['sink']),
    consumerLag: new Gauge({
      name: 'cachesage_processor_consumer_lag',
      help: 'End offset minus the next offset to process, per owned partition',
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
    actLatency: new Histogram({
      name: 'cachesage_processor_act_latency_seconds',
      help: "From the causing event's production to the act's publication on NATS",
      labelNames: ['kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    deadLetters: counter('cachesage_processor_dead_letters_total', 'Records sent to the dead-letter topic'),
    engineHitRate: new Gauge({
      name: 'cachesage_engine_token_hit_rate',
      help: 'Cached prompt tokens / prompt tokens of the finished requests seen, per engine',
      labelNames: ['engine'],
      registers: [registry],
    }),
    enginePromptTokens: counter('cachesage_engine_prompt_tokens_total', 'Prompt tokens of finished requests', [
      'engine',
    ]),
    engineCachedTokens: counter(
      'cachesage_engine_cached_tokens_total',
      'Prompt tokens of finished requests served from the GPU prefix cache',
      ['engine'],
    ),
    rebuilds: counter('cachesage_processor_rebuilds_total', 'Engine-state rebuilds after rebalances'),
    rebuildSeconds: new Histogram({
      name: 'cachesage_processor_rebuild_seconds',
      help: 'Duration of engine-state rebuilds (read back and replay)',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    ownedPartitions: new Gauge({
      name: 'cachesage_processor_owned_partitions',
      help: 'Partitions owned, by sub-topology',
      labelNames: ['side'],
      registers: [registry],
    }),
    sessionEvents: counter('cachesage_processor_session_events_total', 'Session sub-topology events by outcome', [
      'outcome',
    ]),
    sessionsExpired: counter('cachesage_processor_sessions_expired_total', 'Idle sessions ended (END counted)'),
  };
  return {
    ...metrics,
    finished(event) {
      if (event.phase !== 'FINISHED' || event.promptTokens <= 0) return;
      const e = event.engineId;
      const tokens = metrics.hitTokens.get(e) ?? { prompt: 0, cached: 0 };
      tokens.prompt += event.promptTokens;
      tokens.cached += event.cachedTokens;
      metrics.hitTokens.set(e, tokens);
      metrics.enginePromptTokens.inc({ engine: e }, event.promptTokens);
      metrics.engineCachedTokens.inc({ engine: e }, event.cachedTokens);
      metrics.engineHitRate.set({ engine: e }, tokens.cached / tokens.prompt);
    },
  };
}
