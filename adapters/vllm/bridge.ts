import { type Logger, pino } from 'pino';
import { Subscriber } from 'zeromq';
import { ConfigError, reasonOf } from '../../core/errors.js';
import type { Sink, SinkMessage } from '../../core/io.js';
import type { DeadLetter, KvEvent } from '../../schemas/types.js';
import {
  createVllmBridgeMetrics,
  emptyBridgeStats,
  type VllmBridgeMetrics,
  type VllmBridgeStats,
} from './bridge-metrics.js';
import { EngineHashMap } from './engine-hash-map.js';
import { requestReplay } from './replay-client.js';
import { SequenceTracker } from './sequence-tracker.js';
import { createKvEventTranslator, type Translation } from './translate.js';
import { type KvMessage, parseKvMessage } from './zmq-message.js';

export interface VllmBridgeOptions {
  /** Engine id of the vLLM instance (or data-parallel rank); the Kafka key of every KvEvent. */
  engineId: string;
  /** vLLM's KV-event PUB endpoint, e.g. `tcp://engine:5557`. */
  endpoint: string;
  /** vLLM's replay ROUTER endpoint, e.g. `tcp://engine:5558`; without it gaps are only counted. */
  replayEndpoint?: string;
  /** ZMQ topic prefix to subscribe to (vLLM's `topic`); default '' (everything). */
  topic?: string;
  /** Where KvEvents and dead letters go (the Kafka sink in production). */
  sink: Sink<Uint8Array>;
  /** Bytes of a KvEvent on the bus (the Avro codec's `encode`). */
  encodeKvEvent: (event: KvEvent) => Uint8Array;
  /** Bytes of a dead letter on the bus (the Avro codec's `encode`). */
  encodeDeadLetter: (letter: DeadLetter) => Uint8Array;
  /** Default `cachesage.kv-events`. */
  kvEventsTopic?: string;
  /** Default `cachesage.dlq`. */
  deadLetterTopic?: string;
  /** Engine hashes remembered for mapping (LRU). Default 200,000. */
  hashMapCapacity?: number;
  /** KV-cache group followed in hybrid models. Default 0. */
  kvCacheGroup?: number;
  /** Budget of one replay request. Default 2,000 ms. */
  replayTimeoutMs?: number;
  /**
   * On the first message with seq > 0, replay the engine's buffer from 0 into the hash map only (nothing is
   * published), so blocks stored before the bridge started can be chained and removed. Default true when a replay
   * endpoint is given.
   */
  warmStart?: boolean;
  /** First reconnect delay (ZMQ's own reconnect and socket re-creation). Default 100 ms. */
  reconnectMinMs?: number;
  /** Reconnect delays double up to this cap. Default 10,000 ms. */
  reconnectMaxMs?: number;
  /** ZMTP heartbeat interval that detects a dead engine connection; 0 disables. Default 2,000 ms. */
  heartbeatMs?: number;
  metrics?: VllmBridgeMetrics;
  logger?: Logger;
  /** Wall clock for `producedAt`; default Date.now. */
  now?: () => number;
}

