import { Packr } from 'msgpackr';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeRequest } from '../../../adapters/proxy/analysis.js';
import { renderChatPrompt } from '../../../adapters/proxy/chat-template.js';
import { createTokenizerPool } from '../../../adapters/proxy/tokenizer-pool.js';
import { EngineHashMap } from '../../../adapters/vllm/engine-hash-map.js';
import { createKvEventTranslator } from '../../../adapters/vllm/translate.js';
import { llama3Tokenizer } from '../../../workloads/tokenizer.js';
import { tsWorkerExecArgv } from './support/worker-flags.js';

const request = {
  model: 'meta-llama/Llama-3.1-8B-Instruct',
  messages: [
    { role: 'system', content: 'You are the Coder of a software team. Write small, tested functions.' },
    { role: 'user', content: 'Planner: implement a function that merges two sorted lists, then test it. '.repeat(12) },
    { role: 'assistant', content: 'Here is the function and three tests covering empty, equal and interleaved lists.' },
    { role: 'user', content: 'Reviewer: the tests pass; add one for duplicates.' },
  ],
};

/** An engine's KV events for a prompt: its blocks stored in two BlockStored events, engine hashes arbitrary. */
function engineMessages(tokens: number[], blockSize: number): { seq: number; payload: Uint8Array }[] {
  const packr = new Packr({ useRecords: false });
  const blocks = Math.floor(tokens.length / blockSize);
  const split = Math.floor(blocks / 2);
  const engineHash = (i: number) => 0xf000000000000000n + BigInt(i) * 0x1000193n;
  const stored = (from: number, to: number) => [
    'BlockStored',
    Array.from({ length: to - from }, (_, i) => engineHash(from + i)),
    from === 0 ? null : engineHash(from - 1),
    tokens.slice(from * blockSize, to * blockSize),
    blockSize,
    null,
    'GPU',
    null,
  ];
  return [
    { seq: 0, payload: packr.pack([1767225600.5, [stored(0, split)], 0]) },
    { seq: 1, payload: packr.pack([1767225600.6, [stored(split, blocks)], 0]) },
  ];
}

describe("the proxy's prompt block hashes equal the bridge's mapped hashes of the same tokens", async () => {
  const tokenizer = await llama3Tokenizer();
  const tokens = Array.from(tokenizer.encode(renderChatPrompt(request.messages, undefined, { template: 'llama3.1' })));
  const pool = createTokenizerPool({ template: 'llama3.1', execArgv: tsWorkerExecArgv() });
  afterAll(() => pool.close());

  for (const blockSize of [16, 32]) {
    it(`engine block size ${blockSize}`, async () => {
      const { result } = await pool.analyzeRequest('chat', new TextEncoder().encode(JSON.stringify(request)));
      expect(result.error).toBeUndefined();
      expect(result.promptTokens).toBe(tokens.length);

      const translator = createKvEventTranslator({
        engineId: 'engine-a',
        endpoint: 'tcp://engine:5557',
        hashMap: new EngineHashMap(),
      });
      const bridged = engineMessages(tokens, blockSize).flatMap(
        ({ seq, payload }) => translator.translate({ topic: '', seq, payload }, 0).kvEvents,
      );
      expect(bridged.map((e) => e.kind)).toEqual(['BLOCK_STORED', 'BLOCK_STORED']);
      const bridgeHashes = bridged.flatMap((e) => e.blockHashes);
      const engineBlocks = Math.floor(tokens.length / blockSize);
      const proxyHashes = Array.from(result.blockHashes);
      expect(bridgeHashes).toHaveLength((engineBlocks * blockSize) / 16);
      expect(bridgeHashes.length).toBeGreaterThan(10);
      expect(proxyHashes.slice(0, bridgeHashes.length)).toEqual(bridgeHashes);
      expect(bridged[1]?.parentHash).toBe(bridged[0]?.blockHashes.at(-1));
      expect(
        Array.from(
          analyzeRequest('chat', new TextEncoder().encode(JSON.stringify(request)), tokenizer, { template: 'llama3.1' })
            .blockHashes,
        ),
      ).toEqual(proxyHashes);
    });
  }
});
