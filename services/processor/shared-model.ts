import type { ModelUpdate } from '../../schemas/types.js';
import type { TableRow } from './table-reader.js';
import { type SummedCounts, sumCounts } from './transition-counts.js';

/**
 * The learned model every processor shares (DESIGN §7): the latest ModelUpdate of every (workload, partition) read
 * from the compacted model topic, summed per workload. Listeners hear about every workload whose sums changed.
 */
export interface SharedModel {
  /** Feed of the model table reader (`onChange`). */
  update(key: string, row: TableRow<ModelUpdate> | undefined): void;
  /** Summed counts of one workload (none when no partition has counts for it). */
  sums(workloadId: string): SummedCounts | undefined;
  workloads(): string[];
  /** Listeners are told the workload whose sums changed. */
  onChange(listener: (workloadId: string, sums: SummedCounts) => void): void;
}

function workloadOfKey(key: string): string {
  const at = key.lastIndexOf(':');
  return at < 0 ? key : key.slice(0, at);
}

export function createSharedModel(): SharedModel {
  const parts = new Map<string, Map<string, ModelUpdate>>();
  const totals = new Map<string, SummedCounts>();
  const listeners: ((workloadId: string, sums: SummedCounts) => void)[] = [];
  return {
    update(key, row) {
      const workloadId = row?.value.workloadId ?? workloadOfKey(key);
      let byKey = parts.get(workloadId);
      if (row === undefined) byKey?.delete(key);
      else {
        if (byKey === undefined) {
          byKey = new Map();
          parts.set(workloadId, byKey);
        }
        byKey.set(key, row.value);
      }
      const sums = sumCounts(byKey?.values() ?? []);
      totals.set(workloadId, sums);
      for (const listener of listeners) listener(workloadId, sums);
    },
    sums: (workloadId) => totals.get(workloadId),
    workloads: () => [...totals.keys()].sort(),
    onChange(listener) {
      listeners.push(listener);
    },
  };
}
