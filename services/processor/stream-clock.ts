/**
 * Event time of the session sub-topology for idle expiry, kept per partition (Kafka Streams' stream time of a task,
 * punctuated by the wall clock): the latest event time seen on the partition, advanced by the wall time elapsed
 * since it was seen, so sessions still expire when traffic stops, and a partition whose records are still being
 * caught up (after a takeover) does not look idle because other partitions moved on. Before any event of a
 * partition its time is the wall clock.
 */
export interface StreamClock {
  observe(partition: number, eventTimeMs: number): void;
  now(partition: number): number;
  /** Forgets every partition (a new assignment). */
  reset(): void;
}

export function createStreamClock(wallNow: () => number = Date.now): StreamClock {
  const latest = new Map<number, { ts: number; seenAt: number }>();
  return {
    observe(partition, eventTimeMs) {
      const current = latest.get(partition);
      if (current !== undefined && !(eventTimeMs > current.ts)) return;
      latest.set(partition, { ts: eventTimeMs, seenAt: wallNow() });
    },
    now(partition) {
      const current = latest.get(partition);
      return current === undefined ? wallNow() : current.ts + (wallNow() - current.seenAt);
    },
    reset: () => latest.clear(),
  };
}
