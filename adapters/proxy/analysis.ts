import { BadRecordError, reasonOf } from '../../core/errors.js';
import { BLOCK_SIZE, blockHashes, ROOT_HASH } from '../../schemas/block-hash.js';
import { type ChatTemplateName, renderChatPrompt } from './chat-template.js';
import { identityFromUser, type PartialIdentity } from './identity.js';

/** Text to token ids, parsing special tokens written in the text, adding no BOS/EOS. */
export interface PromptTokenizer {
  encode(text: string): ArrayLike<number>;
}

/** The two endpoints the proxy reads; everything else passes through untouched. */
export type ProxyRoute = 'chat' | 'completion';

/** Llama 3's `<|begin_of_text|>`, which vLLM's completions endpoint prepends to a text prompt. */
export const BOS_TOKEN_ID = 128000;

export interface RequestAnalysisOptions {
  template: ChatTemplateName;
  /** Llama 3.1 `date_string`. */
  dateString?: string;
}

/** What the proxy needs from a request body. */
export interface RequestAnalysis {
  /** Identity fields found in the `user` field. */
  user: PartialIdentity;
  stream: boolean;
  /** Prompt length in tokens, or -1 when the prompt could not be tokenized (see `error`). */
  promptTokens: number;
  /** Hashes of the prompt's full 16-token blocks, head to tail, in the layer's hash space. */
  blockHashes: BigInt64Array;
  /** Tokens after the last full block (fewer than 16): output blocks chain after them. */
  tailTokens: number[];
  error?: string;
}

/** Usage and output of a finished call, read from its response body. */
export interface ResponseAnalysis {
  promptTokens: number | null;
  completionTokens: number | null;
  /** `usage.prompt_tokens_details.cached_tokens` when the engine reports it. */
  cachedTokens: number | null;
  toolCall: string | null;
  finishReason: string | null;
  /** Hashes of the full blocks the output completed after the prompt (best effort: the text is re-tokenized). */
  outputBlockHashes: BigInt64Array;
  error?: string;
}

/** Parses a chat or completions request body and hashes its prompt. Never throws. */
export function analyzeRequest(
  route: ProxyRoute,
  body: Uint8Array,
  tokenizer: PromptTokenizer,
  options: RequestAnalysisOptions,
): RequestAnalysis {
  const empty: RequestAnalysis = {
    user: {},
    stream: false,
    promptTokens: -1,
    blockHashes: new BigInt64Array(0),
    tailTokens: [],
  };
  let request: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { ...empty, error: 'request body is not a JSON object' };
    }
    request = parsed as Record<string, unknown>;
  } catch (err) {
    return { ...empty, error: `request body is not JSON: ${(err as Error).message}` };
  }
  const base = { ...empty, user: identityFromUser(request.user), stream: request.stream === true };
  let tokens: ArrayLike<number>;
  try {
    tokens = route === 'chat' ? chatTokens(request, tokenizer, options) : completionTokens(request, tokenizer);
  } catch (err) {
    return { ...base, error: reasonOf(err) };
  }
  const full = Math.floor(tokens.length / BLOCK_SIZE) * BLOCK_SIZE;
  return {
    ...base,
    promptTokens: tokens.length,
    blockHashes: BigInt64Array.from(blockHashes(tokens)),
    tailTokens: Array.from({ length: tokens.length - full }, (_, i) => tokens[full + i] as number),
  };
}

function chatTokens(request: Record<string, unknown>, tokenizer: PromptTokenizer, options: RequestAnalysisOptions) {
  return tokenizer.encode(renderChatPrompt(request.messages, request.tools, options));
}

