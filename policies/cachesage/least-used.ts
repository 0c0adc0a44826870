/** The key with the lowest value (the first of equal ones in iteration order); undefined for an empty map. */
export function leastUsedKey(totals: ReadonlyMap<number, number>): number | undefined {
  let victim: number | undefined;
  let least = Number.POSITIVE_INFINITY;
  for (const [key, total] of totals) {
    if (total < least) {
      least = total;
      victim = key;
    }
  }
  return victim;
}
