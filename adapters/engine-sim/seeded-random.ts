/**
 * Counter-based random numbers: a value is a pure function of (seed, a, b), so draws do not depend on the order in
 * which a simulation asks for them (the same gap for a (session, turn) whatever the policy or engine count).
 */

function mix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of (seed, a, b, stream). */
export function hash32(seed: number, a: number, b: number, stream = 0): number {
  let h = mix32(seed ^ 0x9e3779b9);
  h = mix32(h ^ Math.imul(a + 1, 0x85ebca6b));
  h = mix32(h ^ Math.imul(b + 1, 0xc2b2ae35));
  return mix32(h ^ Math.imul(stream + 1, 0x27d4eb2f));
}

/** A uniform draw in (0, 1) from (seed, a, b, stream). */
export function uniform01(seed: number, a: number, b: number, stream = 0): number {
  return (hash32(seed, a, b, stream) + 0.5) / 4294967296;
}

/** A standard normal draw from (seed, a, b) (Box–Muller over two independent uniforms). */
export function standardNormal(seed: number, a: number, b: number): number {
  const u1 = uniform01(seed, a, b, 0);
  const u2 = uniform01(seed, a, b, 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** A small seeded PRNG (mulberry32) for tests and generators that draw in sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
