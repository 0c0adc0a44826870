import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { llama3Tokenizer } from '../../workloads/tokenizer.js';
import { analyzeRequest, analyzeResponse, type RequestAnalysisOptions } from './analysis.js';
import type { WorkerJob, WorkerReply } from './tokenizer-pool.js';

/** Worker thread of the tagging proxy: tokenizes and hashes prompts, reads responses, off the request path. */
const port = parentPort;
if (port === null) throw new Error('tokenizer-worker must run as a worker thread');
const options = workerData as RequestAnalysisOptions & { niceness: number };
lowerPriority(options.niceness);
const tokenizer = await llama3Tokenizer();
tokenizer.encode('warm up');

port.on('message', (job: WorkerJob) => {
  const started = performance.now();
  let reply: WorkerReply;
  if (job.type === 'request') {
    const result = analyzeRequest(job.route, job.body, tokenizer, options);
    reply = { id: job.id, type: 'request', result, micros: Math.round((performance.now() - started) * 1000) };
    port.postMessage(reply, [result.blockHashes.buffer as ArrayBuffer]);
  } else {
    const result = analyzeResponse(decoded(job.body, job.contentEncoding), job.streamed, job.prompt, tokenizer);
    reply = { id: job.id, type: 'response', result, micros: Math.round((performance.now() - started) * 1000) };
    port.postMessage(reply, [result.outputBlockHashes.buffer as ArrayBuffer]);
  }
});
port.postMessage({ type: 'ready' });

function decoded(body: Uint8Array, encoding: string | undefined): Uint8Array {
  try {
    switch (encoding?.trim().toLowerCase()) {
      case 'gzip':
      case 'x-gzip':
        return gunzipSync(body);
      case 'deflate':
        return inflateSync(body);
      case 'br':
        return brotliDecompressSync(body);
      default:
        return body;
    }
  } catch {
    return body;
  }
}

/**
 * Lowers this thread's scheduling priority (Linux: a thread id is a valid `setpriority` target), so that on a busy
 * machine the proxy's event loop, which forwards requests, runs before tokenization. Elsewhere it does nothing.
 */
function lowerPriority(niceness: number): void {
  if (!(niceness > 0)) return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(19, niceness));
  } catch {
    // not Linux, or not permitted: keep the default priority
  }
}
