import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Command } from 'commander';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaTopology } from '../../adapters/kafka/start-kafka-topology.js';
import { readTopicToEnd } from '../../adapters/kafka/topic-reader.js';
import { natsSubscribe } from '../../adapters/nats/nats-subscribe.js';
import { registerDlq } from '../../cli/commands/dlq.js';
import { ConfigError } from '../../core/errors.js';
import { ensureTopics } from '../../infra/kafka/ensure-topics.js';
import type { Policy } from '../../policies/policy.js';
import { REQUEUE_HEADERS, readDeadLetters } from '../../replay/dead-letters.js';
import { createCodec } from '../../schemas/codec.js';
import type { Pin } from '../../schemas/types.js';
import { engineTopology } from '../../topology/engine-topology.js';
import { createEchoPolicy } from '../support/echo-policy.js';
import { requestEvent } from '../support/events.js';
import { integrationEnv, uniqueName, waitFor } from './helpers.js';

const { kafkaBrokers, natsUrl } = integrationEnv();
const kafka = new Kafka({ clientId: 'dlq-test', brokers: kafkaBrokers, logLevel: logLevel.NOTHING });
const requestCodec = createCodec('RequestEvent');
const letterCodec = createCodec('DeadLetter');
const created: string[] = [];
const groups: string[] = [];
let producer: Producer;
let nc: NatsConnection;

beforeAll(async () => {
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  nc = await connect({ servers: natsUrl });
});

afterAll(async () => {
  await producer?.disconnect();
  await nc?.drain();
  const admin = kafka.admin();
  await admin.connect();
  const changelogs = (await admin.listTopics()).filter((t) => groups.some((g) => t.startsWith(`cachesage.${g}.`)));
  await admin.deleteTopics({ topics: [...created, ...changelogs] }).catch(() => undefined);
  await admin.disconnect();
});

/** Runs `cachesage dlq ...` in-process; stdout is returned. */
async function dlq(...args: string[]): Promise<string> {
  let out = '';
  const program = new Command('cachesage').exitOverride();
  registerDlq(program, { stdout: { write: (c: string) => (out += c) }, stderr: { write: () => true } });
  await program.parseAsync(['node', 'cachesage', 'dlq', ...args, '--kafka-brokers', kafkaBrokers.join(',')]);
  return out;
}

