import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { DraftedAct } from '../../../processors/decide.js';
import { toStageRecord } from '../../../processors/stage-record.js';
import { stampActs } from '../../../processors/stamp-acts.js';
import type { Act } from '../../../schemas/types.js';
import { createActSeqStore, seqFloorAt } from '../../../services/processor/act-seq-store.js';

describe('act seq store', () => {
  it('continues above the floor, and a restart continues above every seq of an earlier owner', async () => {
    const first = createActSeqStore('act-seq', seqFloorAt(1_000));
    const stamp = (store: typeof first) =>
      lastValueFrom(
        from(
          [1, 2].map((i) =>
            toStageRecord<DraftedAct>({
              origin: { topic: 't', partition: 0, offset: String(i) },
              key: 'e',
              value: {
                policy: 'p',
                engineId: 'e',
                draft: { kind: 'pin' as const, ttlMs: 0, blockHashes: [], pinTtlMs: 1 },
                causeId: `c${i}`,
                causeProducedAt: 5,
                eventTs: 42,
              },
              timestampMs: 0,
              headers: {},
            }),
          ),
        ).pipe(stampActs({ stage: 'stamp', seqStore: store, defaultTtlMs: 100 }), toArray()),
      );
    const a = (await stamp(first)).map((r) => (r as { value: Act }).value);
    expect(a.map((x) => x.seq)).toEqual([1_000_001, 1_000_002]);
    expect(a[0]?.issuedAt).toBe(42);
    const next = createActSeqStore('act-seq', seqFloorAt(1_001));
    const b = (await stamp(next)).map((r) => (r as { value: Act }).value);
    expect(b[0]!.seq).toBeGreaterThan(a[1]!.seq);
    next.restart(seqFloorAt(2_000));
    expect(next.size).toBe(0);
    expect(next.get('anything')).toBe(2_000_000);
    expect(Number.isSafeInteger(seqFloorAt(Date.now()))).toBe(true);
  });
});
