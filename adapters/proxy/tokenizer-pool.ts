import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ConfigError, InfraError } from '../../core/errors.js';
import type { ProxyRoute, RequestAnalysis, RequestAnalysisOptions, ResponseAnalysis } from './analysis.js';

/** A job for a tokenizer worker. Bodies are transferred, not copied. */
export type WorkerJob =
  | { type: 'request'; id: number; route: ProxyRoute; body: Uint8Array }
  | {
      type: 'response';
      id: number;
      body: Uint8Array;
      streamed: boolean;
      prompt: PromptTail | null;
      /** `content-encoding` of the body (gzip, deflate, br), if any. */
      contentEncoding?: string;
    };

/** Where a call's output continues the prompt's block chain: its last full block hash and the tokens after it. */
export interface PromptTail {
  lastBlockHash: bigint | null;
  tailTokens: number[];
}

export type WorkerReply =
  | { type: 'request'; id: number; result: RequestAnalysis; micros: number }
  | { type: 'response'; id: number; result: ResponseAnalysis; micros: number };

export interface TokenizerPoolOptions extends RequestAnalysisOptions {
  /** Worker threads. Default 1. */
  threads?: number;
  /** Worker module; default `tokenizer-worker.js` beside this module (the `.ts` source when running from source). */
  workerUrl?: URL;
  /** Node flags for the workers (a TypeScript loader when running from source). */
  execArgv?: string[];
  /**
   * Nice value of the worker threads (Linux), so forwarding on the event loop wins the CPU over tokenization.
   * Default 10; 0 leaves the priority alone.
   */
  niceness?: number;
}

/** Tokenizer worker threads: prompts are tokenized and hashed, and responses read, away from the event loop. */
export interface TokenizerPool {
  /** Resolves once every worker loaded its tokenizer. */
  readonly ready: Promise<void>;
  analyzeRequest(route: ProxyRoute, body: Uint8Array): Promise<{ result: RequestAnalysis; micros: number }>;
  analyzeResponse(
    body: Uint8Array,
    streamed: boolean,
    prompt: PromptTail | null,
    contentEncoding?: string,
  ): Promise<{ result: ResponseAnalysis; micros: number }>;
  close(): Promise<void>;
}

function defaultWorkerUrl(): URL {
  const js = new URL('./tokenizer-worker.js', import.meta.url);
  return existsSync(fileURLToPath(js)) ? js : new URL('./tokenizer-worker.ts', import.meta.url);
}

export function createTokenizerPool(options: TokenizerPoolOptions): TokenizerPool {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1)
    throw new ConfigError(`tokenizer threads must be >= 1, got ${threads}`);
  const url = options.workerUrl ?? defaultWorkerUrl();
  const niceness = options.niceness ?? 10;
  if (!Number.isInteger(niceness) || niceness < 0 || niceness > 19) {
    throw new ConfigError(`tokenizer niceness must be 0-19, got ${niceness}`);
  }
  const workerData: RequestAnalysisOptions & { niceness: number } = {
    niceness,
    template: options.template,
    ...(options.dateString === undefined ? {} : { dateString: options.dateString }),
  };
  const pending = new Map<number, { resolve: (reply: WorkerReply) => void; reject: (err: Error) => void }>();
  const load = new Map<Worker, number>();
  let nextId = 1;
  let closing = false;

  const workers: Worker[] = [];
  const readies: Promise<void>[] = [];
  for (let i = 0; i < threads; i++) {
    const worker = new Worker(url, { workerData, ...(options.execArgv ? { execArgv: options.execArgv } : {}) });
    workers.push(worker);
    load.set(worker, 0);
    readies.push(
      new Promise<void>((resolve, reject) => {
        worker.on('message', (message: WorkerReply | { type: 'ready' }) => {
          if (message.type === 'ready') return resolve();
          const entry = pending.get(message.id);
          if (entry === undefined) return;
          pending.delete(message.id);
          load.set(worker, (load.get(worker) ?? 1) - 1);
          entry.resolve(message);
        });
        worker.on('error', (err) => {
          reject(new InfraError('INFRA_START_FAILED', `tokenizer worker failed: ${err.message}`, { cause: err }));
          failAll(err);
        });
        worker.on('exit', (code) => {
          if (!closing) failAll(new Error(`tokenizer worker exited with code ${code}`));
        });
      }),
    );
  }
  const ready = Promise.all(readies).then(() => undefined);
  ready.catch(() => undefined);

  function failAll(err: Error): void {
    for (const [id, entry] of pending) {
      pending.delete(id);
      entry.reject(err);
    }
  }

  function submit(job: WorkerJob): Promise<WorkerReply> {
    if (closing) return Promise.reject(new InfraError('CONNECTION_FAILED', 'tokenizer pool is closed'));
    let best = workers[0] as Worker;
    for (const worker of workers) if ((load.get(worker) ?? 0) < (load.get(best) ?? 0)) best = worker;
    load.set(best, (load.get(best) ?? 0) + 1);
    return new Promise<WorkerReply>((resolve, reject) => {
      pending.set(job.id, { resolve, reject });
      best.postMessage(job, [job.body.buffer as ArrayBuffer]);
    });
  }

  /** A private copy of `body` whose buffer may be transferred. */
  function own(body: Uint8Array): Uint8Array {
    const copy = new Uint8Array(body.byteLength);
    copy.set(body);
    return copy;
  }

  return {
    ready,
    async analyzeRequest(route, body) {
      const reply = await submit({ type: 'request', id: nextId++, route, body: own(body) });
      if (reply.type !== 'request') throw new Error('tokenizer worker answered the wrong job type');
      return { result: reply.result, micros: reply.micros };
    },
    async analyzeResponse(body, streamed, prompt, contentEncoding) {
      const reply = await submit({
        type: 'response',
        id: nextId++,
        body: own(body),
        streamed,
        prompt,
        ...(contentEncoding === undefined ? {} : { contentEncoding }),
      });
      if (reply.type !== 'response') throw new Error('tokenizer worker answered the wrong job type');
      return { result: reply.result, micros: reply.micros };
    },
    async close() {
      closing = true;
      failAll(new InfraError('CONNECTION_FAILED', 'tokenizer pool closed'));
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
