import { Observable } from 'rxjs';
import type { KafkaSource } from '../../adapters/kafka/kafka-source.js';
import { ConfigError } from '../../core/errors.js';
import type { Source, SourceBatch } from '../../core/io.js';

/** Partition numbers of the member's current assignment (every topic together). */
export function ownedPartitions(source: Pick<KafkaSource, 'stats'>): number[] {
  return [...new Set(Object.values(source.stats.assignment).flat())].sort((a, b) => a - b);
}

export interface GuardedSourceOptions {
  source: KafkaSource;
  /**
   * Runs after every group join, before the next batch is delivered (and, through `pollMs`, even when no batch
   * comes): state for the new assignment is made ready here. Batches wait meanwhile.
   */
  prepare: (owned: readonly number[]) => Promise<void>;
  /** Drops records already folded in; a batch left empty is committed without being delivered. */
  admit?: (batch: SourceBatch<Uint8Array>) => SourceBatch<Uint8Array>;
  /** How often to look for a new assignment while no batch arrives; default 500. */
  pollMs?: number;
  /** Told about every batch delivered (metrics). */
  onDelivered?: (batch: SourceBatch<Uint8Array>) => void;
}

/** A Kafka source whose batches are held back until the state of a new assignment is prepared. */
export interface GuardedSource extends Source<Uint8Array> {
  /** Group joins prepared so far. */
  readonly preparedJoins: number;
}

/**
 * Wraps a Kafka source so that after every rebalance the runtime rebuilds or reloads partition state before it
 * processes (and acts on) a batch of the new assignment (DESIGN §7). Batches are delivered one after another in
 * arrival order; preparation runs between them.
 */
export function createGuardedSource(options: GuardedSourceOptions): GuardedSource {
  const { source, prepare } = options;
  const pollMs = options.pollMs ?? 500;
  if (!(Number.isFinite(pollMs) && pollMs > 0)) throw new ConfigError(`guarded source: bad pollMs ${pollMs}`);
  let preparedJoins = 0;
  let chain: Promise<void> = Promise.resolve();
  let failed: ((err: unknown) => void) | undefined;

  const ensurePrepared = async (): Promise<void> => {
    while (source.stats.joins !== preparedJoins) {
      const joins = source.stats.joins;
      await prepare(ownedPartitions(source));
      preparedJoins = joins;
    }
  };
  const enqueue = (step: () => Promise<void>): void => {
    chain = chain.then(step).catch((err: unknown) => failed?.(err));
  };

  const batches = new Observable<SourceBatch<Uint8Array>>((subscriber) => {
    failed = (err) => subscriber.error(err);
    let polling = false;
    const timer = setInterval(() => {
      if (polling || source.stats.joins === preparedJoins || source.stats.joins === 0) return;
      polling = true;
      enqueue(async () => {
        polling = false;
        await ensurePrepared();
      });
    }, pollMs);
    const subscription = source.batches().subscribe({
      next: (batch) =>
        enqueue(async () => {
          await ensurePrepared();
          const admitted = options.admit ? options.admit(batch) : batch;
          if (admitted.records.length === 0) {
            await batch.commit();
            return;
          }
          options.onDelivered?.(admitted);
          subscriber.next(admitted);
        }),
      error: (err: unknown) => subscriber.error(err),
      complete: () => enqueue(async () => subscriber.complete()),
    });
    return () => {
      clearInterval(timer);
      subscription.unsubscribe();
      failed = undefined;
    };
  });

  return {
    name: `${source.name} (guarded)`,
    get preparedJoins() {
      return preparedJoins;
    },
    batches: () => batches,
    close: () => source.close(),
  };
}