function completionTokens(request: Record<string, unknown>, tokenizer: PromptTokenizer): ArrayLike<number> {
  let prompt = request.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) {
    prompt = prompt[0];
  }
  if (typeof prompt === 'string') {
    const ids = tokenizer.encode(prompt);
    const out = new Array<number>(ids.length + 1);
    out[0] = BOS_TOKEN_ID;
    for (let i = 0; i < ids.length; i++) out[i + 1] = ids[i] as number;
    return out;
  }
  if (Array.isArray(prompt) && prompt.every((t) => Number.isInteger(t) && t >= 0)) return prompt as number[];
  throw new BadRecordError('completion request: prompt must be one string or one list of token ids');
}

/**
 * Reads usage, tool call and output of a response: a JSON body, or an SSE stream (`data: {...}` events; usage is in
 * the final chunk when the client asked for `stream_options.include_usage`). Output blocks are hashed only when
 * `prompt` (its last full block hash and the tokens after it) is given. Never throws.
 */
export function analyzeResponse(
  body: Uint8Array,
  streamed: boolean,
  prompt: { lastBlockHash: bigint | null; tailTokens: readonly number[] } | null,
  tokenizer: PromptTokenizer,
): ResponseAnalysis {
  const out: ResponseAnalysis = {
    promptTokens: null,
    completionTokens: null,
    cachedTokens: null,
    toolCall: null,
    finishReason: null,
    outputBlockHashes: new BigInt64Array(0),
  };
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  let output = '';
  try {
    const chunks = streamed ? sseChunks(text) : [JSON.parse(text) as unknown];
    for (const chunk of chunks) output += readChunk(chunk, out);
  } catch (err) {
    out.error = `response is not readable: ${(err as Error).message}`;
  }
  if (output.length > 0 && prompt !== null) {
    const generated = Array.from(tokenizer.encode(output));
    if (out.finishReason === 'length') generated.pop();
    const chained = [...prompt.tailTokens, ...generated];
    out.outputBlockHashes = BigInt64Array.from(blockHashes(chained, prompt.lastBlockHash ?? ROOT_HASH));
  }
  return out;
}

function sseChunks(text: string): unknown[] {
  const chunks: unknown[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (data === '' || data === '[DONE]') continue;
    try {
      chunks.push(JSON.parse(data));
    } catch {
      // a partial or foreign event line: usage and text come from the well-formed ones
    }
  }
  return chunks;
}

/** Folds one response object (or stream chunk) into `out`; returns the output text it adds. */
function readChunk(chunk: unknown, out: ResponseAnalysis): string {
  if (chunk === null || typeof chunk !== 'object') return '';
  const c = chunk as { usage?: unknown; choices?: unknown };
  const usage = c.usage as
    | {
        prompt_tokens?: unknown;
        completion_tokens?: unknown;
        prompt_tokens_details?: { cached_tokens?: unknown } | null;
      }
    | null
    | undefined;
  if (usage && typeof usage === 'object') {
    if (Number.isInteger(usage.prompt_tokens)) out.promptTokens = usage.prompt_tokens as number;
    if (Number.isInteger(usage.completion_tokens)) out.completionTokens = usage.completion_tokens as number;
    const cached = usage.prompt_tokens_details?.cached_tokens;
    if (Number.isInteger(cached)) out.cachedTokens = cached as number;
  }
  if (!Array.isArray(c.choices)) return '';
  let text = '';
  for (const raw of c.choices) {
    const choice = raw as {
      index?: number;
      text?: unknown;
      finish_reason?: unknown;
      message?: { content?: unknown; tool_calls?: unknown };
      delta?: { content?: unknown; tool_calls?: unknown };
    };
    if ((choice.index ?? 0) !== 0) continue;
    if (typeof choice.finish_reason === 'string') out.finishReason = choice.finish_reason;
    const part = choice.message ?? choice.delta;
    if (typeof choice.text === 'string') text += choice.text;
    if (typeof part?.content === 'string') text += part.content;
    if (out.toolCall === null && Array.isArray(part?.tool_calls)) {
      const name = (part.tool_calls[0] as { function?: { name?: unknown } } | undefined)?.function?.name;
      if (typeof name === 'string' && name.length > 0) out.toolCall = name;
    }
  }
  return text;
}
