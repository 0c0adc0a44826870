import type { Sink } from '../../core/io.js';
import { type Checkpoint, commonCheckpoint } from './changelog-checkpoint.js';
import { type ChangelogStore, checkpointRecord } from './changelog-store.js';
import type { CommitPosition } from './kafka-source.js';
import { maxOffset } from './offsets.js';

/** Counters of a committer (a live view). */
export interface ChangelogCommitterStats {
  /** Commits that wrote state (changes and checkpoints). */
  writes: number;
  /** Changelog records written, checkpoints included. */
  records: number;
}

/**
 * Writes the state changes of a batch together with the source position they cover, when the batch commits (the
 * Kafka source's `beforeCommit`), and tells the source which records the restored state already covers.
 */
export interface ChangelogCommitter {
  readonly stats: Readonly<ChangelogCommitterStats>;
  /** Positions covered so far: the restored checkpoint, then every commit. */
  positions(): Checkpoint;
  /** Next offset the state covers on a partition (records below it were folded in already). */
  processedBelow(topic: string, partition: number): string | undefined;
  /** Writes every store's changes, and with them a checkpoint covering `position` in every store, in one write. */
  commit(position: CommitPosition): Promise<void>;
  /** Takes the position covered by the stores' restored checkpoints (call after they restored). */
  restored(): void;
}

export interface ChangelogCommitterOptions {
  stores: readonly ChangelogStore<unknown>[];
  /** The Kafka sink the changelogs are written through (one request per commit). */
  sink: Sink<Uint8Array | null>;
}

/** The position the restored stores cover: none when a store holds data but no checkpoint. */
export function restoredPosition(stores: readonly ChangelogStore<unknown>[]): Checkpoint {
  const withData = stores.filter((s) => s.restoredRecords > 0);
  if (withData.some((s) => s.checkpoint === undefined)) return {};
  return commonCheckpoint(withData.map((s) => s.checkpoint!));
}

/**
 * Checkpointed changelogs (DESIGN §7: state stored with the offsets it covers). On each commit the changed keys of
 * every store and one checkpoint record per store go out in a single produce request; the source then commits the
 * group offset. A crash between the two leaves state ahead of the group offset, and the checkpoint lets the next
 * owner skip exactly the records the state already holds, so nothing is folded in twice.
 */
export function createChangelogCommitter(options: ChangelogCommitterOptions): ChangelogCommitter {
  const { stores, sink } = options;
  let covered: Checkpoint = {};
  const stats: ChangelogCommitterStats = { writes: 0, records: 0 };
  const snapshot = (): Checkpoint =>
    Object.fromEntries(Object.entries(covered).map(([topic, partitions]) => [topic, { ...partitions }]));
  return {
    stats,
    positions: snapshot,
    processedBelow: (topic, partition) => covered[topic]?.[String(partition)],
    restored() {
      covered = restoredPosition(stores);
    },
    async commit({ topic, partition, nextOffset }) {
      covered[topic] ??= {};
      covered[topic][String(partition)] = maxOffset(covered[topic][String(partition)], nextOffset)!;
      const changes = stores.flatMap((s) => s.takeChanges());
      if (changes.length === 0) return;
      const positions = snapshot();
      const records = [...changes, ...stores.map((s) => checkpointRecord(s.topic, positions))];
      await sink.write(records);
      stats.writes++;
      stats.records += records.length;
    },
  };
}
