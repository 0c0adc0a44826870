import type { SimEvent } from '../../../adapters/engine-sim/engine-sim.js';
import type { Sink, SinkMessage } from '../../../core/io.js';
import type { KvEvent, RequestEvent } from '../../../schemas/types.js';
import { hashOf } from './fixtures.js';

/** A synchronous sink that keeps every message, with an optional hook called on each one as it is written. */
export interface RecordingSink extends Sink<SimEvent> {
  messages: SinkMessage<SimEvent>[];
  kv(): KvEvent[];
  requests(): RequestEvent[];
}

export function recordingSink(onMessage?: (m: SinkMessage<SimEvent>) => void): RecordingSink {
  const messages: SinkMessage<SimEvent>[] = [];
  return {
    name: 'recording',
    messages,
    write(batch) {
      for (const m of batch) {
        messages.push(m);
        onMessage?.(m);
      }
    },
    async close() {},
    kv: () => messages.filter((m) => m.destination === 'cachesage.kv-events').map((m) => m.value as KvEvent),
    requests: () => messages.filter((m) => m.destination === 'cachesage.requests').map((m) => m.value as RequestEvent),
  };
}

/** Block id of a fixture hash. */
export function idOf(hash: bigint): number {
  return Number((hash - 7n) / 1_000_003n);
}

/** GPU blocks removed by each BLOCK_REMOVED event, as ids. */
export function gpuRemovals(events: readonly KvEvent[]): number[][] {
  return events.filter((e) => e.kind === 'BLOCK_REMOVED' && e.medium === 'GPU').map((e) => e.blockHashes.map(idOf));
}

export { hashOf };
