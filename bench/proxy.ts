import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { renderChatPrompt } from '../adapters/proxy/chat-template.js';
import { startTaggingProxy } from '../adapters/proxy/proxy-server.js';
import { createTokenizerPool } from '../adapters/proxy/tokenizer-pool.js';
import type { Sink } from '../core/io.js';
import { createCodec } from '../schemas/codec.js';
import { llama3Tokenizer } from '../workloads/tokenizer.js';

/** Options of the proxy latency benchmark. */
export interface ProxyBenchOptions {
  /** Prompt length in tokens (Llama 3 tokenizer, chat template included). Default 4096. */
  promptTokens?: number;
  /** Measured requests per mode (direct, proxied). Default 600. */
  requests?: number;
  /** Unmeasured requests per mode first. Default 100. */
  warmupRequests?: number;
  /** Time between request starts (one request at a time); the tokenizer worker must keep up. Default 25 ms. */
  intervalMs?: number;
  /** Tokenizer worker threads. Default 1. */
  threads?: number;
}

export interface LatencySummary {
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export interface ProxyBenchResult {
  promptTokens: number;
  requests: number;
  intervalMs: number;
  direct: LatencySummary;
  proxied: LatencySummary;
  /** proxied − direct at p50 and p99: what the proxy adds to a request. */
  addedP50Ms: number;
  addedP99Ms: number;
  /** Worker time to tokenize and hash one prompt (off the request path): histogram bucket bounds. */
  tokenizeP50Ms: number;
  tokenizeP99Ms: number;
  eventsEmitted: number;
  targetAddedP99Ms: number;
  machine: { cores: number; node: string };
}

function summary(samples: number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    p50Ms: round(at(0.5)),
    p90Ms: round(at(0.9)),
    p99Ms: round(at(0.99)),
    maxMs: round(sorted[sorted.length - 1] as number),
    meanMs: round(sorted.reduce((s, v) => s + v, 0) / sorted.length),
  };
}

/** An upstream that answers every call at once with a fixed chat completion (usage included). */
async function startUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const reply = Buffer.from(
    JSON.stringify({
      id: 'bench',
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Done.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 4096, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 0 } },
    }),
  );
  const server = http.createServer((req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length });
      res.end(reply);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function timedPost(agent: http.Agent, url: string, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers },
      },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve(performance.now() - started));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Chat messages whose rendered Llama 3.1 prompt has about `tokens` tokens; `salt` makes each prompt unique. */
async function promptOf(tokens: number): Promise<(salt: number) => Buffer> {
  const tokenizer = await llama3Tokenizer();
  const paragraph =
    'The Planner reads the issue, splits it into steps, and hands the first step to the Coder, who writes the change ' +
    'and its tests; the Reviewer then checks the diff against the plan and either approves it or sends it back. ';
  let repeat = 1;
  const render = (n: number) => [
    { role: 'system', content: 'You are the Coder of a three-agent software team.' },
    { role: 'user', content: paragraph.repeat(n) },
  ];
  const count = (n: number) =>
    tokenizer.encode(renderChatPrompt(render(n), undefined, { template: 'llama3.1' })).length;
  const perRepeat = count(2) - count(1);
  repeat = Math.max(1, Math.round((tokens - count(1)) / perRepeat) + 1);
  const messages = render(repeat);
  return (salt: number) =>
    Buffer.from(
      JSON.stringify({ model: 'bench', messages: [...messages, { role: 'user', content: `Request ${salt}.` }] }),
    );
}

/** What the proxy process reports when it stops. */
interface ProxyProcessReport {
  eventsEmitted: number;
  tokenizeP50Ms: number;
  tokenizeP99Ms: number;
}

/**
 * Runs in the child process: a tagging proxy in front of `upstream` with tokenizer workers and Avro-encoded events
 * into a discarding sink. Prints `{"url"}` when listening; on a line on stdin it flushes, prints its report, exits.
 */
