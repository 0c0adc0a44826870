/**
 * What a sequence number means relative to the last one applied:
 * - `first`: nothing was applied yet (the bridge started mid-stream);
 * - `next`: exactly the expected one;
 * - `gap`: `[from, to)` were skipped (`to` is the number just seen);
 * - `restart`: lower than expected: the publisher restarted and counts from 0 again (the live PUB stream never
 *   repeats a number; replayed messages are filtered by range, not through the tracker).
 */
export type SequenceVerdict =
  | { kind: 'first' }
  | { kind: 'next' }
  | { kind: 'gap'; from: number; to: number }
  | { kind: 'restart'; expected: number };

/** Tracks the next expected sequence number of one PUB stream. */
export class SequenceTracker {
  #expected: number | null = null;

  /** The next sequence number expected, or null before the first message. */
  get expected(): number | null {
    return this.#expected;
  }

  /** Classifies `seq` without applying it. */
  classify(seq: number): SequenceVerdict {
    const expected = this.#expected;
    if (expected === null) return { kind: 'first' };
    if (seq === expected) return { kind: 'next' };
    if (seq > expected) return { kind: 'gap', from: expected, to: seq };
    return { kind: 'restart', expected };
  }

  /** Records `seq` as applied: the next expected number is `seq + 1`. */
  applied(seq: number): void {
    this.#expected = seq + 1;
  }

  reset(): void {
    this.#expected = null;
  }
}
