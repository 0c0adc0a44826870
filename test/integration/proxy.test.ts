import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaSink, type KafkaSink } from '../../adapters/kafka/kafka-sink.js';
import { renderChatPrompt } from '../../adapters/proxy/chat-template.js';
import { startTaggingProxy, type TaggingProxy } from '../../adapters/proxy/proxy-server.js';
import { createTokenizerPool, type TokenizerPool } from '../../adapters/proxy/tokenizer-pool.js';
import { ensureTopics } from '../../infra/kafka/ensure-topics.js';
import { blockHashes } from '../../schemas/block-hash.js';
import { createCodec } from '../../schemas/codec.js';
import type { RequestEvent } from '../../schemas/types.js';
import { llama3Tokenizer } from '../../workloads/tokenizer.js';
import { type FakeOpenAi, startFakeOpenAi } from '../unit/proxy/support/fake-openai.js';
import { tsWorkerExecArgv } from '../unit/proxy/support/worker-flags.js';
import { integrationEnv, uniqueName, waitFor } from './helpers.js';

const { kafkaBrokers } = integrationEnv();
const kafka = new Kafka({ clientId: 'proxy-test', brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
const topic = uniqueName('cachesage.test.requests');

describe('tagging proxy -> real Kafka', async () => {
  const tokenizer = await llama3Tokenizer();
  const codec = createCodec('RequestEvent');
  const received: { key: string | null; event: RequestEvent }[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('proxy-test') });
  const countPrompt = (body: Record<string, unknown>) =>
    body.messages === undefined
      ? 1 + tokenizer.encode(String(body.prompt)).length
      : tokenizer.encode(renderChatPrompt(body.messages, body.tools, { template: 'llama3.1' })).length;
  let upstream: FakeOpenAi;
  let pool: TokenizerPool;
  let sink: KafkaSink;
  let proxy: TaggingProxy;

  beforeAll(async () => {
    await ensureTopics({
      brokers: kafkaBrokers,
      partitions: 2,
      topics: [{ name: topic, partitions: 2, config: {}, purpose: 'test', retention: 'test', internal: true }],
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({ key: message.key?.toString() ?? null, event: codec.decode(message.value as Buffer) });
      },
    });
    upstream = await startFakeOpenAi({
      reply: 'I will write the parser first, then the tests, and report back to the Planner when both pass.',
      promptTokens: countPrompt,
      cachedTokens: 32,
      completionTokens: 21,
    });
    pool = createTokenizerPool({ template: 'llama3.1', execArgv: tsWorkerExecArgv() });
    await pool.ready;
    sink = createKafkaSink({ brokers: kafkaBrokers, clientId: 'proxy-test' });
    await sink.connect();
    proxy = await startTaggingProxy({
      upstream: upstream.url,
      listenHost: '127.0.0.1',
      listenPort: 0,
      engineId: 'vllm-3',
      sink,
      encodeRequestEvent: (e) => codec.encode(e),
      requestsTopic: topic,
      tokenizer: pool,
    });
  });

  afterAll(async () => {
    await proxy?.close();
    await pool?.close();
    await sink?.close();
    await upstream?.close();
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  const messages = [
    { role: 'system', content: 'You are the Coder of a three-agent team (Planner, Coder, Tester).' },
    { role: 'user', content: 'Planner: write a tokenizer for arithmetic expressions with unit tests. '.repeat(10) },
  ];

  it('emits ARRIVED and FINISHED for a non-streaming chat call, with token counts of the tokenizer', async () => {
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-agent-id': 'Coder',
        'x-session-id': 'task-1',
        'x-workload-id': 'team',
      },
      body: JSON.stringify({ model: 'llama', messages }),
    });
    const body = (await res.json()) as { usage: { prompt_tokens: number } };
    const tokens = Array.from(tokenizer.encode(renderChatPrompt(messages, undefined, { template: 'llama3.1' })));
    expect(body.usage.prompt_tokens).toBe(tokens.length);
    await waitFor(() => received.filter((r) => r.event.sessionId === 'task-1').length === 2, {
      what: 'ARRIVED and FINISHED on Kafka',
    });
    const [arrived, finished] = received.filter((r) => r.event.sessionId === 'task-1');
    expect(arrived?.key).toBe('vllm-3');
    expect(arrived?.event).toMatchObject({
      phase: 'ARRIVED',
      engineId: 'vllm-3',
      workloadId: 'team',
      agentId: 'Coder',
      promptTokens: tokens.length,
      cachedTokens: 0,
      blockHashes: blockHashes(tokens),
    });
    expect(finished?.event).toMatchObject({
      phase: 'FINISHED',
      requestId: arrived?.event.requestId,
      promptTokens: tokens.length,
      cachedTokens: 32,
      outputTokens: 21,
      blockHashes: blockHashes(tokens),
    });
    expect(finished!.event.outputBlockHashes.length).toBeGreaterThan(0);
  });

  it('streams a completions call untouched and reads the usage chunk at its end', async () => {
    const prompt = 'Tester: run the suite and list every failing case with its input. '.repeat(12);
    const res = await fetch(`${proxy.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'llama',
        prompt,
        stream: true,
        stream_options: { include_usage: true },
        user: 'team/task-2/Tester',
      }),
    });
    const text = await res.text();
    expect(Buffer.from(text)).toEqual(upstream.sent.at(-1));
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const tokens = [128000, ...Array.from(tokenizer.encode(prompt))];
    await waitFor(() => received.filter((r) => r.event.sessionId === 'task-2').length === 2, {
      what: 'ARRIVED and FINISHED of the stream',
    });
    const events = received.filter((r) => r.event.sessionId === 'task-2').map((r) => r.event);
    expect(events.map((e) => [e.phase, e.agentId, e.workloadId, e.promptTokens])).toEqual([
      ['ARRIVED', 'Tester', 'team', tokens.length],
      ['FINISHED', 'Tester', 'team', tokens.length],
    ]);
    expect(events[0]?.blockHashes).toEqual(blockHashes(tokens));
    expect(events[1]).toMatchObject({ cachedTokens: 32, outputTokens: 21 });
  });

  it('passes an untagged call through without events', async () => {
    const before = received.length;
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama', messages }),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    await proxy.flush();
    expect(proxy.stats.untagged).toBe(1);
    expect(proxy.stats.events).toMatchObject({ ARRIVED: 2, FINISHED: 2, ABORTED: 0 });
    expect(received.length).toBe(before);
  });
});
