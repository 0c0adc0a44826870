/**
 * Cost model of one engine: one NVIDIA H100 SXM (80 GB) serving Llama-3.1-8B-Instruct in bf16 (DESIGN §9,
 * REFERENCE §E). Every constant of the simulator's time lives in this file, with its source, so a run on a real GPU
 * can recalibrate it. All times are milliseconds.
 */

/** Tokens per KV block (vLLM's default block size; schemas/block-hash.ts). */
export const TOKENS_PER_BLOCK = 16;

/**
 * KV bytes per token: 2 (K and V) · 32 layers · 8 KV heads · 128 head dim · 2 bytes (bf16) = 131,072 B = 128 KiB
 * (Llama-3.1-8B config.json: num_hidden_layers 32, num_key_value_heads 8, head_dim 128).
 */
export const KV_BYTES_PER_TOKEN = 2 * 32 * 8 * 128 * 2;

/** KV bytes per block: 16 tokens · 128 KiB = 2 MiB. */
export const KV_BYTES_PER_BLOCK = KV_BYTES_PER_TOKEN * TOKENS_PER_BLOCK;

/**
 * Linear-layer FLOPs per prefilled token: 2 · 6.98e9 non-embedding parameters (Llama-3.1-8B: 8.03e9 parameters less
 * the 0.5e9 input embedding and 0.5e9 LM head that prefill does not multiply for every token) ≈ 13.96 GFLOP.
 */
export const LINEAR_FLOPS_PER_TOKEN = 13.96e9;

/**
 * Attention FLOPs factor: QK^T and AV cost 2 · 2 · 128 (head dim) FLOP per (query, key) pair and head, over 32 query
 * heads and 32 layers = 524,288 FLOP per pair. S new tokens after H cached form S·H + S²/2 causal pairs, so attention
 * is 524,288 · (S·H + S²/2) = 262,144 · (S² + 2·S·H) FLOP (REFERENCE §E).
 */
export const ATTENTION_FLOPS_FACTOR = 262_144;

/** Dense bf16 tensor-core peak of the H100 SXM without sparsity (NVIDIA H100 datasheet): 989 TFLOP/s. */
export const PEAK_FLOPS_PER_S = 989e12;

/** Model FLOPs utilization of prefill in vLLM on H100 for 1–8k-token prompts (REFERENCE §E: ~50 %). */
export const PREFILL_MFU = 0.5;

/** Fixed per-request overhead (scheduling, tokenization, sampling, first-token detokenization), REFERENCE §E: 10–15 ms. */
export const REQUEST_OVERHEAD_MS = 12;

/**
 * Decode time per output token at batch 1: the 16.06 GB of weights read once per step at ~3.35 TB/s HBM3 is a
 * 4.8 ms floor; measured vLLM decode of Llama-3.1-8B on H100 is ≈ 6.5 ms/token (REFERENCE §E).
 */
export const DECODE_MS_PER_TOKEN_BATCH1 = 6.5;

/** Decode time per output token per sequence at 16 concurrent sequences (REFERENCE §E: ≈ 11 ms). */
export const DECODE_MS_PER_TOKEN_BATCH16 = 11;

/** CPU→GPU copy bandwidth over PCIe Gen5 x16 with pinned host memory (REFERENCE §E: ≈ 50 GB/s, 1 GB = 1e9 B). */
export const CPU_TO_GPU_BYTES_PER_S = 50e9;

/**
 * Gaps between a session's steps (trace format v1 has no timings), lognormal: median · exp(sigma · z), z standard
 * normal clamped to ±GAP_Z_CLAMP. A step without a tool call is followed by a selector / speaker-choice call and
 * message handling (median 300 ms); a step that calls a tool is followed by the tool's execution (median 2 s,
 * heavier tail). Chosen to match the order of magnitude of AutoGen SelectorGroupChat selector calls on the same
 * engine and of typical code-execution / API tools; they only shape TTFT and throughput, never which blocks hit.
 */
export const GAP_MEDIAN_MS = 300;
export const GAP_SIGMA = 0.5;
export const TOOL_GAP_MEDIAN_MS = 2000;
export const TOOL_GAP_SIGMA = 1;
export const GAP_Z_CLAMP = 3;

/** Prefill FLOPs for `newTokens` (S) computed after `cachedTokens` (H) served from cache. */
export function prefillFlops(newTokens: number, cachedTokens: number): number {
  const s = newTokens;
  return LINEAR_FLOPS_PER_TOKEN * s + ATTENTION_FLOPS_FACTOR * (s * s + 2 * s * cachedTokens);
}

/** Prefill compute time (ms) for S new tokens after H cached, excluding the fixed per-request overhead. */
export function prefillMs(newTokens: number, cachedTokens: number): number {
  return (prefillFlops(newTokens, cachedTokens) / (PEAK_FLOPS_PER_S * PREFILL_MFU)) * 1000;
}

/**
 * Decode time (ms) per output token of one sequence when `batch` sequences decode together (continuous batching):
 * linear between 6.5 ms at batch 1 and 11 ms at batch 16, extrapolated beyond; batch < 1 counts as 1.
 */
export function decodeMsPerToken(batch: number): number {
  const b = Math.max(1, batch);
  return DECODE_MS_PER_TOKEN_BATCH1 + ((DECODE_MS_PER_TOKEN_BATCH16 - DECODE_MS_PER_TOKEN_BATCH1) * (b - 1)) / 15;
}

/** CPU→GPU reload time (ms) of `blocks` KV blocks: 2 MiB / 50 GB/s ≈ 0.0419 ms per block. */
export function reloadMs(blocks: number): number {
  return ((blocks * KV_BYTES_PER_BLOCK) / CPU_TO_GPU_BYTES_PER_S) * 1000;
}

/**
 * Time (ms) from the start of a request's prefill to its first token, once any CPU-tier reload is done: the fixed
 * overhead plus prefill of the uncached tokens after the cached ones.
 */
export function firstTokenMs(newTokens: number, cachedTokens: number): number {
  return REQUEST_OVERHEAD_MS + prefillMs(newTokens, cachedTokens);
}

/** A gap (ms) from a standard normal draw `z`: lognormal around the median for a step with or without a tool call. */
export function gapMsFromNormal(z: number, toolCall: boolean): number {
  const zc = Math.max(-GAP_Z_CLAMP, Math.min(GAP_Z_CLAMP, z));
  return toolCall ? TOOL_GAP_MEDIAN_MS * Math.exp(TOOL_GAP_SIGMA * zc) : GAP_MEDIAN_MS * Math.exp(GAP_SIGMA * zc);
}
