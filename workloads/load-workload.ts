import { resolve } from 'node:path';
import type { PromptTemplate } from './prompt-builder.js';
import { type WorkloadSummary, workloadSummary } from './summary.js';
import { generateSynthetic } from './synthetic.js';
import { isSyntheticSpec, parseSyntheticSpec } from './synthetic-spec.js';
import type { TokenCacheStatus } from './tokenize-strings.js';
import type { TextTokenizer } from './tokenizer.js';
import { loadTraceWorkload, type TemplateChoice } from './trace-workload.js';
import type { PreparedWorkload } from './types.js';

/** Default token cache folder, relative to the working directory. */
export const DEFAULT_TOKEN_CACHE_DIR = '.cachesage/cache/tokens';

/** Options of `loadWorkload`; those about traces are ignored for synthetic specs. */
export interface LoadWorkloadOptions {
  /** `group-chat` (default), `phase`, or `auto` (phase where lines carry `meta.phase`). */
  template?: TemplateChoice;
  /** Agents file overriding `<stem>.agents.json` beside the trace. */
  agentsFile?: string;
  /** Skip invalid trace lines and count them (`stats.skippedLines`). Default false: stop at the first. */
  skipBadLines?: boolean;
  /** Agents whose turns are messages, not LLM calls. */
  nonLlmAgents?: readonly string[];
  /** Token cache folder (default `.cachesage/cache/tokens` under the working directory); null: no cache. */
  cacheDir?: string | null;
  /** Injected tokenizer (default: the bundled Llama 3 tokenizer, loaded only when something must be tokenized). */
  tokenizer?: TextTokenizer;
  /** Tokenization progress (characters done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Seed of a synthetic workload (overrides the spec's). */
  seed?: number;
}

/** How a workload was loaded, plus its summary. */
export interface WorkloadStats extends WorkloadSummary {
  template: PromptTemplate;
  agentsFile: string | null;
  skippedLines: number;
  tokenCache: TokenCacheStatus;
  tokenizedStrings: number;
  loadMs: number;
}

export type LoadedWorkload = PreparedWorkload & { stats: WorkloadStats };

/**
 * Loads a workload from a spec: a trace path (`.jsonl` / `.jsonl.gz`, trace format v1) or
 * `synthetic[:profile][?key=value&...]`.
 */
export async function loadWorkload(spec: string, options: LoadWorkloadOptions = {}): Promise<LoadedWorkload> {
  const t0 = performance.now();
  if (isSyntheticSpec(spec)) {
    const parsed = parseSyntheticSpec(spec, options.seed === undefined ? {} : { seed: options.seed });
    const workload = generateSynthetic(
      { ...parsed.options, ...(options.nonLlmAgents ? { nonLlmAgents: options.nonLlmAgents } : {}) },
      parsed.source,
    );
    return {
      ...workload,
      stats: {
        ...workloadSummary(workload),
        template: 'group-chat',
        agentsFile: null,
        skippedLines: 0,
        tokenCache: 'off',
        tokenizedStrings: 0,
        loadMs: performance.now() - t0,
      },
    };
  }
  const cacheDir = options.cacheDir === undefined ? resolve(DEFAULT_TOKEN_CACHE_DIR) : options.cacheDir;
  const { workload, info } = await loadTraceWorkload(spec, {
    cacheDir,
    ...(options.template ? { template: options.template } : {}),
    ...(options.agentsFile !== undefined ? { agentsFile: options.agentsFile } : {}),
    ...(options.skipBadLines !== undefined ? { skipBadLines: options.skipBadLines } : {}),
    ...(options.nonLlmAgents ? { nonLlmAgents: options.nonLlmAgents } : {}),
    ...(options.tokenizer ? { tokenizer: options.tokenizer } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return {
    ...workload,
    stats: {
      ...workloadSummary(workload),
      template: info.template,
      agentsFile: info.agentsFile,
      skippedLines: info.skippedLines,
      tokenCache: info.tokenCache,
      tokenizedStrings: info.tokenizedStrings,
      loadMs: performance.now() - t0,
    },
  };
}
