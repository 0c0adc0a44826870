import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, pino } from 'pino';
import { ConfigError, reasonOf } from '../../core/errors.js';
import type { Sink } from '../../core/io.js';
import type { RequestEvent, RequestPhase } from '../../schemas/types.js';
import type { ProxyRoute, RequestAnalysis } from './analysis.js';
import { EventQueue } from './event-queue.js';
import { type AgentIdentity, identityFromHeaders, resolveIdentity } from './identity.js';
import { createProxyMetrics, type ProxyMetrics } from './proxy-metrics.js';
import type { TokenizerPool } from './tokenizer-pool.js';

export interface TaggingProxyOptions {
  /** The OpenAI-compatible engine, e.g. `http://engine:8000` (a path prefix is kept). */
  upstream: string;
  /** Listen address; default 0.0.0.0. */
  listenHost?: string;
  /** Listen port; 0 picks a free one. */
  listenPort: number;
  engineId: string;
  /** Workload of calls whose identity names none. Default `default`. */
  defaultWorkloadId?: string;
  sink: Sink<Uint8Array>;
  /** Bytes of a RequestEvent on the bus (the Avro codec's `encode`). */
  encodeRequestEvent: (event: RequestEvent) => Uint8Array;
  /** Default `cachesage.requests`. */
  requestsTopic?: string;
  /** Tokenizer workers (the proxy does not own them: the caller closes them). */
  tokenizer: TokenizerPool;
  /**
   * Request bytes read for tokenization (a larger body is forwarded but not tokenized: its events carry no hashes)
   * and response bytes kept for reading usage (beyond it only the last 64 KiB are kept). Default 8 MiB.
   */
  maxCaptureBytes?: number;
  /** Most events held while the sink is slow or down. Default 10,000. */
  queueCapacity?: number;
  metrics?: ProxyMetrics;
  logger?: Logger;
  /** Wall clock; default Date.now. */
  now?: () => number;
}

/** Plain counters of one proxy (the same numbers as its metrics). */
export interface TaggingProxyStats {
  requests: Record<ProxyRoute | 'other', number>;
  tagged: number;
  untagged: number;
  events: Record<RequestPhase, number>;
  upstreamErrors: number;
  tokenizeErrors: number;
  promptTokenMismatches: number;
}

