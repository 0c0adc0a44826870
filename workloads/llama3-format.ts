/** Llama 3 chat-format special token ids (tokenizer of Llama-3 / 3.1 Instruct). */
export const BEGIN_OF_TEXT = 128000;
export const START_HEADER_ID = 128006;
export const END_HEADER_ID = 128007;
export const EOT_ID = 128009;

/** Bumped whenever the prompt layout changes, so cached token files of an older layout are not reused. */
export const TEMPLATE_VERSION = 'llama3-chat/1';

/** The header that opens a message: `<|start_header_id|>` + role + `<|end_header_id|>` + "\n\n". */
export function headerTokens(role: ArrayLike<number>, newline: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(role.length + newline.length + 2);
  out[0] = START_HEADER_ID;
  out.set(role as ArrayLike<number>, 1);
  out[role.length + 1] = END_HEADER_ID;
  out.set(newline as ArrayLike<number>, role.length + 2);
  return out;
}

/** `<|begin_of_text|>` + the system message block (header "system" + prompt + `<|eot_id|>`). */
export function systemBlockTokens(systemHeader: ArrayLike<number>, prompt: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(systemHeader.length + prompt.length + 2);
  out[0] = BEGIN_OF_TEXT;
  out.set(systemHeader as ArrayLike<number>, 1);
  out.set(prompt as ArrayLike<number>, systemHeader.length + 1);
  out[out.length - 1] = EOT_ID;
  return out;
}
