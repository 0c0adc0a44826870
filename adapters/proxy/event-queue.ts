import type { Logger } from 'pino';
import { ConfigError, reasonOf } from '../../core/errors.js';
import type { Sink, SinkMessage } from '../../core/io.js';

export interface EventQueueOptions {
  sink: Sink<Uint8Array>;
  /** Most messages held while the sink is slow or down; the oldest are dropped beyond it. Default 10,000. */
  capacity?: number;
  /** First retry delay after a failed write; doubles up to `retryMaxMs`. Default 100 ms. */
  retryMinMs?: number;
  /** Default 5,000 ms. */
  retryMaxMs?: number;
  logger: Logger;
  /** Called with the number of messages dropped for lack of room. */
  onDrop?: (count: number) => void;
  /** Called after a failed write (that will be retried). */
  onWriteError?: (err: unknown) => void;
}

/**
 * Messages written to a sink one batch at a time, in order, never blocking the caller: whatever accumulates while a
 * write is in flight goes out in the next one (an idempotent Kafka producer must not send concurrently).
 */
export class EventQueue {
  readonly #options: Required<Omit<EventQueueOptions, 'onDrop' | 'onWriteError'>> &
    Pick<EventQueueOptions, 'onDrop' | 'onWriteError'>;
  #queue: SinkMessage<Uint8Array>[] = [];
  #flushing: Promise<void> | null = null;
  #closed = false;
  #written = 0;

  constructor(options: EventQueueOptions) {
    const capacity = options.capacity ?? 10_000;
    if (!Number.isInteger(capacity) || capacity < 1) throw new ConfigError(`event queue capacity must be >= 1`);
    this.#options = {
      capacity,
      retryMinMs: options.retryMinMs ?? 100,
      retryMaxMs: options.retryMaxMs ?? 5_000,
      ...options,
    };
  }

  /** Messages handed to the sink so far. */
  get written(): number {
    return this.#written;
  }

  get pending(): number {
    return this.#queue.length;
  }

  push(message: SinkMessage<Uint8Array>): void {
    if (this.#closed) return;
    this.#queue.push(message);
    const excess = this.#queue.length - this.#options.capacity;
    if (excess > 0) {
      this.#queue.splice(0, excess);
      this.#options.onDrop?.(excess);
    }
    this.#flushing ??= this.#drain();
  }

  /** Resolves once everything pushed so far was written (or dropped on close). */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
  }

  /** Writes what is queued, waiting at most `timeoutMs`, then stops accepting messages (the rest is dropped). */
  async close(timeoutMs = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.#closed = true;
    const dropped = this.#queue.length;
    this.#queue = [];
    if (dropped > 0) this.#options.onDrop?.(dropped);
  }

  async #drain(): Promise<void> {
    let attempt = 0;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        try {
          await this.#options.sink.write(batch);
          this.#written += batch.length;
          attempt = 0;
        } catch (err) {
          this.#options.onWriteError?.(err);
          this.#queue = batch.concat(this.#queue);
          if (this.#closed) return;
          const delay = Math.min(this.#options.retryMaxMs, this.#options.retryMinMs * 2 ** Math.min(attempt++, 20));
          this.#options.logger.error({ err: reasonOf(err), delayMs: delay }, 'writing request events failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    } finally {
      this.#flushing = null;
    }
  }
}
