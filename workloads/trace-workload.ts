import { defaultSystemPrompt, findAgentsFile } from './agents-file.js';
import { TEMPLATE_VERSION } from './llama3-format.js';
import { buildPreparedWorkload, type PromptTemplate, type TemplateSession } from './prompt-builder.js';
import { cacheFileKey } from './token-cache.js';
import { type TokenCacheStatus, tokenizerIdOf, tokenizeStrings } from './tokenize-strings.js';
import type { TextTokenizer } from './tokenizer.js';
import { readTrace, type Trace, type TraceTurn } from './trace-reader.js';
import type { PreparedWorkload } from './types.js';

/** `auto` picks `phase` when any line has `meta.phase`, else `group-chat`. */
export type TemplateChoice = PromptTemplate | 'auto';

export interface LoadTraceOptions {
  /** Default `group-chat`. */
  template?: TemplateChoice;
  /** Agents file overriding `<stem>.agents.json` beside the trace. */
  agentsFile?: string;
  /** Skip invalid lines and count them. Default false. */
  skipBadLines?: boolean;
  /** Agents whose turns are not LLM calls. */
  nonLlmAgents?: readonly string[];
  /** Token cache folder; null turns caching off. */
  cacheDir: string | null;
  tokenizer?: TextTokenizer;
  /** Tokenization progress in characters. */
  onProgress?: (done: number, total: number) => void;
}

export interface TraceLoadInfo {
  template: PromptTemplate;
  agentsFile: string | null;
  skippedLines: number;
  tokenCache: TokenCacheStatus;
  /** Distinct strings sent to the tokenizer (0 on a cache hit). */
  tokenizedStrings: number;
  readMs: number;
  tokenizeMs: number;
  buildMs: number;
}

function phaseOf(t: TraceTurn): string | null {
  const p = t.meta?.phase;
  if (typeof p === 'string') return p;
  if (typeof p === 'number') return String(p);
  return null;
}

function namesFromCalls(calls: unknown): string[] {
  if (!Array.isArray(calls)) return [];
  const names: string[] = [];
  for (const c of calls) {
    if (typeof c === 'string' && c) names.push(c);
    else if (typeof c === 'object' && c !== null) {
      const o = c as { name?: unknown; function?: { name?: unknown } };
      const name = typeof o.name === 'string' ? o.name : o.function?.name;
      if (typeof name === 'string' && name) names.push(name);
    }
  }
  return names;
}

/**
 * The tool a turn calls: names from `meta.tool_calls` (a list, or a count with the calls as JSON in the content, as
 * tau-bench writes them), else the `meta.tool` of the next line (a tool's result naming its tool), else null.
 */
export function toolCallOf(t: TraceTurn, next: TraceTurn | undefined): string | null {
  const calls = t.meta?.tool_calls;
  let names = namesFromCalls(calls);
  if (names.length === 0 && calls !== undefined && calls !== null && calls !== 0 && calls !== false) {
    try {
      names = namesFromCalls(JSON.parse(t.content));
    } catch {
      names = [];
    }
  }
  if (names.length > 0) return names.join(',');
  const tool = next?.meta?.tool;
  if (typeof tool === 'string' && tool) return tool;
  return calls !== undefined && calls !== null && calls !== 0 && calls !== false ? 'tool' : null;
}

function resolveTemplate(choice: TemplateChoice, trace: Trace): PromptTemplate {
  if (choice !== 'auto') return choice;
  for (const s of trace.sessions) for (const t of s.turns) if (phaseOf(t) !== null) return 'phase';
  return 'group-chat';
}

/** Reads, validates, tokenizes (cached) and lays out a trace file as a PreparedWorkload. */
export async function loadTraceWorkload(
  path: string,
  options: LoadTraceOptions,
): Promise<{ workload: PreparedWorkload; info: TraceLoadInfo }> {
  const t0 = performance.now();
  const trace = await readTrace(path, { skipBadLines: options.skipBadLines ?? false });
  const agentsFile = await findAgentsFile(path, options.agentsFile);
  const template = resolveTemplate(options.template ?? 'group-chat', trace);
  const t1 = performance.now();

  const systemText = new Map<string, string>();
  const strings: string[] = ['system', '\n\n'];
  for (const s of trace.sessions) {
    for (const t of s.turns) {
      if (!systemText.has(t.agent)) {
        const prompt = agentsFile?.prompts.get(t.agent) ?? defaultSystemPrompt(t.agent);
        systemText.set(t.agent, prompt);
        strings.push(t.agent, prompt);
      }
      strings.push(t.content);
    }
  }
  const cacheKey = cacheFileKey([
    trace.sha256,
    agentsFile?.sha256 ?? 'no-agents-file',
    tokenizerIdOf(options.tokenizer),
    TEMPLATE_VERSION,
  ]);
  const tokenized = await tokenizeStrings(strings, {
    ...(options.tokenizer ? { tokenizer: options.tokenizer } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    cacheDir: options.cacheDir,
    cacheKey,
  });
  const tokens = tokenized.tokens;
  const t2 = performance.now();

  const tokensOf = (s: string): Uint32Array => tokens.get(s) as Uint32Array;
  const sessions: TemplateSession[] = trace.sessions.map((s) => ({
    sessionId: s.sessionId,
    messages: s.turns.map((t, i) => ({
      agent: t.agent,
      content: tokensOf(t.content),
      phase: phaseOf(t),
      toolCall: toolCallOf(t, s.turns[i + 1]),
    })),
  }));
  const workload = buildPreparedWorkload({
    workloadId: trace.workloadId,
    source: path,
    sessions,
    template,
    systemPrompt: (agent) => tokensOf(systemText.get(agent) as string),
    roleName: tokensOf,
    newline: tokensOf('\n\n'),
    nonLlmAgents: new Set(options.nonLlmAgents ?? []),
  });
  const t3 = performance.now();
  return {
    workload,
    info: {
      template,
      agentsFile: agentsFile?.path ?? null,
      skippedLines: trace.skippedLines,
      tokenCache: tokenized.status,
      tokenizedStrings: tokenized.tokenized,
      readMs: t1 - t0,
      tokenizeMs: t2 - t1,
      buildMs: t3 - t2,
    },
  };
}
