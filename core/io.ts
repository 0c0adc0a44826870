import type { Observable } from 'rxjs';

/**
 * The edges of the runtime (DESIGN §5, §12). Every transport (in-memory bus, Kafka, NATS) implements these
 * interfaces; topologies and processors only ever see them. The in-memory bus is the twin of Kafka + NATS.
 */

/** Where a record came from: enough to dead-letter it, commit past it, or find it again. */
export interface Origin {
  topic: string;
  partition: number;
  /** Kafka offset as a decimal string (kafkajs convention); the in-memory bus counts from "0". */
  offset: string;
}

/** One record read from a source. `value` is raw bytes on Kafka and on the in-memory bus in bytes mode. */
export interface SourceRecord<T = Uint8Array> {
  origin: Origin;
  key: string | null;
  value: T;
  /** Record timestamp, epoch ms (broker/producer time on Kafka; the scheduler's time on the in-memory bus). */
  timestampMs: number;
  headers: Readonly<Record<string, string>>;
}

/**
 * Records of one partition, in offset order. The runtime calls `commit()` once every output the batch produced has
 * been published (sinks flushed): offsets are never committed ahead of the acts they caused (at-least-once).
 */
export interface SourceBatch<T = Uint8Array> {
  topic: string;
  partition: number;
  records: SourceRecord<T>[];
  commit(): Promise<void> | void;
}

/** A readable edge: one or more topics of one transport, delivered as partition batches. */
export interface Source<T = Uint8Array> {
  readonly name: string;
  /** Batches as they arrive. Hot; completes when the source is closed. */
  batches(): Observable<SourceBatch<T>>;
  close(): Promise<void>;
}

/** One message to write: a Kafka topic or a NATS subject in `destination`. */
export interface SinkMessage<T = Uint8Array> {
  destination: string;
  key: string | null;
  value: T;
  headers?: Record<string, string>;
  /** Deterministic id for de-duplicated delivery (JetStream `msgID`); ignored where the transport has none. */
  messageId?: string;
}

/**
 * A writable edge. `write` may return void when the transport accepted the messages synchronously (the in-memory
 * bus), or a promise that settles once they are durably handed over (Kafka acks, NATS flush).
 */
export interface Sink<T = Uint8Array> {
  readonly name: string;
  write(messages: readonly SinkMessage<T>[]): Promise<void> | void;
  close(): Promise<void>;
}

/**
 * A named key/value state store (Kafka Streams' state store). Reads are synchronous; `flush()` persists what changed
 * since the last flush to the store's changelog (a compacted topic) where it has one; `restore()` rebuilds the
 * contents from that changelog. The in-memory store's flush/restore are no-ops.
 */
export interface Store<V> {
  readonly name: string;
  get(key: string): V | undefined;
  put(key: string, value: V): void;
  delete(key: string): void;
  has(key: string): boolean;
  keys(): IterableIterator<string>;
  entries(): IterableIterator<[string, V]>;
  readonly size: number;
  flush(): Promise<void> | void;
  restore(): Promise<void> | void;
}

/**
 * Time for everything that runs on simulated or real time: the in-memory bus, the simulator, act TTLs.
 * `schedule` runs `fn` at `atMs` (never earlier than `now()`); equal times run in scheduling order.
 */
export interface Scheduler {
  now(): number;
  schedule(atMs: number, fn: () => void): void;
}

/** A message delivered on a subject (NATS core, or the in-memory bus's act subjects). */
export interface SubjectMessage<T = Uint8Array> {
  subject: string;
  value: T;
  headers: Readonly<Record<string, string>>;
}

/** Stops a subscription; calling it twice is harmless. */
export type Unsubscribe = () => void;

/**
 * Subscribes `handler` to every subject matching `pattern` (NATS wildcards: `*` one token, `>` the rest). The
 * in-memory bus and the NATS transport both provide one; engine hooks take it as their only dependency.
 */
export type SubscribeFn<T = Uint8Array> = (
  pattern: string,
  handler: (message: SubjectMessage<T>) => void,
) => Unsubscribe;
