import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderChatPrompt } from '../../../adapters/proxy/chat-template.js';
import { startTaggingProxy, type TaggingProxy } from '../../../adapters/proxy/proxy-server.js';
import { createTokenizerPool, type TokenizerPool } from '../../../adapters/proxy/tokenizer-pool.js';
import type { Sink, SinkMessage } from '../../../core/io.js';
import { blockHashes } from '../../../schemas/block-hash.js';
import type { RequestEvent } from '../../../schemas/types.js';
import { llama3Tokenizer } from '../../../workloads/tokenizer.js';
import { waitFor } from '../../integration/helpers.js';
import { type FakeOpenAi, startFakeOpenAi } from './support/fake-openai.js';
import { tsWorkerExecArgv } from './support/worker-flags.js';

const json = (value: unknown) =>
  Buffer.from(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));

function captureSink(): Sink<Uint8Array> & { events: RequestEvent[]; keys: (string | null)[] } {
  const events: RequestEvent[] = [];
  const keys: (string | null)[] = [];
  return {
    name: 'capture',
    events,
    keys,
    write(batch: readonly SinkMessage<Uint8Array>[]) {
      for (const m of batch) {
        events.push(JSON.parse(Buffer.from(m.value).toString()));
        keys.push(m.key);
      }
    },
    async close() {},
  };
}

