/**
 * A block hash as an engine publishes it: vLLM sends uint64 integers by default, or the raw digest bytes when
 * `VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0`; both become the same unsigned 64-bit value (the digest's low 64 bits,
 * exactly what vLLM's integer form is). Engine hashes are only keys: the layer never computes them.
 */
export type EngineHash = bigint;

/** The engine hash of a decoded msgpack value, or undefined when the value is not a hash. */
export function toEngineHash(value: unknown): EngineHash | undefined {
  if (typeof value === 'bigint') return BigInt.asUintN(64, value);
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt.asUintN(64, BigInt(value)) : undefined;
  if (value instanceof Uint8Array) {
    if (value.length === 0) return undefined;
    let out = 0n;
    const start = Math.max(0, value.length - 8);
    for (let i = start; i < value.length; i++) out = (out << 8n) | BigInt(value[i] as number);
    return out;
  }
  return undefined;
}
