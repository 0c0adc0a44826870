import { describe, expect, it } from 'vitest';
import {
  createDeadLetterSink,
  DEAD_LETTER_HEADERS,
  deadLetterRecord,
} from '../../../../adapters/kafka/dead-letter-sink.js';
import { createKafkaSink, topicMessagesOf } from '../../../../adapters/kafka/kafka-sink.js';
import {
  createKafkaSource,
  headersOf,
  isRebalanceError,
  toSourceRecord,
} from '../../../../adapters/kafka/kafka-source.js';
import { jsonValueCodec, policyStateCodec } from '../../../../adapters/kafka/value-codecs.js';
import { ConfigError, DecodeError, EncodeError, ProgrammerError } from '../../../../core/errors.js';
import type { SinkMessage } from '../../../../core/io.js';
import type { Policy } from '../../../../policies/policy.js';
import { createCodec } from '../../../../schemas/codec.js';
import type { DeadLetter } from '../../../../schemas/types.js';
import { createEchoPolicy } from '../../../support/echo-policy.js';

describe('value codecs', () => {
  it('JSON keeps bigints and bytes, and refuses what JSON would silently drop', () => {
    const codec = jsonValueCodec<unknown>();
    const value = { h: [-(2n ** 63n), 2n ** 64n], b: new Uint8Array([0, 255]), nested: { n: 1.5, s: 'x', z: null } };
    expect(codec.decode(codec.encode(value))).toEqual(value);
    expect(() => codec.encode({ m: new Map() })).toThrow(EncodeError);
    expect(() => codec.encode({ s: new Set([1]) })).toThrow(/field s/);
    expect(() => codec.encode(undefined)).toThrow(EncodeError);
    expect(() => codec.decode(Buffer.from('{'))).toThrow(DecodeError);
  });

  it('a policy state uses its snapshot/restore when it has both, else JSON', () => {
    const echo = createEchoPolicy() as Policy;
    const state = echo.createState();
    echo.observe(state, {
      type: 'kv',
      event: {
        eventId: 'e',
        engineId: 'x',
        seq: 1,
        ts: 1,
        producedAt: 1,
        kind: 'BLOCK_STORED',
        blockHashes: [1n],
        parentHash: null,
        tokenIds: [],
        medium: 'GPU',
      },
    });
    const json = policyStateCodec(echo);
    expect(json.decode(json.encode(state))).toEqual(state);
    const snapshots: unknown[] = [];
    const custom: Policy<{ n: number }> = {
      ...(echo as unknown as Policy<{ n: number }>),
      snapshot: (s) => {
        snapshots.push(s);
        return Buffer.from([s.n]);
      },
      restore: (bytes) => ({ n: bytes[0]! }),
    };
    const codec = policyStateCodec(custom);
    expect(codec.decode(codec.encode({ n: 42 }))).toEqual({ n: 42 });
    expect(snapshots).toEqual([{ n: 42 }]);
  });
});

