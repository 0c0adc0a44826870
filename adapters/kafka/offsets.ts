import { ProgrammerError } from '../../core/errors.js';

/** Offsets travel as decimal strings (kafkajs convention); they are compared as bigints. */
const DECIMAL = /^(0|[1-9][0-9]*)$/;

export function parseOffset(offset: string): bigint {
  if (typeof offset !== 'string' || !DECIMAL.test(offset)) {
    throw new ProgrammerError(`not a Kafka offset: ${JSON.stringify(offset)}`);
  }
  return BigInt(offset);
}

/** The offset after `offset`: what a consumer commits once `offset` is processed. */
export function nextOffset(offset: string): string {
  return (parseOffset(offset) + 1n).toString();
}

/** The larger of two offsets; `undefined` counts as lower than any offset. */
export function maxOffset(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return parseOffset(a) >= parseOffset(b) ? a : b;
}

/** Key of one topic-partition in maps. */
export function topicPartitionKey(topic: string, partition: number): string {
  return `${topic}|${partition}`;
}
