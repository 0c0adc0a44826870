import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/** Protocol name the co-partitioning assigner announces; every member of a group must offer it. */
export const CO_PARTITIONED_ASSIGNER = 'cachesage-copartitioned';

/** A group member as the assignment sees it: its id, the topics it subscribes and the partition numbers it holds. */
export interface CoPartitionMember {
  memberId: string;
  /** Partition numbers the member held before this rebalance (kept where the balance allows: stickiness). */
  owned: readonly number[];
  /** Topics it subscribes; default every topic. */
  topics?: readonly string[];
}

/** Topic → partition numbers, per member id. */
export type CoPartitionPlan = Map<string, Record<string, number[]>>;

/**
 * Assigns partition *numbers* to members (DESIGN §7): the member that gets number p gets partition p of every
 * subscribed topic, so an engine's KV events and request events (same key, same partition count) reach the same
 * processor. Balanced (counts differ by at most one) and sticky: a member keeps the numbers it held as far as the
 * balance allows; the rest go, in ascending order, to the least loaded members (ties by member id).
 */
export function assignCoPartitioned(
  members: readonly CoPartitionMember[],
  partitionsByTopic: Readonly<Record<string, number>>,
): CoPartitionPlan {
  const plan: CoPartitionPlan = new Map();
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  const count = Math.max(0, ...Object.values(partitionsByTopic));
  if (sorted.length === 0) return plan;
  const base = Math.floor(count / sorted.length);
  let extraLeft = count % sorted.length;
  const owner = new Map<number, string>();
  const numbers = new Map<string, number[]>(sorted.map((m) => [m.memberId, []]));
  const claim = (memberId: string, p: number): void => {
    owner.set(p, memberId);
    numbers.get(memberId)!.push(p);
  };
  const wishes = new Map(
    sorted.map((m) => [
      m.memberId,
      [...new Set(m.owned)].filter((p) => Number.isInteger(p) && p >= 0 && p < count).sort((a, b) => a - b),
    ]),
  );
  for (const m of sorted) {
    for (const p of wishes.get(m.memberId)!) {
      if (numbers.get(m.memberId)!.length >= base) break;
      if (!owner.has(p)) claim(m.memberId, p);
    }
  }
  for (const m of sorted) {
    if (extraLeft === 0) break;
    const p = wishes.get(m.memberId)!.find((w) => !owner.has(w));
    if (p !== undefined && numbers.get(m.memberId)!.length === base) {
      claim(m.memberId, p);
      extraLeft--;
    }
  }
  for (let p = 0; p < count; p++) {
    if (owner.has(p)) continue;
    let best: string | undefined;
    for (const m of sorted) {
      const held = numbers.get(m.memberId)!.length;
      const room = held < base || (held === base && extraLeft > 0);
      if (room && (best === undefined || held < numbers.get(best)!.length)) best = m.memberId;
    }
    if (best === undefined) break;
    if (numbers.get(best)!.length === base) extraLeft--;
    claim(best, p);
  }
  for (const m of sorted) {
    const subscribed = m.topics ?? Object.keys(partitionsByTopic);
    const mine = numbers.get(m.memberId)!.sort((a, b) => a - b);
    const assignment: Record<string, number[]> = {};
    for (const topic of subscribed) {
      const partitions = partitionsByTopic[topic];
      if (partitions === undefined) continue;
      const list = mine.filter((p) => p < partitions);
      if (list.length > 0) assignment[topic] = list;
    }
    plan.set(m.memberId, assignment);
  }
  return plan;
}

/** Partition numbers a member holds, as it announces them in its join metadata. */
export function encodeOwnedPartitions(owned: readonly number[]): Buffer {
  return Buffer.from(JSON.stringify({ owned: [...owned] }));
}

/** The numbers announced by `encodeOwnedPartitions`; anything unreadable announces none. */
export function decodeOwnedPartitions(userData: Buffer | null | undefined): number[] {
  if (userData === null || userData === undefined || userData.length === 0) return [];
  try {
    const parsed = JSON.parse(userData.toString('utf8')) as { owned?: unknown };
    return Array.isArray(parsed.owned) ? parsed.owned.filter((p): p is number => Number.isInteger(p) && p >= 0) : [];
  } catch {
    return [];
  }
}

export interface CoPartitionedAssignerOptions {
  /** Partition numbers this member holds now; announced to the group leader so they stay where they are. */
  owned?: () => readonly number[];
}

/** A kafkajs partition assigner running `assignCoPartitioned` (pass it in the consumer's `partitionAssigners`). */
export function coPartitionedAssigner(options: CoPartitionedAssignerOptions = {}): PartitionAssigner {
  const { MemberMetadata, MemberAssignment } = AssignerProtocol;
  return ({ cluster }) => ({
    name: CO_PARTITIONED_ASSIGNER,
    version: 0,
    async assign({ members, topics }) {
      const partitionsByTopic: Record<string, number> = {};
      for (const topic of topics) partitionsByTopic[topic] = cluster.findTopicPartitionMetadata(topic).length;
      const plan = assignCoPartitioned(
        members.map(({ memberId, memberMetadata }) => {
          const metadata = MemberMetadata.decode(memberMetadata);
          return {
            memberId,
            owned: decodeOwnedPartitions(metadata?.userData),
            ...(metadata?.topics ? { topics: metadata.topics } : {}),
          };
        }),
        partitionsByTopic,
      );
      return members.map(({ memberId }) => ({
        memberId,
        memberAssignment: MemberAssignment.encode({
          version: 0,
          assignment: plan.get(memberId) ?? {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: CO_PARTITIONED_ASSIGNER,
        metadata: MemberMetadata.encode({
          version: 0,
          topics,
          userData: encodeOwnedPartitions(options.owned?.() ?? []),
        }),
      };
    },
  });
}
