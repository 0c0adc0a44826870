import { AssignerProtocol } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  assignCoPartitioned,
  CO_PARTITIONED_ASSIGNER,
  type CoPartitionMember,
  coPartitionedAssigner,
  decodeOwnedPartitions,
  encodeOwnedPartitions,
} from '../../../../adapters/kafka/co-partitioned-assigner.js';

const TOPICS = { kv: 6, requests: 6 };

function numbersOf(plan: Map<string, Record<string, number[]>>): Record<string, number[]> {
  return Object.fromEntries([...plan].map(([id, a]) => [id, a.kv ?? []]));
}

function checkCoPartitioned(plan: Map<string, Record<string, number[]>>, counts: Record<string, number>): void {
  const seen = new Map<string, string>();
  for (const [member, assignment] of plan) {
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const p of partitions) {
        expect(seen.has(`${topic}/${p}`)).toBe(false);
        seen.set(`${topic}/${p}`, member);
      }
    }
  }
  for (const [topic, count] of Object.entries(counts)) {
    for (let p = 0; p < count; p++) expect(seen.has(`${topic}/${p}`)).toBe(true);
  }
  for (const [key, member] of seen) {
    const p = key.split('/')[1]!;
    for (const topic of Object.keys(counts)) {
      if (Number(p) < counts[topic]!) expect(seen.get(`${topic}/${p}`)).toBe(member);
    }
  }
}

describe('co-partitioned assignment', () => {
  it('gives each member the same partition numbers of every topic, balanced within one', () => {
    for (const memberCount of [1, 2, 3, 4, 5, 7]) {
      const members: CoPartitionMember[] = Array.from({ length: memberCount }, (_, i) => ({
        memberId: `m${i}`,
        owned: [],
      }));
      const plan = assignCoPartitioned(members, TOPICS);
      checkCoPartitioned(plan, TOPICS);
      const sizes = [...plan.values()].map((a) => a.kv?.length ?? 0);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(sizes.reduce((x, y) => x + y, 0)).toBe(6);
      for (const a of plan.values()) expect(a.kv ?? []).toEqual(a.requests ?? []);
    }
  });

  it('is deterministic whatever the member order', () => {
    const members: CoPartitionMember[] = ['c', 'a', 'b'].map((memberId) => ({ memberId, owned: [] }));
    const plan = assignCoPartitioned(members, TOPICS);
    expect(numbersOf(plan)).toEqual(numbersOf(assignCoPartitioned([...members].reverse(), TOPICS)));
    expect(numbersOf(plan)).toEqual({ a: [0, 3], b: [1, 4], c: [2, 5] });
  });

  it('is sticky: a joining member takes partitions away without reshuffling the others', () => {
    const before = { a: [0, 1, 2], b: [3, 4, 5] };
    const plan = assignCoPartitioned(
      [
        { memberId: 'a', owned: before.a },
        { memberId: 'b', owned: before.b },
        { memberId: 'c', owned: [] },
      ],
      TOPICS,
    );
    const after = numbersOf(plan);
    expect(after.a!.every((p) => before.a.includes(p))).toBe(true);
    expect(after.b!.every((p) => before.b.includes(p))).toBe(true);
    expect(after.a).toHaveLength(2);
    expect(after.b).toHaveLength(2);
    expect(after.c).toHaveLength(2);
    checkCoPartitioned(plan, TOPICS);
  });

  it('is sticky when a member leaves: the survivors keep theirs and share the orphans', () => {
    const plan = assignCoPartitioned(
      [
        { memberId: 'a', owned: [0, 3] },
        { memberId: 'c', owned: [2, 5] },
      ],
      TOPICS,
    );
    const after = numbersOf(plan);
    expect(after.a).toEqual(expect.arrayContaining([0, 3]));
    expect(after.c).toEqual(expect.arrayContaining([2, 5]));
    expect([...after.a!, ...after.c!].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('settles conflicting or stale claims: first member by id wins, out-of-range numbers are ignored', () => {
    const plan = assignCoPartitioned(
      [
        { memberId: 'b', owned: [0, 1, 2, 3] },
        { memberId: 'a', owned: [0, 1, 9, -1] },
      ],
      { kv: 4, requests: 4 },
    );
    expect(numbersOf(plan)).toEqual({ a: [0, 1], b: [2, 3] });
  });

  it('handles topics with fewer partitions, subscriptions per member, more members than partitions', () => {
    const plan = assignCoPartitioned(
      [
        { memberId: 'a', owned: [], topics: ['kv'] },
        { memberId: 'b', owned: [] },
        { memberId: 'c', owned: [] },
      ],
      { kv: 2, requests: 1 },
    );
    expect(plan.get('a')).toEqual({ kv: [0] });
    expect(plan.get('b')).toEqual({ kv: [1] });
    expect(plan.get('c')).toEqual({});
    const none = assignCoPartitioned([], TOPICS);
    expect(none.size).toBe(0);
  });

  it('announces owned partitions in the join metadata; unreadable metadata announces none', () => {
    expect(decodeOwnedPartitions(encodeOwnedPartitions([3, 1]))).toEqual([3, 1]);
    expect(decodeOwnedPartitions(Buffer.from('{'))).toEqual([]);
    expect(decodeOwnedPartitions(Buffer.from('{"owned":[1,-2,"x",2.5]}'))).toEqual([1]);
    expect(decodeOwnedPartitions(null)).toEqual([]);
  });

  it('runs as a kafkajs assigner: metadata carries ownership, the leader decodes it into an assignment', async () => {
    const cluster = {
      findTopicPartitionMetadata: (topic: string) =>
        Array.from({ length: TOPICS[topic as keyof typeof TOPICS] }, (_, i) => ({ partitionId: i })),
    };
    const make = (owned: number[]) =>
      coPartitionedAssigner({ owned: () => owned })({ cluster, groupId: 'g', logger: undefined } as never);
    const a = make([4, 5]);
    const b = make([]);
    const topics = ['kv', 'requests'];
    expect(a.name).toBe(CO_PARTITIONED_ASSIGNER);
    const members = [
      { memberId: 'a', memberMetadata: a.protocol({ topics }).metadata },
      { memberId: 'b', memberMetadata: b.protocol({ topics }).metadata },
    ];
    const result = await b.assign({ members, topics });
    const decoded = Object.fromEntries(
      result.map((r) => [r.memberId, AssignerProtocol.MemberAssignment.decode(r.memberAssignment)!.assignment]),
    );
    expect(decoded.a!.kv).toEqual(expect.arrayContaining([4, 5]));
    expect(decoded.a!.kv).toEqual(decoded.a!.requests);
    expect(decoded.b!.kv).toEqual(decoded.b!.requests);
    expect([...decoded.a!.kv!, ...decoded.b!.kv!].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
