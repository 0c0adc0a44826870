/**
 * Event time of the session sub-topology for idle expiry (Kafka Streams' stream time, punctuated by the wall clock):
 * the latest event time seen, advanced by the wall time elapsed since it was seen, so sessions still expire when
 * traffic stops. Before any event it is the wall clock.
 */
export interface StreamClock {
  observe(eventTimeMs: number): void;
  now(): number;
}

export function createStreamClock(wallNow: () => number = Date.now): StreamClock {
  let latest = Number.NEGATIVE_INFINITY;
  let seenAt = 0;
  return {
    observe(eventTimeMs) {
      if (!(eventTimeMs > latest)) return;
      latest = eventTimeMs;
      seenAt = wallNow();
    },
    now: () => (latest === Number.NEGATIVE_INFINITY ? wallNow() : latest + (wallNow() - seenAt)),
  };
}
