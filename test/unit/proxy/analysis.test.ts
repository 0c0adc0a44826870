import { describe, expect, it } from 'vitest';
import { analyzeRequest, analyzeResponse, BOS_TOKEN_ID } from '../../../adapters/proxy/analysis.js';
import { renderChatPrompt } from '../../../adapters/proxy/chat-template.js';
import { blockHashes } from '../../../schemas/block-hash.js';
import { llama3Tokenizer } from '../../../workloads/tokenizer.js';

const encoder = new TextEncoder();
const body = (value: unknown) => encoder.encode(JSON.stringify(value));

describe('request analysis', async () => {
  const tokenizer = await llama3Tokenizer();
  const long = 'The planner splits the task into steps and hands each to a worker. '.repeat(20);
  const chat = {
    model: 'llama',
    user: 'wl/s-1/Planner',
    stream: true,
    messages: [
      { role: 'system', content: 'You are the planner.' },
      { role: 'user', content: long },
    ],
  };

  it('tokenizes a chat prompt with the template and hashes its full blocks', () => {
    const a = analyzeRequest('chat', body(chat), tokenizer, { template: 'llama3.1' });
    const tokens = Array.from(tokenizer.encode(renderChatPrompt(chat.messages, undefined, { template: 'llama3.1' })));
    expect(a.error).toBeUndefined();
    expect(a.promptTokens).toBe(tokens.length);
    expect(Array.from(a.blockHashes)).toEqual(blockHashes(tokens));
    expect(a.blockHashes.length).toBe(Math.floor(tokens.length / 16));
    expect(a.tailTokens).toEqual(tokens.slice(a.blockHashes.length * 16));
    expect(a.stream).toBe(true);
    expect(a.user).toEqual({ workloadId: 'wl', sessionId: 's-1', agentId: 'Planner' });
  });

  it('prepends BOS to a completions text prompt and takes token-id prompts as they are', () => {
    const text = analyzeRequest('completion', body({ prompt: long }), tokenizer, { template: 'llama3' });
    const tokens = [BOS_TOKEN_ID, ...Array.from(tokenizer.encode(long))];
    expect(text.promptTokens).toBe(tokens.length);
    expect(Array.from(text.blockHashes)).toEqual(blockHashes(tokens));
    const ids = Array.from({ length: 40 }, (_, i) => 1000 + i);
    const direct = analyzeRequest('completion', body({ prompt: [ids] }), tokenizer, { template: 'llama3' });
    expect(Array.from(direct.blockHashes)).toEqual(blockHashes(ids));
  });

  it('reports what it cannot read instead of throwing', () => {
    expect(analyzeRequest('chat', encoder.encode('{oops'), tokenizer, { template: 'llama3' }).error).toMatch(
      /not JSON/,
    );
    const noMessages = analyzeRequest('chat', body({ user: 's/a' }), tokenizer, { template: 'llama3' });
    expect(noMessages).toMatchObject({ promptTokens: -1, user: { sessionId: 's', agentId: 'a' } });
    expect(noMessages.error).toMatch(/messages/);
    expect(analyzeRequest('completion', body({ prompt: ['a', 'b'] }), tokenizer, { template: 'llama3' }).error).toMatch(
      /one string/,
    );
  });
});

describe('response analysis', async () => {
  const tokenizer = await llama3Tokenizer();
  const promptTokens = Array.from({ length: 37 }, (_, i) => 500 + i);
  const promptHashes = blockHashes(promptTokens);
  const prompt = { lastBlockHash: promptHashes[1] ?? null, tailTokens: promptTokens.slice(32) };
  const output = 'Step one: collect the requirements from the user and write them down in a list of items.';

  it('reads usage, cached tokens, the tool call and output blocks of a JSON response', () => {
    const response = {
      id: 'cmpl-1',
      choices: [
        {
          index: 0,
          finish_reason: 'tool_calls',
          message: { content: output, tool_calls: [{ function: { name: 'search', arguments: '{}' } }] },
        },
      ],
      usage: { prompt_tokens: 37, completion_tokens: 25, prompt_tokens_details: { cached_tokens: 32 } },
    };
    const r = analyzeResponse(body(response), false, prompt, tokenizer);
    expect(r).toMatchObject({ promptTokens: 37, completionTokens: 25, cachedTokens: 32, toolCall: 'search' });
    const all = [...promptTokens, ...Array.from(tokenizer.encode(output))];
    expect(Array.from(r.outputBlockHashes)).toEqual(blockHashes(all).slice(2));
    expect(r.outputBlockHashes.length).toBeGreaterThan(0);
  });

  it('reads the final usage chunk and the deltas of an SSE stream', () => {
    const words = output.split(' ');
    const chunks = words.map((w, i) => ({ choices: [{ index: 0, delta: { content: i === 0 ? w : ` ${w}` } }] }));
    chunks.push({ choices: [{ index: 0, delta: {}, finish_reason: 'length' }] } as never);
    const sse = `${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('')}data: ${JSON.stringify({
      choices: [],
      usage: { prompt_tokens: 37, completion_tokens: words.length },
    })}\n\ndata: [DONE]\n\n`;
    const r = analyzeResponse(encoder.encode(sse), true, prompt, tokenizer);
    expect(r).toMatchObject({
      promptTokens: 37,
      completionTokens: words.length,
      cachedTokens: null,
      finishReason: 'length',
    });
    const generated = Array.from(tokenizer.encode(output));
    generated.pop();
    expect(Array.from(r.outputBlockHashes)).toEqual(blockHashes([...promptTokens, ...generated]).slice(2));
  });

  it('survives a body that is not JSON', () => {
    const r = analyzeResponse(encoder.encode('<html>'), false, prompt, tokenizer);
    expect(r.error).toMatch(/not readable/);
    expect(r.promptTokens).toBeNull();
  });
});
