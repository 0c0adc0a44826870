import { ConfigError } from '../../core/errors.js';
import { maxOffset, parseOffset, topicPartitionKey } from './offsets.js';

/** A pause or resume the consumer has to perform after a ledger change. */
export type FlowChange = 'pause' | 'resume' | undefined;

/**
 * The Kafka source's bookkeeping, free of I/O: how many batches are handed to the runtime and not yet committed
 * (pausing the consumer at `maxInFlightBatches`, resuming below it), and the next offset processed per partition, so
 * that records already processed (committed by the runtime, or covered by a state checkpoint) are never delivered
 * twice by one source even when the group commit failed and the broker hands them out again.
 */
export interface BatchLedger {
  readonly maxInFlightBatches: number;
  readonly inFlight: number;
  readonly paused: boolean;
  /** Next unprocessed offset of a partition, or undefined when nothing of it was processed yet. */
  processedNext(topic: string, partition: number): string | undefined;
  /** Records that everything below `next` is processed; positions only move forward. */
  markProcessed(topic: string, partition: number, next: string): void;
  /** The messages at or above both the processed position and `floor` (e.g. a restored checkpoint). */
  unprocessed<M extends { offset: string }>(
    topic: string,
    partition: number,
    messages: readonly M[],
    floor?: string,
  ): M[];
  /** A batch was handed to the runtime: 'pause' when that reaches the limit. */
  open(): FlowChange;
  /** A handed-out batch was committed or abandoned: 'resume' when that frees room after a pause. */
  settle(): FlowChange;
}

export interface BatchLedgerOptions {
  /** Batches handed out and not yet committed before the consumer pauses. At least 1. */
  maxInFlightBatches: number;
}

export function createBatchLedger(options: BatchLedgerOptions): BatchLedger {
  const max = options.maxInFlightBatches;
  if (!Number.isInteger(max) || max < 1) {
    throw new ConfigError(`batch ledger: maxInFlightBatches must be an integer >= 1, got ${max}`);
  }
  const processed = new Map<string, string>();
  let inFlight = 0;
  let paused = false;
  const processedNext = (topic: string, partition: number): string | undefined =>
    processed.get(topicPartitionKey(topic, partition));
  return {
    maxInFlightBatches: max,
    get inFlight() {
      return inFlight;
    },
    get paused() {
      return paused;
    },
    processedNext,
    markProcessed(topic, partition, next) {
      const key = topicPartitionKey(topic, partition);
      processed.set(key, maxOffset(processed.get(key), next)!);
    },
    unprocessed(topic, partition, messages, floor) {
      const from = maxOffset(processedNext(topic, partition), floor);
      if (from === undefined) return [...messages];
      const limit = parseOffset(from);
      return messages.filter((m) => parseOffset(m.offset) >= limit);
    },
    open() {
      inFlight++;
      if (inFlight >= max && !paused) {
        paused = true;
        return 'pause';
      }
      return undefined;
    },
    settle() {
      if (inFlight > 0) inFlight--;
      if (inFlight < max && paused) {
        paused = false;
        return 'resume';
      }
      return undefined;
    },
  };
}
