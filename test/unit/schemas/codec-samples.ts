import type { SchemaName, SchemaTypes } from '../../../schemas/codec.js';

/** Extremes of the hash space and of the JavaScript-safe long range. */
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
export const EDGE_HASHES: bigint[] = [
  INT64_MIN,
  INT64_MAX,
  0n,
  -1n,
  1n,
  63n,
  64n,
  -64n,
  -65n,
  2n ** 31n,
  -(2n ** 31n),
  2n ** 32n - 1n,
  2n ** 53n + 1n,
  -(2n ** 53n) - 1n,
  INT64_MIN + 1n,
  INT64_MAX - 1n,
];

/** Seeded PRNG (mulberry32): the same seed gives the same sequence on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomHashes(rand: () => number, n: number): bigint[] {
  return Array.from({ length: n }, () =>
    BigInt.asIntN(64, (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32))),
  );
}

const header = {
  engineId: 'engine-0',
  seq: 42,
  issuedAt: 1_700_000_000_123,
  ttlMs: 2_000,
  causeId: 'req-7/FINISHED',
  causeProducedAt: 1_700_000_000_100,
  policy: 'cachesage',
};

/**
 * Sample values of every record, typed `Required<...>` so that each literal names exactly the fields of the
 * TypeScript interface (no more, no fewer): the registry test compares these keys with the Avro field lists.
 */
export const SAMPLES: { [K in SchemaName]: Required<SchemaTypes[K]>[] } = {
  RequestEvent: [
    {
      eventId: 'ev-1',
      requestId: 'req-1',
      engineId: 'engine-0',
      workloadId: 'chatdev',
      sessionId: 'task-17',
      agentId: 'Programmer',
      phase: 'FINISHED',
      ts: 1_700_000_000_000,
      producedAt: 1_700_000_000_005,
      promptTokens: 8192,
      cachedTokens: 4096,
      blockHashes: EDGE_HASHES,
      outputBlockHashes: [INT64_MAX, INT64_MIN],
      outputTokens: 300,
      toolCall: 'run_tests',
    },
    {
      eventId: '',
      requestId: 'réq-ü-😀',
      engineId: 'e',
      workloadId: 'w',
      sessionId: 's',
      agentId: 'a',
      phase: 'ARRIVED',
      ts: 0,
      producedAt: Number.MAX_SAFE_INTEGER - 1,
      promptTokens: 0,
      cachedTokens: 0,
      blockHashes: [],
      outputBlockHashes: [],
      outputTokens: 0,
      toolCall: null,
    },
  ],
  KvEvent: [
    {
      eventId: 'kv-1',
      engineId: 'engine-0',
      seq: 9_007_199_254_740_990,
      ts: 1_700_000_000_000,
      producedAt: 1_700_000_000_001,
      kind: 'BLOCK_STORED',
      blockHashes: EDGE_HASHES,
      parentHash: INT64_MIN,
      tokenIds: [0, 1, 128_255, 2 ** 31 - 1, -(2 ** 31)],
      medium: 'GPU',
    },
    {
      eventId: 'kv-2',
      engineId: 'engine-1',
      seq: 0,
      ts: -1,
      producedAt: 0,
      kind: 'ALL_CLEARED',
      blockHashes: [],
      parentHash: null,
      tokenIds: [],
      medium: 'DISK',
    },
  ],
  EvictionHints: [
    {
      ...header,
      kind: 'evict',
      entries: [
        { contextId: 'task-17/Programmer', blockHashes: [INT64_MAX, 5n], fromBlock: 0, priority: 0.25 },
        { contextId: null, blockHashes: [INT64_MIN], fromBlock: 0, priority: -1e300 },
        { contextId: 'task-17/Reviewer', blockHashes: [], fromBlock: 0, priority: Number.POSITIVE_INFINITY },
        { contextId: 'task-17/Programmer', blockHashes: [7n], fromBlock: 2_147_483_647, priority: 1 },
      ],
    },
    { ...header, kind: 'evict', seq: 0, entries: [] },
  ],
  Prefetch: [
    {
      ...header,
      kind: 'prefetch',
      sessionId: 'task-17',
      agentId: 'Reviewer',
      blockHashes: EDGE_HASHES,
      deadlineMs: 1_500,
    },
    { ...header, kind: 'prefetch', sessionId: '', agentId: '', blockHashes: [], deadlineMs: 0 },
  ],
  Pin: [
    { ...header, kind: 'pin', blockHashes: [INT64_MIN, INT64_MAX], pinTtlMs: 30_000 },
    { ...header, kind: 'pin', blockHashes: [], pinTtlMs: 0 },
  ],
  ModelUpdate: [
    {
      workloadId: 'chatdev',
      partition: 3,
      offset: 123_456_789_012,
      agents: ['CEO', 'CTO', 'Programmer'],
      counts: [0, 5, 1, 0, 2, 0, 7, 1, 3, 4, 0, 9, 0, 0, 0, 0],
      updatedAt: 1_700_000_000_000,
      bucketMs: 60_000,
      buckets: [
        { startMs: 1_699_999_940_000, counts: [0, 1, 0, 0, 0, 0, 2, 0, 1, 0, 0, 3, 0, 0, 0, 0] },
        { startMs: 1_700_000_000_000, counts: [] },
      ],
    },
    {
      workloadId: 'empty',
      partition: 0,
      offset: 0,
      agents: [],
      counts: [0],
      updatedAt: 0,
      bucketMs: 0,
      buckets: [],
    },
  ],
  SessionPosition: [
    {
      workloadId: 'chatdev',
      sessionId: 'task-17',
      lastAgent: 'Programmer',
      prevAgent: 'CTO',
      steps: 12,
      lastTs: 1_700_000_000_000,
      engineId: 'engine-0',
    },
    {
      workloadId: 'chatdev',
      sessionId: 'task-18',
      lastAgent: 'CEO',
      prevAgent: null,
      steps: 1,
      lastTs: 0,
      engineId: 'engine-3',
    },
  ],
  DeadLetter: [
    {
      originTopic: 'cachesage.kv-events',
      originPartition: 7,
      originOffset: '18446744073709551615',
      stage: 'decode',
      reason: 'DECODE_FAILED: KvEvent: truncated body',
      failedAt: 1_700_000_000_000,
      payload: Buffer.from([0, 0, 0, 0, 2, 0xff, 0x00]),
      key: 'engine-0',
      headers: JSON.parse('{"cachesage-schema-id": "2", "__proto__": "x", "empty": ""}'),
    },
    {
      originTopic: 't',
      originPartition: 0,
      originOffset: '0',
      stage: 's',
      reason: '',
      failedAt: 0,
      payload: Buffer.alloc(0),
      key: null,
      headers: {},
    },
  ],
};
