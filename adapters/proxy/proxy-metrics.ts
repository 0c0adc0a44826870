import { Counter, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one tagging proxy (labelled by engine). */
export interface ProxyMetrics {
  readonly registry: Registry;
  /** Requests by route (`chat`, `completion`, `other`) and identity source (`headers`, `user`, `none`, ...). */
  readonly requests: Counter<'engine' | 'route' | 'identity'>;
  /** Chat/completions requests without an agent and session: passed through, no events. */
  readonly untagged: Counter<'engine' | 'route'>;
  readonly events: Counter<'engine' | 'phase'>;
  readonly upstreamErrors: Counter<'engine'>;
  /** Prompts that could not be tokenized (the request still went upstream; events carry no hashes). */
  readonly tokenizeErrors: Counter<'engine'>;
  /** Calls whose engine-reported prompt_tokens differ from the proxy's own count (template or tokenizer drift). */
  readonly promptTokenMismatches: Counter<'engine'>;
  readonly droppedEvents: Counter<'engine'>;
  readonly publishErrors: Counter<'engine'>;
  readonly tokenizeSeconds: Histogram<'engine'>;
}

export function createProxyMetrics(registry: Registry = new Registry()): ProxyMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    requests: counter('cachesage_proxy_requests_total', 'Requests proxied', ['engine', 'route', 'identity']),
    untagged: counter('cachesage_proxy_untagged_requests_total', 'LLM calls without agent/session identity', [
      'engine',
      'route',
    ]),
    events: counter('cachesage_proxy_request_events_total', 'RequestEvents emitted', ['engine', 'phase']),
    upstreamErrors: counter('cachesage_proxy_upstream_errors_total', 'Requests the upstream could not serve', [
      'engine',
    ]),
    tokenizeErrors: counter('cachesage_proxy_tokenize_errors_total', 'Prompts that could not be tokenized', ['engine']),
    promptTokenMismatches: counter(
      'cachesage_proxy_prompt_token_mismatches_total',
      'Calls where the engine counted a different number of prompt tokens than the proxy',
      ['engine'],
    ),
    droppedEvents: counter('cachesage_proxy_dropped_events_total', 'RequestEvents dropped (sink down, queue full)', [
      'engine',
    ]),
    publishErrors: counter('cachesage_proxy_publish_errors_total', 'Failed writes of RequestEvents (retried)', [
      'engine',
    ]),
    tokenizeSeconds: new Histogram({
      name: 'cachesage_proxy_tokenize_seconds',
      help: 'Worker time to tokenize and hash one prompt',
      labelNames: ['engine'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
  };
}
