import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the fake engine received. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A small OpenAI-compatible upstream for proxy tests: `/v1/chat/completions` and `/v1/completions` answer with a
 * fixed text (as JSON, or as SSE chunks when `stream` is set, with a usage chunk when
 * `stream_options.include_usage` is set), reporting `promptTokens(body)` as usage. A stream holds its last chunks
 * until `release()` when `holdStreams` is on. Every byte it sends is recorded per request.
 */
export interface FakeOpenAi {
  readonly url: string;
  readonly received: ReceivedRequest[];
  /** Raw bytes of each response body, in request order. */
  readonly sent: Buffer[];
  holdStreams: boolean;
  release(): void;
  close(): Promise<void>;
}

export interface FakeOpenAiOptions {
  reply: string;
  promptTokens: (body: Record<string, unknown>) => number;
  cachedTokens?: number;
  completionTokens?: number;
}

export async function startFakeOpenAi(options: FakeOpenAiOptions): Promise<FakeOpenAi> {
  const received: ReceivedRequest[] = [];
  const sent: Buffer[] = [];
  let releaseHeld: () => void = () => undefined;
  let held = new Promise<void>((resolve) => {
    releaseHeld = resolve;
  });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const index = sent.push(Buffer.alloc(0)) - 1;
      const write = (data: string) => {
        const bytes = Buffer.from(data);
        sent[index] = Buffer.concat([sent[index] as Buffer, bytes]);
        res.write(bytes);
      };
      if (req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        write(JSON.stringify({ data: [{ id: 'fake' }] }));
        return res.end();
      }
      if (req.url?.startsWith('/fail')) {
        res.writeHead(500, { 'content-type': 'application/json' });
        write('{"error":"boom"}');
        return res.end();
      }
      let request: Record<string, unknown>;
      let promptTokens: number;
      try {
        request = JSON.parse(body.toString() || '{}') as Record<string, unknown>;
        promptTokens = options.promptTokens(request);
      } catch (err) {
        res.writeHead(400, { 'content-type': 'application/json' });
        write(JSON.stringify({ error: String(err) }));
        return res.end();
      }
      const chat = req.url?.startsWith('/v1/chat/completions') ?? false;
      const usage = {
        prompt_tokens: promptTokens,
        completion_tokens: options.completionTokens ?? 7,
        total_tokens: promptTokens + (options.completionTokens ?? 7),
        ...(options.cachedTokens === undefined
          ? {}
          : { prompt_tokens_details: { cached_tokens: options.cachedTokens } }),
      };
      if (request.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const words = options.reply.split(' ');
        const piece = (text: string, finish: string | null) =>
          chat
            ? {
                id: 'c1',
                object: 'chat.completion.chunk',
                choices: [{ index: 0, delta: { content: text }, finish_reason: finish }],
              }
            : { id: 'c1', object: 'text_completion', choices: [{ index: 0, text, finish_reason: finish }] };
        write(`data: ${JSON.stringify(piece(words[0] ?? '', null))}\n\n`);
        if (fake.holdStreams) await held;
        for (let i = 1; i < words.length; i++) write(`data: ${JSON.stringify(piece(` ${words[i]}`, null))}\n\n`);
        write(`data: ${JSON.stringify(piece('', 'stop'))}\n\n`);
        const options_ = request.stream_options as { include_usage?: boolean } | undefined;
        if (options_?.include_usage) write(`data: ${JSON.stringify({ id: 'c1', choices: [], usage })}\n\n`);
        write('data: [DONE]\n\n');
        return res.end();
      }
      const choice = chat
        ? { index: 0, message: { role: 'assistant', content: options.reply }, finish_reason: 'stop' }
        : { index: 0, text: options.reply, finish_reason: 'stop' };
      res.writeHead(200, { 'content-type': 'application/json' });
      write(
        JSON.stringify({ id: 'c1', object: chat ? 'chat.completion' : 'text_completion', choices: [choice], usage }),
      );
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fake: FakeOpenAi = {
    url: `http://127.0.0.1:${port}`,
    received,
    sent,
    holdStreams: false,
    release() {
      releaseHeld();
      held = new Promise<void>((resolve) => {
        releaseHeld = resolve;
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        releaseHeld();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}
