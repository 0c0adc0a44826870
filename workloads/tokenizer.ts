import { createRequire } from 'node:module';

/** Text to token ids, without BOS/EOS. `id` names the vocabulary and version (it keys the token cache). */
export interface TextTokenizer {
  readonly id: string;
  encode(text: string): ArrayLike<number>;
}

let llama3: Promise<TextTokenizer> | null = null;

/** Id of the bundled Llama 3 tokenizer, known without loading it. */
export function llama3TokenizerId(): string {
  return `llama3-tokenizer-js@${packageVersion()}`;
}

function packageVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require('llama3-tokenizer-js/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * The Llama 3 tokenizer (llama3-tokenizer-js, vocabulary bundled), loaded on first use (about half a second) and
 * shared afterwards.
 */
export function llama3Tokenizer(): Promise<TextTokenizer> {
  llama3 ??= import('llama3-tokenizer-js').then(({ default: tokenizer }) => ({
    id: llama3TokenizerId(),
    encode: (text: string) => tokenizer.encode(text, { bos: false, eos: false }),
  }));
  return llama3;
}
