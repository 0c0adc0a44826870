import { describe, expect, it } from 'vitest';
import { pythonJson, renderChatPrompt } from '../../../adapters/proxy/chat-template.js';
import { llama3Tokenizer } from '../../../workloads/tokenizer.js';

const messages = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: ' Hello \n' },
];

describe('Llama 3 chat templates', () => {
  it('renders Llama 3 Instruct with trimmed contents and the generation prompt', () => {
    expect(renderChatPrompt(messages, undefined, { template: 'llama3' })).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('tokenizes the rendered prompt into the special token ids of the Llama 3 vocabulary', async () => {
    const tokenizer = await llama3Tokenizer();
    const ids = Array.from(tokenizer.encode(renderChatPrompt(messages, undefined, { template: 'llama3' })));
    // <|begin_of_text|> <|start_header_id|> system <|end_header_id|> \n\n You are a helpful assistant . <|eot_id|> ...
    expect(ids).toEqual([
      128000, 128006, 9125, 128007, 271, 2675, 527, 264, 11190, 18328, 13, 128009, 128006, 882, 128007, 271, 9906,
      128009, 128006, 78191, 128007, 271,
    ]);
  });

  it('renders Llama 3.1 Instruct: dated system header, tool list in the first user turn, tool calls and results', () => {
    const tools = [{ type: 'function', function: { name: 'search', parameters: { type: 'object' } } }];
    const text = renderChatPrompt(
      [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Find' },
            { type: 'text', text: 'cats' },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'search', arguments: '{"q":"cats","n":2}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'none found' },
      ],
      tools,
      { template: 'llama3.1' },
    );
    expect(text).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n' +
        'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a ' +
        'function call with its proper arguments that best answers the given prompt.\n\n' +
        'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' +
        'Do not use variables.\n\n' +
        '{\n    "type": "function",\n    "function": {\n        "name": "search",\n        "parameters": {\n' +
        '            "type": "object"\n        }\n    }\n}\n\nFind\ncats<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n{"name": "search", "parameters": {"q": "cats", "n": 2}}<|eot_id|>' +
        '<|start_header_id|>ipython<|end_header_id|>\n\n"none found"<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('gives Llama 3.1 an empty dated system block when the request has no system message', () => {
    expect(
      renderChatPrompt([{ role: 'user', content: 'Hi' }], [], { template: 'llama3.1', dateString: '1 Jan 2026' }),
    ).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n' +
        'Today Date: 1 Jan 2026\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('rejects requests it cannot render', () => {
    expect(() => renderChatPrompt([], undefined, { template: 'llama3' })).toThrow(/non-empty/);
    expect(() => renderChatPrompt([{ content: 'x' }], undefined, { template: 'llama3' })).toThrow(/role/);
    expect(() => renderChatPrompt([{ role: 'user', content: 5 }], undefined, { template: 'llama3' })).toThrow(/text/);
  });

  it('writes JSON the way Python json.dumps does', () => {
    expect(pythonJson({ a: [1, 'x', null, true], b: { c: 1.5 } })).toBe('{"a": [1, "x", null, true], "b": {"c": 1.5}}');
  });
});
