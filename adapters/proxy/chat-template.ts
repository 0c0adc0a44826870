import { BadRecordError } from '../../core/errors.js';

/**
 * Chat templates the proxy renders, exactly as the Hugging Face `chat_template` of the model's tokenizer_config
 * (what vLLM applies before tokenizing, with `add_generation_prompt=True`):
 * - `llama3`: Meta-Llama-3-*-Instruct;
 * - `llama3.1`: Llama-3.1-*-Instruct (system header with the knowledge/today dates, tools in the first user message,
 *   tool calls as `{"name": ..., "parameters": ...}`, tool results under the `ipython` role).
 * The result is text with special tokens written out; the tokenizer must parse them as special tokens.
 */
export type ChatTemplateName = 'llama3' | 'llama3.1';
export const CHAT_TEMPLATES: readonly ChatTemplateName[] = ['llama3', 'llama3.1'];

export interface ChatTemplateOptions {
  template: ChatTemplateName;
  /** `date_string` of the Llama 3.1 template; vLLM leaves it at the template's default, "26 Jul 2024". */
  dateString?: string;
}

interface Message {
  role: string;
  content: string;
  toolCall?: { name: string; arguments: unknown };
}

const BOS = '<|begin_of_text|>';
const EOT = '<|eot_id|>';
const header = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;

/** The prompt text of a chat-completions request (its `messages` and optional `tools`). */
export function renderChatPrompt(messages: unknown, tools: unknown, options: ChatTemplateOptions): string {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new BadRecordError('chat request: messages must be a non-empty array');
  }
  const parsed = messages.map(parseMessage);
  return options.template === 'llama3'
    ? renderLlama3(parsed)
    : renderLlama31(
        parsed,
        Array.isArray(tools) && tools.length > 0 ? tools : null,
        options.dateString ?? '26 Jul 2024',
      );
}

function renderLlama3(messages: Message[]): string {
  let out = BOS;
  for (const m of messages) out += `${header(m.role)}${jinjaTrim(m.content)}${EOT}`;
  return `${out}${header('assistant')}`;
}

function renderLlama31(input: Message[], tools: unknown[] | null, dateString: string): string {
  let messages = input;
  let systemMessage = '';
  if (messages[0]?.role === 'system') {
    systemMessage = jinjaTrim(messages[0].content);
    messages = messages.slice(1);
  }
  let out = `${BOS}${header('system')}`;
  if (tools !== null) out += 'Environment: ipython\n';
  out += `Cutting Knowledge Date: December 2023\nToday Date: ${dateString}\n\n${systemMessage}${EOT}`;
  if (tools !== null) {
    const first = messages[0];
    if (first === undefined) throw new BadRecordError('chat request: tools need a first user message');
    messages = messages.slice(1);
    out += header('user');
    out += 'Given the following functions, please respond with a JSON for a function call ';
    out += 'with its proper arguments that best answers the given prompt.\n\n';
    out += 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.';
    out += 'Do not use variables.\n\n';
    for (const tool of tools) out += `${JSON.stringify(tool, null, 4)}\n\n`;
    out += `${jinjaTrim(first.content)}${EOT}`;
  }
  for (const m of messages) {
    if (m.toolCall !== undefined) {
      out += `${header('assistant')}{"name": "${m.toolCall.name}", "parameters": ${pythonJson(m.toolCall.arguments)}}${EOT}`;
    } else if (m.role === 'tool' || m.role === 'ipython') {
      out += `${header('ipython')}${pythonJson(m.content)}${EOT}`;
    } else {
      out += `${header(m.role)}${jinjaTrim(m.content)}${EOT}`;
    }
  }
  return `${out}${header('assistant')}`;
}

function parseMessage(raw: unknown, index: number): Message {
  if (raw === null || typeof raw !== 'object')
    throw new BadRecordError(`chat request: messages[${index}] is not an object`);
  const m = raw as Record<string, unknown>;
  if (typeof m.role !== 'string') throw new BadRecordError(`chat request: messages[${index}].role is not a string`);
  const message: Message = { role: m.role, content: contentText(m.content, index) };
  if (Array.isArray(m.tool_calls) && m.role === 'assistant') {
    const fn = (m.tool_calls[0] as { function?: { name?: unknown; arguments?: unknown } } | undefined)?.function;
    if (m.tool_calls.length !== 1 || typeof fn?.name !== 'string') {
      throw new BadRecordError(`chat request: messages[${index}] must carry exactly one named tool call`);
    }
    let args: unknown = fn.arguments;
    if (typeof args === 'string') {
      try {
        args = JSON.parse(args);
      } catch {
        throw new BadRecordError(`chat request: messages[${index}] tool call arguments are not JSON`);
      }
    }
    message.toolCall = { name: fn.name, arguments: args };
  }
  return message;
}

/** vLLM's flattening of message content: a string, or the text parts of a part list joined by newlines. */
function contentText(content: unknown, index: number): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    const texts: string[] = [];
    for (const part of content) {
      if (typeof part === 'string') texts.push(part);
      else if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
        texts.push((part as { text: string }).text);
      } else {
        throw new BadRecordError(`chat request: messages[${index}] has a content part without text`);
      }
    }
    return texts.join('\n');
  }
  throw new BadRecordError(`chat request: messages[${index}].content is not text`);
}

const PY_SPACE =
  '\\t\\n\\v\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');

/** Jinja's `trim` (Python `str.strip()`: Unicode whitespace at both ends). */
function jinjaTrim(text: string): string {
  return text.replace(PY_STRIP, '');
}

/** Python `json.dumps(value, ensure_ascii=False)` (Hugging Face's `tojson`): `", "` and `": "` separators. */
export function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`)
      .join(', ')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value))
    return Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity';
  return JSON.stringify(value);
}