/** POSTs through node:http and returns status, headers and every body chunk as it arrived. */
function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  onChunk?: (chunk: Buffer) => void,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = http.request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          onChunk?.(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('tagging proxy', async () => {
  const tokenizer = await llama3Tokenizer();
  const countPrompt = (body: Record<string, unknown>) =>
    body.messages === undefined
      ? 1 + tokenizer.encode(String(body.prompt)).length
      : tokenizer.encode(renderChatPrompt(body.messages, body.tools, { template: 'llama3.1' })).length;
  const reply = 'Plan: first read the failing test, then fix the parser and rerun the whole suite to be sure.';
  let upstream: FakeOpenAi;
  let pool: TokenizerPool;
  let proxy: TaggingProxy;
  const sink = captureSink();

  beforeAll(async () => {
    upstream = await startFakeOpenAi({ reply, promptTokens: countPrompt, cachedTokens: 16 });
    pool = createTokenizerPool({ template: 'llama3.1', execArgv: tsWorkerExecArgv() });
    await pool.ready;
    proxy = await startTaggingProxy({
      upstream: upstream.url,
      listenHost: '127.0.0.1',
      listenPort: 0,
      engineId: 'engine-7',
      sink,
      encodeRequestEvent: json,
      tokenizer: pool,
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await pool?.close();
    await upstream?.close();
  });

  const messages = [
    { role: 'system', content: 'You are the Planner.' },
    { role: 'user', content: 'Break the migration into steps for the Coder and the Tester. '.repeat(8) },
  ];

  it('forwards a tagged chat call untouched and emits ARRIVED then FINISHED with usage', async () => {
    const request = { model: 'm', messages };
    const res = await post(`${proxy.url}/v1/chat/completions`, request, {
      'x-agent-id': 'Planner',
      'x-session-id': 'sess-1',
      'x-workload-id': 'migrations',
      'x-request-id': 'req-1',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(upstream.sent.at(-1));
    expect(upstream.received.at(-1)?.body.toString()).toBe(JSON.stringify(request));
    expect(upstream.received.at(-1)?.headers['x-agent-id']).toBe('Planner');
    await proxy.flush();
    const events = sink.events.filter((e) => e.requestId === 'req-1');
    expect(events.map((e) => e.phase)).toEqual(['ARRIVED', 'FINISHED']);
    const tokens = Array.from(tokenizer.encode(renderChatPrompt(messages, undefined, { template: 'llama3.1' })));
    const hashes = blockHashes(tokens).map(String);
    expect(events[0]).toMatchObject({
      eventId: 'req-1:ARRIVED',
      engineId: 'engine-7',
      workloadId: 'migrations',
      sessionId: 'sess-1',
      agentId: 'Planner',
      promptTokens: tokens.length,
      cachedTokens: 0,
      blockHashes: hashes,
    });
    expect(events[1]).toMatchObject({
      phase: 'FINISHED',
      promptTokens: tokens.length,
      cachedTokens: 16,
      outputTokens: 7,
      blockHashes: hashes,
    });
    expect(events[1]!.outputBlockHashes.length).toBeGreaterThan(0);
    expect(events[1]!.ts).toBeGreaterThanOrEqual(events[0]!.ts);
    expect(sink.keys.every((k) => k === 'engine-7')).toBe(true);
    expect(proxy.stats.promptTokenMismatches).toBe(0);
  });

  it('streams SSE through byte for byte without buffering, and reads the final usage chunk', async () => {
    upstream.holdStreams = true;
    let firstChunkSeen = false;
    const request = {
      model: 'm',
      messages,
      stream: true,
      stream_options: { include_usage: true },
      user: 'migrations/sess-2/Coder',
    };
    const pending = post(`${proxy.url}/v1/chat/completions`, request, { 'x-request-id': 'req-2' }, () => {
      firstChunkSeen = true;
    });
    await waitFor(() => firstChunkSeen, { what: 'the first SSE chunk while the upstream holds the rest' });
    upstream.release();
    upstream.holdStreams = false;
    const res = await pending;
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.body).toEqual(upstream.sent.at(-1));
    await proxy.flush();
    const events = sink.events.filter((e) => e.requestId === 'req-2');
    expect(events.map((e) => [e.phase, e.agentId, e.sessionId, e.workloadId])).toEqual([
      ['ARRIVED', 'Coder', 'sess-2', 'migrations'],
      ['FINISHED', 'Coder', 'sess-2', 'migrations'],
    ]);
    expect(events[1]).toMatchObject({ cachedTokens: 16, outputTokens: 7 });
  });

  it('passes calls without identity through with no events and counts them', async () => {
    const before = sink.events.length;
    const untagged = proxy.stats.untagged;
    const res = await post(`${proxy.url}/v1/completions`, { model: 'm', prompt: 'hello there', user: 'end-user-9' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(upstream.sent.at(-1));
    await proxy.flush();
    expect(sink.events.length).toBe(before);
    expect(proxy.stats.untagged).toBe(untagged + 1);
    const metric = await proxy.metrics.registry.getSingleMetricAsString('cachesage_proxy_untagged_requests_total');
    expect(metric).toMatch(/route="completion"} [1-9]/);
  });

  it('passes other endpoints through and reports an upstream failure as ABORTED', async () => {
    const models = await new Promise<string>((resolve, reject) =>
      http
        .get(`${proxy.url}/v1/models`, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(text));
        })
        .on('error', reject),
    );
    expect(JSON.parse(models)).toEqual({ data: [{ id: 'fake' }] });
    const failed = await post(
      `${proxy.url}/fail/v1/chat/completions`,
      { model: 'm', messages },
      {
        'x-agent-id': 'Tester',
        'x-session-id': 'sess-3',
        'x-request-id': 'req-3',
      },
    );
    expect(failed.status).toBe(500);
    await proxy.flush();
    expect(sink.events.filter((e) => e.requestId === 'req-3').map((e) => e.phase)).toEqual(['ARRIVED', 'ABORTED']);
    expect(proxy.stats.requests.other).toBeGreaterThanOrEqual(1);
  });

  it('answers 502 when the upstream is down', async () => {
    const dead = await startTaggingProxy({
      upstream: 'http://127.0.0.1:1',
      listenHost: '127.0.0.1',
      listenPort: 0,
      engineId: 'e',
      sink: captureSink(),
      encodeRequestEvent: json,
      tokenizer: pool,
    });
    try {
      const res = await post(
        `${dead.url}/v1/chat/completions`,
        { messages },
        { 'x-agent-id': 'a', 'x-session-id': 's' },
      );
      expect(res.status).toBe(502);
      await dead.flush();
      expect(dead.stats.upstreamErrors).toBe(1);
      expect(dead.stats.events.ABORTED).toBe(1);
    } finally {
      await dead.close();
    }
  });

  it('validates its options', async () => {
    const base = { listenPort: 0, engineId: 'e', sink: captureSink(), encodeRequestEvent: json, tokenizer: pool };
    await expect(startTaggingProxy({ ...base, upstream: 'not a url' })).rejects.toThrow(/upstream/);
    await expect(startTaggingProxy({ ...base, upstream: 'https://x' })).rejects.toThrow(/http/);
    await expect(startTaggingProxy({ ...base, upstream: 'http://x', engineId: '' })).rejects.toThrow(/engineId/);
  });
});