async function serveProxy(upstream: string, threads: number): Promise<void> {
  const pool = createTokenizerPool({ template: 'llama3.1', threads });
  await pool.ready;
  let eventsEmitted = 0;
  const sink: Sink<Uint8Array> = {
    name: 'discard',
    write: (messages) => {
      eventsEmitted += messages.length;
    },
    close: async () => undefined,
  };
  const codec = createCodec('RequestEvent');
  const proxy = await startTaggingProxy({
    upstream,
    listenHost: '127.0.0.1',
    listenPort: 0,
    engineId: 'bench',
    sink,
    encodeRequestEvent: (e) => codec.encode(e),
    tokenizer: pool,
  });
  process.stdout.write(`${JSON.stringify({ url: proxy.url })}\n`);
  const stdin = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => stdin.once('line', () => resolve()));
  stdin.close();
  await proxy.flush();
  const histogram = await proxy.metrics.tokenizeSeconds.get();
  const buckets = histogram.values.filter((v) => v.metricName?.endsWith('_bucket'));
  const total = histogram.values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  const quantile = (q: number) => {
    const bucket = buckets.find((b) => b.value >= q * total);
    return bucket ? Number((bucket.labels as Record<string, string | number>).le) * 1000 : Number.NaN;
  };
  const report: ProxyProcessReport = { eventsEmitted, tokenizeP50Ms: quantile(0.5), tokenizeP99Ms: quantile(0.99) };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  await proxy.close();
  await pool.close();
}

/** Starts the proxy in its own process (as `cachesage proxy` runs in production) and returns its URL. */
async function startProxyProcess(
  upstream: string,
  threads: number,
): Promise<{ url: string; stop(): Promise<ProxyProcessReport> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve-proxy', upstream, String(threads)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('the proxy process exited before listening');
  const { url } = JSON.parse(first.value) as { url: string };
  return {
    url,
    async stop() {
      child.stdin.end('stop\n');
      const line = await lines.next();
      await new Promise((resolve) => child.once('exit', resolve));
      if (line.done) throw new Error('the proxy process exited without a report');
      return JSON.parse(line.value) as ProxyProcessReport;
    },
  };
}

/**
 * Measures what the tagging proxy adds to a request's latency. The proxy runs in its own process with its tokenizer
 * worker; this process holds the client and an instant upstream. The same calls (about `promptTokens` prompt tokens,
 * chat template included, each one unique) go straight to the upstream and through the proxy, alternating in blocks
 * of 20, one at a time at a fixed pace. Added latency = proxied − direct, at p50 and p99.
 */
export async function benchProxy(options: ProxyBenchOptions = {}): Promise<ProxyBenchResult> {
  const promptTokens = options.promptTokens ?? 4096;
  const requests = options.requests ?? 600;
  const warmup = options.warmupRequests ?? 100;
  const intervalMs = options.intervalMs ?? 25;
  const upstream = await startUpstream();
  const proxy = await startProxyProcess(upstream.url, options.threads ?? 1);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const makeBody = await promptOf(promptTokens);
  const headers = { 'x-agent-id': 'Coder', 'x-session-id': 'bench-session', 'x-workload-id': 'bench' };
  const direct: number[] = [];
  const proxied: number[] = [];
  let salt = 0;
  const block = 20;
  let report: ProxyProcessReport;
  try {
    for (let done = -warmup; done < requests; done += block) {
      for (const [base, out] of [
        [upstream.url, direct],
        [proxy.url, proxied],
      ] as const) {
        for (let i = 0; i < block; i++) {
          const next = performance.now() + intervalMs;
          const ms = await timedPost(agent, `${base}/v1/chat/completions`, makeBody(salt++), headers);
          if (done >= 0) out.push(ms);
          const wait = next - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
    }
  } finally {
    report = await proxy.stop();
    await upstream.close();
    agent.destroy();
  }
  const d = summary(direct);
  const p = summary(proxied);
  return {
    promptTokens,
    requests,
    intervalMs,
    direct: d,
    proxied: p,
    addedP50Ms: Math.round((p.p50Ms - d.p50Ms) * 1000) / 1000,
    addedP99Ms: Math.round((p.p99Ms - d.p99Ms) * 1000) / 1000,
    tokenizeP50Ms: report.tokenizeP50Ms,
    tokenizeP99Ms: report.tokenizeP99Ms,
    eventsEmitted: report.eventsEmitted,
    targetAddedP99Ms: 2,
    machine: { cores: availableParallelism(), node: process.version },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--serve-proxy') {
    await serveProxy(process.argv[3] as string, Number(process.argv[4] ?? 1));
  } else {
    const requests = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
    const result = await benchProxy(requests === undefined ? {} : { requests });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  }
}
