import { ConfigError } from '../../core/errors.js';
import { type CacheSageState, workloadOf } from './state.js';
import { agentIndex, createTransitionModel, END, observeTransition } from './transition-model.js';

/** Column of END in a first-order row, as `observeTransition` writes it. */
const END_COLUMN: number = (() => {
  const probe = createTransitionModel();
  observeTransition(probe, null, 0, END);
  return [...(probe.first.get(0)?.keys() ?? [])][0] as number;
})();

/**
 * Makes a workload's first-order counts in CacheSage's state equal shared counts (DESIGN §7: every processor sums the
 * per-partition counts of `cachesage.model` and installs the sums). `counts` is row-major over `agents` + END, as in
 * a ModelUpdate (`(n+1)²` or `n·(n+1)` cells). Agents are interned in the model (`agentIndex`), then the rows
 * (`first`) and their totals (`firstTotals`) are replaced, scaled by the model's decay factor (`scale`). Second-order,
 * marginal and rank counts stay the policy's own.
 */
export function installSharedCounts(
  state: CacheSageState,
  workloadId: string,
  agents: readonly string[],
  counts: readonly number[],
): void {
  const n = agents.length;
  const width = n + 1;
  if (counts.length !== width * width && counts.length !== n * width) {
    throw new ConfigError(`shared counts of ${workloadId}: ${counts.length} cells for ${n} agents`);
  }
  const m = workloadOf(state, workloadId).model;
  const index = agents.map((a) => agentIndex(m, a));
  m.first.clear();
  m.firstTotals.clear();
  for (let i = 0; i < n; i++) {
    let total = 0;
    let row: Map<number, number> | undefined;
    for (let j = 0; j < width; j++) {
      const c = counts[i * width + j] as number;
      if (!(c > 0)) continue;
      row ??= new Map();
      row.set(j === n ? END_COLUMN : (index[j] as number), c * m.scale);
      total += c * m.scale;
    }
    if (row === undefined) continue;
    m.first.set(index[i] as number, row);
    m.firstTotals.set(index[i] as number, total);
  }
}