/** A running bridge: vLLM KV events in, KvEvents (and dead letters) out. */
export interface VllmBridge {
  readonly engineId: string;
  /** Live counters (the same numbers as the Prometheus metrics). */
  readonly stats: Readonly<VllmBridgeStats>;
  readonly metrics: VllmBridgeMetrics;
  /** Resolves once the bridge stopped (after `close()`). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a bridge from vLLM's ZMQ KV-event stream to the layer (DESIGN §4, §9). It subscribes to the PUB socket,
 * tracks sequence numbers, fills gaps from the replay socket (or counts them and carries on), maps engine hashes
 * into the layer's hash space, and writes KvEvents keyed by engine id. It reconnects forever with capped
 * exponential backoff; bad input is counted and dead-lettered, never fatal.
 */
export function startVllmBridge(options: VllmBridgeOptions): VllmBridge {
  const { engineId, endpoint, sink } = options;
  if (!engineId) throw new ConfigError('vLLM bridge: engineId is required');
  if (!/^(tcp|ipc|inproc):\/\//.test(endpoint ?? '')) {
    throw new ConfigError(`vLLM bridge: endpoint must be tcp://host:port, ipc:// or inproc://, got ${endpoint}`);
  }
  const replayEndpoint = options.replayEndpoint;
  if (replayEndpoint !== undefined && !/^(tcp|ipc|inproc):\/\//.test(replayEndpoint)) {
    throw new ConfigError(`vLLM bridge: replay endpoint must be tcp://host:port, got ${replayEndpoint}`);
  }
  const reconnectMinMs = positive('reconnectMinMs', options.reconnectMinMs ?? 100);
  const reconnectMaxMs = positive('reconnectMaxMs', options.reconnectMaxMs ?? 10_000);
  if (reconnectMaxMs < reconnectMinMs) throw new ConfigError('vLLM bridge: reconnectMaxMs < reconnectMinMs');
  const replayTimeoutMs = positive('replayTimeoutMs', options.replayTimeoutMs ?? 2_000);
  const heartbeatMs = options.heartbeatMs ?? 2_000;
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 0) throw new ConfigError('vLLM bridge: heartbeatMs must be >= 0');
  const kvEventsTopic = options.kvEventsTopic ?? 'cachesage.kv-events';
  const deadLetterTopic = options.deadLetterTopic ?? 'cachesage.dlq';
  const warmStart = options.warmStart ?? replayEndpoint !== undefined;
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ engineId, endpoint });
  const metrics = options.metrics ?? createVllmBridgeMetrics();
  const now = options.now ?? Date.now;
  const hashMap = new EngineHashMap({ capacity: options.hashMapCapacity ?? 200_000 });
  const translator = createKvEventTranslator({
    engineId,
    endpoint,
    hashMap,
    ...(options.kvCacheGroup === undefined ? {} : { kvCacheGroup: options.kvCacheGroup }),
  });
  const tracker = new SequenceTracker();
  const stats = emptyBridgeStats();
  const labels = { engine: engineId };
  const stop = new AbortController();
  let socket: Subscriber | undefined;

  function positive(name: string, value: number): number {
    if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`vLLM bridge: ${name} must be positive`);
    return value;
  }

  function backoffMs(attempt: number): number {
    return Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(attempt, 30));
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (stop.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        stop.signal.removeEventListener('abort', done);
        resolve();
      }
      stop.signal.addEventListener('abort', done);
    });
  }

  function toSinkMessages(translation: Translation): SinkMessage<Uint8Array>[] {
    const out: SinkMessage<Uint8Array>[] = [];
    const letters = [...translation.deadLetters];
    for (const event of translation.kvEvents) {
      try {
        out.push({
          destination: kvEventsTopic,
          key: engineId,
          value: options.encodeKvEvent(event),
          messageId: event.eventId,
        });
      } catch (err) {
        letters.push({
          originTopic: `vllm:${endpoint}`,
          originPartition: 0,
          originOffset: String(event.seq),
          stage: 'vllm-bridge',
          reason: `encode: ${reasonOf(err)}`,
          failedAt: now(),
          payload: new Uint8Array(0),
          key: engineId,
          headers: { engineId, eventId: event.eventId },
        });
        translation.issues.push('bad-event');
        continue;
      }
      stats.kvEvents[event.kind]++;
      metrics.kvEvents.inc({ ...labels, kind: event.kind });
    }
    for (const letter of letters) {
      try {
        out.push({ destination: deadLetterTopic, key: engineId, value: options.encodeDeadLetter(letter) });
        stats.deadLetters++;
        metrics.deadLetters.inc(labels);
      } catch (err) {
        logger.error({ err: reasonOf(err), reason: letter.reason }, 'dead letter could not be encoded');
      }
    }
    for (const issue of translation.issues) {
      stats.issues[issue]++;
      metrics.issues.inc({ ...labels, issue });
    }
    return out;
  }

  async function publish(translation: Translation): Promise<void> {
    const messages = toSinkMessages(translation);
    if (translation.deadLetters.length > 0) {
      logger.warn({ reasons: translation.deadLetters.map((l) => l.reason) }, 'events dead-lettered');
    } else if (translation.issues.length > 0) {
      logger.debug({ issues: translation.issues }, 'events counted and skipped');
    }
    if (messages.length === 0) return;
    for (let attempt = 0; ; attempt++) {
      try {
        await sink.write(messages);
        return;
      } catch (err) {
        if (stop.signal.aborted) throw err;
        stats.publishRetries++;
        metrics.publishRetries.inc(labels);
        const delay = backoffMs(attempt);
        logger.error({ err: reasonOf(err), attempt, delayMs: delay }, 'publishing KvEvents failed; retrying');
        await sleep(delay);
      }
    }
  }

  async function apply(message: KvMessage): Promise<void> {
    const translation = translator.translate(message, now());
    stats.messages++;
    metrics.messages.inc(labels);
    tracker.applied(message.seq);
    stats.lastSeq = message.seq;
    metrics.hashMapEntries.set(labels, hashMap.size);
    await publish(translation);
  }

  async function warm(untilSeq: number): Promise<void> {
    if (replayEndpoint === undefined) return;
    try {
      const result = await requestReplay({
        endpoint: replayEndpoint,
        fromSeq: 0,
        untilSeq,
        timeoutMs: replayTimeoutMs,
      });
      let mapped = 0;
      for (const replayed of result.messages) {
        if (replayed.seq >= untilSeq) break;
        translator.translate({ topic: '', seq: replayed.seq, payload: replayed.payload }, now());
        mapped++;
      }
      logger.info({ messages: mapped, hashes: hashMap.size }, 'hash map warmed from the replay buffer');
    } catch (err) {
      logger.warn({ err: reasonOf(err) }, 'could not warm the hash map from the replay buffer');
    }
  }

  async function fillGap(from: number, to: number): Promise<void> {
    stats.gaps++;
    metrics.gaps.inc(labels);
    let expected = from;
    let failure: string | undefined;
    if (replayEndpoint === undefined) {
      failure = 'no replay endpoint configured';
    } else {
      try {
        const result = await requestReplay({
          endpoint: replayEndpoint,
          fromSeq: from,
          untilSeq: to,
          timeoutMs: replayTimeoutMs,
        });
        for (const replayed of result.messages) {
          if (replayed.seq < expected || replayed.seq >= to) continue;
          if (replayed.seq > expected) countMissed(expected, replayed.seq);
          await apply({ topic: '', seq: replayed.seq, payload: replayed.payload });
          stats.replayedMessages++;
          metrics.replayedMessages.inc(labels);
          expected = replayed.seq + 1;
        }
        if (expected < to) failure = result.complete ? 'the replay buffer no longer holds them' : 'replay timed out';
      } catch (err) {
        failure = reasonOf(err);
      }
    }
    if (expected < to) {
      countMissed(expected, to);
      stats.replayFailures++;
      metrics.replayFailures.inc(labels);
      logger.warn({ from: expected, to, reason: failure }, 'sequence gap not recovered; carrying on');
    } else {
      logger.info({ from, to }, 'sequence gap recovered by replay');
    }
  }

  function countMissed(from: number, to: number): void {
    stats.missedMessages += to - from;
    metrics.missedMessages.inc(labels, to - from);
  }

  async function handle(parts: Buffer[]): Promise<void> {
    let message: KvMessage;
    try {
      message = parseKvMessage(parts);
    } catch (err) {
      stats.messages++;
      metrics.messages.inc(labels);
      await publish(translator.rejectMessage(parts, err, now(), tracker.expected ?? -1));
      return;
    }
    const verdict = tracker.classify(message.seq);
    switch (verdict.kind) {
      case 'first':
        if (message.seq > 0 && warmStart) await warm(message.seq);
        break;
      case 'gap':
        await fillGap(verdict.from, verdict.to);
        break;
      case 'restart':
        stats.publisherRestarts++;
        metrics.publisherRestarts.inc(labels);
        logger.warn({ expected: verdict.expected, seq: message.seq }, 'engine restarted its sequence; cache cleared');
        hashMap.clear();
        await publish({
          kvEvents: [
            {
              eventId: `${engineId}:${message.seq}:restart`,
              engineId,
              seq: message.seq,
              ts: now(),
              producedAt: now(),
              kind: 'ALL_CLEARED',
              blockHashes: [],
              parentHash: null,
              tokenIds: [],
              medium: 'GPU',
            },
          ],
          deadLetters: [],
          issues: [],
        });
        break;
      case 'next':
        break;
    }
    await apply(message);
  }

  function setConnected(value: boolean): void {
    stats.connected = value;
    metrics.connected.set(labels, value ? 1 : 0);
  }

  async function run(): Promise<void> {
    for (let attempt = 0; !stop.signal.aborted; attempt++) {
      const sub = new Subscriber({
        linger: 0,
        reconnectInterval: reconnectMinMs,
        reconnectMaxInterval: reconnectMaxMs,
        receiveHighWaterMark: 100_000,
        ...(heartbeatMs > 0 ? { heartbeatInterval: heartbeatMs, heartbeatTimeout: heartbeatMs * 3 } : {}),
      });
      socket = sub;
      sub.events.on('connect', () => {
        setConnected(true);
        logger.info('connected to the engine');
      });
      sub.events.on('disconnect', () => {
        setConnected(false);
        logger.warn('engine connection lost; reconnecting');
      });
      try {
        sub.connect(endpoint);
        sub.subscribe(options.topic ?? '');
        for (;;) {
          const parts = await sub.receive();
          attempt = 0;
          await handle(parts);
        }
      } catch (err) {
        if (stop.signal.aborted) break;
        stats.reconnects++;
        metrics.reconnects.inc(labels);
        const delay = backoffMs(attempt);
        logger.error({ err: reasonOf(err), delayMs: delay }, 'subscriber failed; recreating it');
        await sleep(delay);
      } finally {
        setConnected(false);
        if (!sub.closed) sub.close();
        socket = undefined;
      }
    }
  }

  setConnected(false);
  const closed = run().catch((err: unknown) => {
    logger.error({ err: reasonOf(err) }, 'bridge stopped on an error');
  });

  return {
    engineId,
    stats,
    metrics,
    closed,
    async close() {
      stop.abort();
      if (socket && !socket.closed) socket.close();
      await closed;
    },
  };
}
