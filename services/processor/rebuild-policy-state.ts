import type { ObservedEvent, Policy } from '../../policies/policy.js';

/**
 * A policy's state rebuilt from past events (DESIGN §7: a new owner replays the engine's events before it acts):
 * a fresh state folds every event (`observe`) and runs every decision point (score → predict → act) exactly as the
 * live stages do, but the acts are dropped: the engine received them from the previous owner, and the state then
 * knows what the engine was told (registered contexts, priorities sent). An event a policy throws on is counted and
 * skipped, as the live stages dead-letter it.
 */
export function rebuildPolicyState<S>(
  policy: Policy<S>,
  events: readonly ObservedEvent[],
): { state: S; failures: number } {
  const state = policy.createState();
  let failures = 0;
  for (const event of events) {
    try {
      policy.observe(state, event);
      const point = policy.decisionPoint(state, event);
      if (point === null) continue;
      const scores = policy.score(state, point);
      const prediction = policy.predict(state, point);
      policy.act(state, { point, scores, prediction, cause: event });
    } catch {
      failures++;
    }
  }
  return { state, failures };
}
