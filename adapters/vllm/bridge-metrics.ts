import { Counter, Gauge, Registry } from 'prom-client';
import type { KvEventKind } from '../../schemas/types.js';
import type { BridgeIssue } from './translate.js';

/** Prometheus metrics of one vLLM bridge (labelled by engine), registered in `registry`. */
export interface VllmBridgeMetrics {
  readonly registry: Registry;
  readonly messages: Counter<'engine'>;
  readonly kvEvents: Counter<'engine' | 'kind'>;
  readonly issues: Counter<'engine' | 'issue'>;
  readonly deadLetters: Counter<'engine'>;
  readonly gaps: Counter<'engine'>;
  readonly replayedMessages: Counter<'engine'>;
  readonly replayFailures: Counter<'engine'>;
  readonly missedMessages: Counter<'engine'>;
  readonly publisherRestarts: Counter<'engine'>;
  readonly reconnects: Counter<'engine'>;
  readonly publishRetries: Counter<'engine'>;
  readonly connected: Gauge<'engine'>;
  readonly hashMapEntries: Gauge<'engine'>;
}

/** Creates the bridge's metrics in `registry` (a new registry when omitted). Create once per registry. */
export function createVllmBridgeMetrics(registry: Registry = new Registry()): VllmBridgeMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    messages: counter('cachesage_vllm_bridge_messages_total', 'KV-event messages received (live and replayed)', [
      'engine',
    ]),
    kvEvents: counter('cachesage_vllm_bridge_kv_events_total', 'KvEvents published', ['engine', 'kind']),
    issues: counter('cachesage_vllm_bridge_issues_total', 'Messages or events not turned into KvEvents, by reason', [
      'engine',
      'issue',
    ]),
    deadLetters: counter('cachesage_vllm_bridge_dead_letters_total', 'Dead letters published', ['engine']),
    gaps: counter('cachesage_vllm_bridge_gaps_total', 'Sequence gaps detected on the PUB stream', ['engine']),
    replayedMessages: counter('cachesage_vllm_bridge_replayed_messages_total', 'Messages recovered by replay', [
      'engine',
    ]),
    replayFailures: counter(
      'cachesage_vllm_bridge_replay_failures_total',
      'Gaps the replay socket could not fill completely',
      ['engine'],
    ),
    missedMessages: counter('cachesage_vllm_bridge_missed_messages_total', 'Sequence numbers lost for good', [
      'engine',
    ]),
    publisherRestarts: counter(
      'cachesage_vllm_bridge_publisher_restarts_total',
      'Times the engine restarted its sequence',
      ['engine'],
    ),
    reconnects: counter('cachesage_vllm_bridge_reconnects_total', 'Subscriber sockets recreated after an error', [
      'engine',
    ]),
    publishRetries: counter('cachesage_vllm_bridge_publish_retries_total', 'Failed sink writes that were retried', [
      'engine',
    ]),
    connected: new Gauge({
      name: 'cachesage_vllm_bridge_connected',
      help: '1 while the SUB socket is connected to the engine',
      labelNames: ['engine'],
      registers: [registry],
    }),
    hashMapEntries: new Gauge({
      name: 'cachesage_vllm_bridge_hash_map_entries',
      help: 'Engine hashes currently mapped to layer hashes',
      labelNames: ['engine'],
      registers: [registry],
    }),
  };
}

/** Plain counters of one bridge, for tests and status output. */
export interface VllmBridgeStats {
  messages: number;
  kvEvents: Record<KvEventKind, number>;
  issues: Record<BridgeIssue, number>;
  deadLetters: number;
  gaps: number;
  replayedMessages: number;
  replayFailures: number;
  missedMessages: number;
  publisherRestarts: number;
  reconnects: number;
  publishRetries: number;
  /** Sequence number of the last message applied, or null. */
  lastSeq: number | null;
  connected: boolean;
}

export function emptyBridgeStats(): VllmBridgeStats {
  return {
    messages: 0,
    kvEvents: { BLOCK_STORED: 0, BLOCK_REMOVED: 0, ALL_CLEARED: 0 },
    issues: {
      'bad-frames': 0,
      'bad-payload': 0,
      'unknown-tag': 0,
      'bad-event': 0,
      'unmapped-parent': 0,
      'token-count-mismatch': 0,
      'unsupported-block-size': 0,
      'unknown-medium': 0,
      'unmapped-removed': 0,
      'unmapped-stored': 0,
      'other-group': 0,
    },
    deadLetters: 0,
    gaps: 0,
    replayedMessages: 0,
    replayFailures: 0,
    missedMessages: 0,
    publisherRestarts: 0,
    reconnects: 0,
    publishRetries: 0,
    lastSeq: null,
    connected: false,
  };
}
