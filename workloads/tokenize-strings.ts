import { join } from 'node:path';
import { readTokenCache, stringKey, writeTokenCache } from './token-cache.js';
import { llama3Tokenizer, llama3TokenizerId, type TextTokenizer } from './tokenizer.js';

/** How a tokenization was served: all strings from the cache, some, none, or with the cache off. */
export type TokenCacheStatus = 'hit' | 'partial' | 'miss' | 'off';

export interface TokenizeStringsOptions {
  /** Injected tokenizer; default the bundled Llama 3 tokenizer, loaded only on a cache miss. */
  tokenizer?: TextTokenizer;
  /** Folder of cache files; null turns the cache off. */
  cacheDir: string | null;
  /** Name of this string set's cache file inside `cacheDir` (a hash of what determines its content). */
  cacheKey: string;
  /** Progress of tokenization in characters (done, total); called with (total, total) on a full hit. */
  onProgress?: (done: number, total: number) => void;
}

export interface TokenizedStrings {
  tokens: Map<string, Uint32Array>;
  status: TokenCacheStatus;
  /** Strings sent to the tokenizer. */
  tokenized: number;
}

/** The id the default tokenizer (or `tokenizer`) would report, without loading it. */
export function tokenizerIdOf(tokenizer?: TextTokenizer): string {
  return tokenizer?.id ?? llama3TokenizerId();
}

/**
 * Tokenizes each distinct string once, reading and writing a binary cache file of token ids keyed by each
 * string's hash, so a workload is tokenized once per machine.
 */
export async function tokenizeStrings(
  strings: Iterable<string>,
  options: TokenizeStringsOptions,
): Promise<TokenizedStrings> {
  const unique = [...new Set(strings)];
  const file = options.cacheDir === null ? null : join(options.cacheDir, `${options.cacheKey}.tokens`);
  const cached = file === null ? null : await readTokenCache(file);
  const tokens = new Map<string, Uint32Array>();
  const keys = new Map<string, string>();
  const missing: string[] = [];
  let totalChars = 0;
  let allChars = 0;
  for (const s of unique) {
    allChars += s.length;
    const key = stringKey(s);
    keys.set(s, key);
    const hit = cached?.get(key);
    if (hit) tokens.set(s, hit);
    else {
      missing.push(s);
      totalChars += s.length;
    }
  }
  if (missing.length === 0) {
    options.onProgress?.(allChars, allChars);
    return { tokens, status: file === null ? 'off' : 'hit', tokenized: 0 };
  }
  const tokenizer = options.tokenizer ?? (await llama3Tokenizer());
  let done = 0;
  let lastReport = 0;
  options.onProgress?.(0, totalChars);
  for (const s of missing) {
    tokens.set(s, Uint32Array.from(tokenizer.encode(s)));
    done += s.length;
    if (done - lastReport >= 65536 || done === totalChars) {
      options.onProgress?.(done, totalChars);
      lastReport = done;
    }
  }
  if (file !== null) {
    const entries = new Map<string, Uint32Array>();
    for (const [s, t] of tokens) entries.set(keys.get(s) as string, t);
    await writeTokenCache(file, entries);
  }
  const status = file === null ? 'off' : missing.length === unique.length ? 'miss' : 'partial';
  return { tokens, status, tokenized: missing.length };
}