describe('Kafka records', () => {
  it('a write becomes one batch per topic, order kept, tombstones as null values', () => {
    const messages: SinkMessage<Uint8Array | null>[] = [
      { destination: 'a', key: 'k', value: new Uint8Array([1]), headers: { h: 'v' } },
      { destination: 'b', key: null, value: null },
      { destination: 'a', key: 'k2', value: Buffer.from([2]) },
    ];
    const grouped = topicMessagesOf(messages);
    expect(grouped.map((g) => [g.topic, g.messages.map((m) => m.key)])).toEqual([
      ['a', ['k', 'k2']],
      ['b', [null]],
    ]);
    expect(Buffer.isBuffer(grouped[0]!.messages[0]!.value)).toBe(true);
    expect(grouped[0]!.messages[0]!.headers).toEqual({ h: 'v' });
    expect(grouped[1]!.messages[0]!.value).toBeNull();
    expect(() => topicMessagesOf([{ destination: 'a', key: null, value: 'x' as never }])).toThrow(ProgrammerError);
  });

  it('a kafkajs message becomes a source record with text key and headers; a tombstone is empty bytes', () => {
    const record = toSourceRecord('t', 3, {
      key: Buffer.from('engine-1'),
      value: null,
      timestamp: '1700000000000',
      attributes: 0,
      offset: '42',
      headers: { a: Buffer.from('x'), b: ['1', Buffer.from('2')], c: undefined },
    });
    expect(record).toEqual({
      origin: { topic: 't', partition: 3, offset: '42' },
      key: 'engine-1',
      value: new Uint8Array(0),
      timestampMs: 1700000000000,
      headers: { a: 'x', b: '2' },
    });
    expect(headersOf(undefined)).toEqual({});
  });

  it('tells rebalance errors (the batch replays elsewhere) from the rest', () => {
    expect(isRebalanceError({ type: 'REBALANCE_IN_PROGRESS' })).toBe(true);
    expect(isRebalanceError({ type: 'UNKNOWN_MEMBER_ID' })).toBe(true);
    expect(isRebalanceError({ type: 'TOPIC_AUTHORIZATION_FAILED' })).toBe(false);
    expect(isRebalanceError(new Error('x'))).toBe(false);
  });

  it('source and sink validate their options at construction', () => {
    const base = { brokers: ['127.0.0.1:1'], groupId: 'g', topics: ['t'] };
    expect(() => createKafkaSource({ ...base, topics: [] })).toThrow(ConfigError);
    expect(() => createKafkaSource({ ...base, groupId: '' })).toThrow(ConfigError);
    expect(() => createKafkaSource({ ...base, brokers: [] })).toThrow(ConfigError);
    expect(() => createKafkaSource({ ...base, maxInFlightBatches: 0 })).toThrow(ConfigError);
    expect(() => createKafkaSource({ ...base, heartbeatIntervalMs: 10_000, sessionTimeoutMs: 6000 })).toThrow(
      ConfigError,
    );
    expect(() => createKafkaSink({ brokers: [] })).toThrow(ConfigError);
    expect(() => createKafkaSink({ brokers: ['b:1'], ackTimeoutMs: 0 })).toThrow(ConfigError);
  });
});

describe('dead letters', () => {
  const codec = createCodec('DeadLetter');
  const letter: DeadLetter = {
    originTopic: 'cachesage.requests',
    originPartition: 2,
    originOffset: '17',
    stage: 'decode',
    reason: `DECODE_FAILED: ${'x'.repeat(2000)}`,
    failedAt: 123,
    payload: Buffer.from('raw'),
    key: null,
    headers: { trace: 't1' },
  };

  it('encode the envelope with the DeadLetter codec and put the origin in headers', () => {
    const record = deadLetterRecord({ destination: 'cachesage.dlq', key: 'engine-1', value: letter }, codec);
    const decoded = codec.decode(record.value!);
    expect(decoded).toEqual({ ...letter, key: 'engine-1', payload: Buffer.from('raw') });
    expect(record.key).toBe('engine-1');
    expect(record.headers).toMatchObject({
      [DEAD_LETTER_HEADERS.originTopic]: 'cachesage.requests',
      [DEAD_LETTER_HEADERS.originPartition]: '2',
      [DEAD_LETTER_HEADERS.originOffset]: '17',
      [DEAD_LETTER_HEADERS.stage]: 'decode',
    });
    expect(record.headers![DEAD_LETTER_HEADERS.reason]!.length).toBe(512);
  });

  it('pass encoded letters through and refuse anything else', async () => {
    const bytes = codec.encode(letter);
    expect(deadLetterRecord({ destination: 'd', key: null, value: bytes }, codec).value).toBe(bytes);
    expect(() => deadLetterRecord({ destination: 'd', key: null, value: { originTopic: 'x' } }, codec)).toThrow(
      ProgrammerError,
    );
    const written: SinkMessage<Uint8Array | null>[] = [];
    const sink = createDeadLetterSink({
      sink: { name: 'w', write: (m) => void written.push(...m), close: async () => {} },
    });
    await sink.write([{ destination: 'd', key: 'k', value: letter }]);
    expect(written).toHaveLength(1);
    expect(codec.decode(written[0]!.value!).originOffset).toBe('17');
  });
});