export interface TaggingProxy {
  /** `http://host:port` the proxy listens on. */
  readonly url: string;
  readonly port: number;
  readonly stats: Readonly<TaggingProxyStats>;
  readonly metrics: ProxyMetrics;
  /** Resolves once every event of the calls finished so far was handed to the sink. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const TAIL_BYTES = 64 * 1024;

function routeOf(req: IncomingMessage): ProxyRoute | null {
  if (req.method !== 'POST' || req.url === undefined) return null;
  const q = req.url.indexOf('?');
  const path = q === -1 ? req.url : req.url.slice(0, q);
  if (path.endsWith('/v1/chat/completions')) return 'chat';
  if (path.endsWith('/v1/completions')) return 'completion';
  return null;
}

function forwardHeaders(headers: IncomingHttpHeaders, host?: string): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  const listed = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.includes(name)) continue;
    out[name] = value;
  }
  if (host !== undefined) out.host = host;
  return out;
}

/**
 * Starts the agent-tagging reverse proxy (DESIGN §9): every request is forwarded at once and its response piped
 * back byte for byte (SSE included); for `/v1/chat/completions` and `/v1/completions` the body is also copied to a
 * tokenizer worker, which tokenizes the prompt (Llama 3 tokenizer and chat template) and hashes its blocks, and the
 * proxy emits RequestEvents ARRIVED and FINISHED (or ABORTED) keyed by engine id. Calls without an agent and a
 * session pass through with no events and are counted.
 */
export async function startTaggingProxy(options: TaggingProxyOptions): Promise<TaggingProxy> {
  const { engineId, sink, tokenizer } = options;
  if (!engineId) throw new ConfigError('proxy: engineId is required');
  let upstream: URL;
  try {
    upstream = new URL(options.upstream);
  } catch {
    throw new ConfigError(`proxy: upstream must be a URL like http://engine:8000, got ${options.upstream}`);
  }
  if (upstream.protocol !== 'http:') throw new ConfigError(`proxy: upstream must be http://, got ${upstream.protocol}`);
  if (!Number.isInteger(options.listenPort) || options.listenPort < 0 || options.listenPort > 65535) {
    throw new ConfigError(`proxy: listen port must be 0-65535, got ${options.listenPort}`);
  }
  const maxCaptureBytes = options.maxCaptureBytes ?? 8 * 1024 * 1024;
  if (!(maxCaptureBytes >= TAIL_BYTES)) throw new ConfigError(`proxy: maxCaptureBytes must be >= ${TAIL_BYTES}`);
  const defaultWorkloadId = options.defaultWorkloadId ?? 'default';
  const requestsTopic = options.requestsTopic ?? 'cachesage.requests';
  const basePath = upstream.pathname.replace(/\/+$/, '');
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ engineId, upstream: upstream.origin });
  const metrics = options.metrics ?? createProxyMetrics();
  const now = options.now ?? Date.now;
  const labels = { engine: engineId };
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, scheduling: 'lifo' });
  const stats: TaggingProxyStats = {
    requests: { chat: 0, completion: 0, other: 0 },
    tagged: 0,
    untagged: 0,
    events: { ARRIVED: 0, PREFILLED: 0, FINISHED: 0, ABORTED: 0 },
    upstreamErrors: 0,
    tokenizeErrors: 0,
    promptTokenMismatches: 0,
  };
  const queue = new EventQueue({
    sink,
    logger,
    ...(options.queueCapacity === undefined ? {} : { capacity: options.queueCapacity }),
    onDrop: (count) => metrics.droppedEvents.inc(labels, count),
    onWriteError: () => metrics.publishErrors.inc(labels),
  });
  const inFlight = new Set<Promise<unknown>>();

  function emit(
    phase: RequestPhase,
    requestId: string,
    identity: AgentIdentity,
    ts: number,
    fields: Partial<RequestEvent>,
  ): void {
    const event: RequestEvent = {
      eventId: `${requestId}:${phase}`,
      requestId,
      engineId,
      workloadId: identity.workloadId,
      sessionId: identity.sessionId,
      agentId: identity.agentId,
      phase,
      ts,
      producedAt: now(),
      promptTokens: 0,
      cachedTokens: 0,
      blockHashes: [],
      outputBlockHashes: [],
      outputTokens: 0,
      toolCall: null,
      ...fields,
    };
    let value: Uint8Array;
    try {
      value = options.encodeRequestEvent(event);
    } catch (err) {
      logger.error({ err: reasonOf(err), requestId, phase }, 'request event could not be encoded');
      return;
    }
    queue.push({ destination: requestsTopic, key: engineId, value, messageId: event.eventId });
    stats.events[phase]++;
    metrics.events.inc({ ...labels, phase });
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    inFlight.add(promise);
    promise.finally(() => inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const arrivedAt = now();
    const route = routeOf(req);
    const requestId = (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id']) || randomUUID();
    const upstreamReq = http.request({
      agent,
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: `${basePath}${req.url ?? '/'}`,
      headers: forwardHeaders(req.headers, upstream.host),
    });
    req.pipe(upstreamReq);

    let requestBody: Buffer[] | null = route === null ? null : [];
    let responseChunks: Buffer[] = [];
    let responseBytes = 0;
    let truncated = false;
    let status = 0;
    let streamed = false;
    let contentEncoding: string | undefined;
    let finished = false;
    let settle: (outcome: 'finished' | 'aborted') => void = () => undefined;
    const outcome = new Promise<'finished' | 'aborted'>((resolve) => {
      settle = resolve;
    });

    upstreamReq.on('response', (upstreamRes) => {
      status = upstreamRes.statusCode ?? 502;
      const type = String(upstreamRes.headers['content-type'] ?? '');
      streamed = type.includes('text/event-stream');
      contentEncoding = upstreamRes.headers['content-encoding'];
      res.writeHead(status, upstreamRes.statusMessage, forwardHeaders(upstreamRes.headers));
      if (route !== null) {
        upstreamRes.on('data', (chunk: Buffer) => {
          responseBytes += chunk.length;
          responseChunks.push(chunk);
          if (!truncated && responseBytes > maxCaptureBytes) truncated = true;
          if (truncated) {
            let kept = responseChunks.reduce((n, c) => n + c.length, 0);
            while (kept - (responseChunks[0]?.length ?? 0) >= TAIL_BYTES) kept -= responseChunks.shift()?.length ?? 0;
          }
        });
      }
      upstreamRes.on('end', () => {
        finished = true;
      });
      upstreamRes.pipe(res);
    });
    upstreamReq.on('error', (err) => {
      stats.upstreamErrors++;
      metrics.upstreamErrors.inc(labels);
      logger.warn({ err: reasonOf(err), url: req.url }, 'upstream request failed');
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `upstream unavailable: ${err.message}`, type: 'bad_gateway' } }));
      } else {
        res.destroy(err);
      }
      settle('aborted');
    });
    res.on('close', () => {
      if (!finished || !res.writableFinished) {
        upstreamReq.destroy();
        settle('aborted');
      } else {
        settle('finished');
      }
    });

    stats.requests[route ?? 'other']++;
    if (route === null || requestBody === null) {
      metrics.requests.inc({ ...labels, route: 'other', identity: 'none' });
      return;
    }
    const fromHeaders = identityFromHeaders(req.headers);
    const body = requestBody;
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
      if (bodyBytes <= maxCaptureBytes) body.push(chunk);
    });
    req.on('end', () => {
      const bytes = bodyBytes <= maxCaptureBytes ? Buffer.concat(body) : Buffer.alloc(0);
      requestBody = null;
      track(
        follow(route, requestId, arrivedAt, bytes, fromHeaders, outcome, () => {
          const captured = Buffer.concat(responseChunks);
          responseChunks = [];
          return { captured, truncated, status, streamed, contentEncoding };
        }),
      );
    });
  }

  async function follow(
    route: ProxyRoute,
    requestId: string,
    arrivedAt: number,
    body: Buffer,
    fromHeaders: ReturnType<typeof identityFromHeaders>,
    outcome: Promise<'finished' | 'aborted'>,
    response: () => {
      captured: Buffer;
      truncated: boolean;
      status: number;
      streamed: boolean;
      contentEncoding: string | undefined;
    },
  ): Promise<void> {
    let analysis: RequestAnalysis;
    try {
      const reply = await tokenizer.analyzeRequest(route, body);
      analysis = reply.result;
      metrics.tokenizeSeconds.observe(labels, reply.micros / 1e6);
    } catch (err) {
      logger.error({ err: reasonOf(err), requestId }, 'tokenizer worker failed');
      analysis = {
        user: {},
        stream: false,
        promptTokens: -1,
        blockHashes: new BigInt64Array(0),
        tailTokens: [],
        error: reasonOf(err),
      };
    }
    const { identity, source } = resolveIdentity(fromHeaders, analysis.user, defaultWorkloadId);
    metrics.requests.inc({ ...labels, route, identity: source });
    if (identity === null) {
      stats.untagged++;
      metrics.untagged.inc({ ...labels, route });
      return;
    }
    stats.tagged++;
    const hashes = Array.from(analysis.blockHashes);
    if (analysis.error !== undefined) {
      stats.tokenizeErrors++;
      metrics.tokenizeErrors.inc(labels);
      logger.warn({ requestId, reason: analysis.error }, 'prompt not tokenized; events carry no block hashes');
    }
    const promptTokens = Math.max(0, analysis.promptTokens);
    emit('ARRIVED', requestId, identity, arrivedAt, { promptTokens, blockHashes: hashes });

    const ended = await outcome;
    const { captured, truncated, status, streamed, contentEncoding } = response();
    if (ended === 'aborted' || status >= 400) {
      emit('ABORTED', requestId, identity, now(), { promptTokens, blockHashes: hashes });
      return;
    }
    let usage: Awaited<ReturnType<TokenizerPool['analyzeResponse']>>['result'] | null = null;
    try {
      const prompt =
        truncated || analysis.error !== undefined
          ? null
          : {
              lastBlockHash: hashes.length > 0 ? (hashes[hashes.length - 1] as bigint) : null,
              tailTokens: analysis.tailTokens,
            };
      usage = (await tokenizer.analyzeResponse(captured, streamed, prompt, contentEncoding)).result;
    } catch (err) {
      logger.warn({ err: reasonOf(err), requestId }, 'response not readable');
    }
    if (usage?.promptTokens != null && analysis.error === undefined && usage.promptTokens !== analysis.promptTokens) {
      stats.promptTokenMismatches++;
      metrics.promptTokenMismatches.inc(labels);
      logger.debug(
        { requestId, engine: usage.promptTokens, proxy: analysis.promptTokens },
        'prompt token counts differ',
      );
    }
    emit('FINISHED', requestId, identity, now(), {
      promptTokens: usage?.promptTokens ?? promptTokens,
      cachedTokens: usage?.cachedTokens ?? 0,
      blockHashes: hashes,
      outputBlockHashes: usage ? Array.from(usage.outputBlockHashes) : [],
      outputTokens: usage?.completionTokens ?? 0,
      toolCall: usage?.toolCall ?? null,
    });
  }

  const server = http.createServer({ keepAliveTimeout: 65_000 }, handle);
  server.on('clientError', (err, socket) => {
    logger.debug({ err: reasonOf(err) }, 'client error');
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort, options.listenHost ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.info({ port: address.port }, 'tagging proxy listening');

  async function flush(): Promise<void> {
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    await queue.flush();
  }

  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    port: address.port,
    stats,
    metrics,
    flush,
    async close() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopped, new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
      clearTimeout(timer);
      server.closeAllConnections();
      await stopped;
      await Promise.race([flush(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
      await queue.close();
      agent.destroy();
    },
  };
}