describe('cachesage dlq', () => {
  it('lists and shows dead letters, and requeues them to their origin topic where processors read them again', async () => {
    const kvTopic = uniqueName('cachesage.test.dlq-kv');
    const requestsTopic = uniqueName('cachesage.test.dlq-requests');
    const dlqTopic = uniqueName('cachesage.test.dlq');
    created.push(kvTopic, requestsTopic, dlqTopic);
    await ensureTopics({
      brokers: kafkaBrokers,
      partitions: 1,
      topics: [kvTopic, requestsTopic, dlqTopic].map((name) => ({
        name,
        partitions: name === dlqTopic ? 1 : 2,
        config: {},
        purpose: 'test',
        retention: 'test',
        internal: true,
      })),
    });
    const engineId = uniqueName('eng');
    const pins: Pin[] = [];
    const stop = natsSubscribe(nc)(`cachesage.act.${engineId}.*`, (m) => pins.push(m.value as Pin));
    await nc.flush();

    const [garbage] = await producer.send({
      topic: requestsTopic,
      messages: [{ key: engineId, value: Buffer.from('not avro'), headers: { trace: 't-1' } }],
    });
    const parked = requestEvent({ eventId: uniqueName('parked'), engineId, phase: 'FINISHED', blockHashes: [7n, 8n] });
    await producer.send({
      topic: dlqTopic,
      messages: [
        {
          key: engineId,
          value: letterCodec.encode({
            originTopic: requestsTopic,
            originPartition: 1,
            originOffset: '41',
            stage: 'observe',
            reason: 'BAD_RECORD: parked by an older processor',
            failedAt: Date.now() - 60_000,
            payload: requestCodec.encode(parked),
            key: engineId,
            headers: { trace: 't-0' },
          }),
        },
      ],
    });

    const groupId = uniqueName('dlq-group');
    groups.push(groupId);
    const running = await startKafkaTopology(
      engineTopology({ policies: ['echo'], kvEventsTopic: kvTopic, requestsTopic, deadLetterTopic: dlqTopic }),
      {
        brokers: kafkaBrokers,
        natsUrl,
        groupId,
        policies: [createEchoPolicy({ ttlMs: 60_000 }) as Policy],
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 1000,
      },
    );
    try {
      await waitFor(() => running.stats.deadLettered === 1, { timeoutMs: 60_000, what: 'the garbage dead-lettered' });
      await waitFor(async () => (await readDeadLetters({ brokers: kafkaBrokers, topic: dlqTopic })).length === 2, {
        timeoutMs: 30_000,
        what: 'two dead letters on the topic',
      });

      const listed = (await dlq('list', '--dlq-topic', dlqTopic, '--json'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { position: string; origin: string; stage: string; reason: string });
      expect(listed.map((l) => l.position)).toEqual(['0:0', '0:1']);
      expect(listed[0]).toMatchObject({ origin: `${requestsTopic}/1/41`, stage: 'observe' });
      expect(listed[1]).toMatchObject({
        origin: `${requestsTopic}/${garbage!.partition}/${garbage!.baseOffset}`,
        stage: 'decode',
      });
      expect(listed[1]!.reason).toMatch(/^DECODE_FAILED/);
      const table = await dlq('list', '--dlq-topic', dlqTopic, '--limit', '1');
      expect(table).toContain('2 dead letter(s), newest 1 shown');
      expect(table).toContain('| 0:1 ');
      expect(table).not.toContain('| 0:0 ');

      const shown = JSON.parse(await dlq('show', '0:0', '--dlq-topic', dlqTopic)) as {
        payload: { schema: string; value: { eventId: string; blockHashes: string[] } };
        letterHeaders: Record<string, string>;
      };
      expect(shown.payload.schema).toBe('dev.cachesage.RequestEvent');
      expect(shown.payload.value.eventId).toBe(parked.eventId);
      expect(shown.payload.value.blockHashes).toEqual(['7', '8']);
      expect(shown.letterHeaders).toEqual({ trace: 't-0' });
      const garbageShown = JSON.parse(await dlq('show', '0:1', '--dlq-topic', dlqTopic)) as {
        payload: { schema: null; error: string };
      };
      expect(garbageShown.payload.schema).toBeNull();
      expect(garbageShown.payload.error).toMatch(/magic byte/);

      await expect(dlq('show', '0:99', '--dlq-topic', dlqTopic)).rejects.toThrow(/no dead letter at 0:99/);
      await expect(dlq('requeue', '--dlq-topic', dlqTopic)).rejects.toBeInstanceOf(ConfigError);
      expect(pins).toHaveLength(0);

      expect(await dlq('requeue', '0:0', '--dlq-topic', dlqTopic)).toBe(
        `requeued 1 dead letter(s): 1 to ${requestsTopic}\n`,
      );
      await waitFor(() => pins.length === 1, { timeoutMs: 30_000, what: 'the requeued event processed into a pin' });
      expect(pins[0]).toMatchObject({ causeId: parked.eventId, engineId, blockHashes: [7n, 8n] });

      expect(await dlq('requeue', '--all', '--dlq-topic', dlqTopic)).toBe(
        `requeued 2 dead letter(s): 2 to ${requestsTopic}\n`,
      );
      await waitFor(() => running.stats.deadLettered === 2, { timeoutMs: 30_000, what: 'the garbage failing again' });
      await waitFor(() => pins.length === 2, { timeoutMs: 30_000, what: 'the parked event acted on again' });
      const letters = await readDeadLetters({ brokers: kafkaBrokers, topic: dlqTopic });
      expect(letters).toHaveLength(3);
      const again = letters[2]!.letter!;
      expect(again.stage).toBe('decode');
      expect(again.headers?.[REQUEUE_HEADERS.from]).toBe(`${dlqTopic}/0/1`);
      expect(again.headers?.trace).toBe('t-1');
      expect(Buffer.from(again.payload).toString()).toBe('not avro');

      const requeued: Record<string, string>[] = [];
      await readTopicToEnd({ brokers: kafkaBrokers, topic: requestsTopic }, (r) => {
        if (r.headers[REQUEUE_HEADERS.from] !== undefined) requeued.push(r.headers);
      });
      expect(requeued.map((h) => h[REQUEUE_HEADERS.from]).sort()).toEqual(
        [`${dlqTopic}/0/0`, `${dlqTopic}/0/0`, `${dlqTopic}/0/1`].sort(),
      );
      expect(requeued.every((h) => !Number.isNaN(Date.parse(h[REQUEUE_HEADERS.at]!)))).toBe(true);
    } finally {
      stop();
      await running.close();
    }
  });
});
