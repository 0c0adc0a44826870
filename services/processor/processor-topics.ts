import { ConfigError } from '../../core/errors.js';
import {
  DLQ_TOPIC,
  KV_EVENTS_TOPIC,
  MODEL_TOPIC,
  REQUESTS_TOPIC,
  SESSIONS_REPARTITION_TOPIC,
  SESSIONS_TOPIC,
} from '../../infra/topics.js';

/** The Kafka topics a processor reads and writes (the registry's by default; tests and tenants name their own). */
export interface ProcessorTopics {
  kvEvents: string;
  requests: string;
  deadLetters: string;
  sessionsRepartition: string;
  sessions: string;
  model: string;
}

export const DEFAULT_PROCESSOR_TOPICS: Readonly<ProcessorTopics> = Object.freeze({
  kvEvents: KV_EVENTS_TOPIC,
  requests: REQUESTS_TOPIC,
  deadLetters: DLQ_TOPIC,
  sessionsRepartition: SESSIONS_REPARTITION_TOPIC,
  sessions: SESSIONS_TOPIC,
  model: MODEL_TOPIC,
});

const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** The defaults with the given names over them; every name checked, and none used twice. */
export function resolveProcessorTopics(given: Partial<ProcessorTopics> = {}): ProcessorTopics {
  const topics: ProcessorTopics = { ...DEFAULT_PROCESSOR_TOPICS };
  for (const [key, value] of Object.entries(given) as [keyof ProcessorTopics, string | undefined][]) {
    if (value !== undefined) topics[key] = value;
  }
  for (const [key, name] of Object.entries(topics)) {
    if (typeof name !== 'string' || !TOPIC.test(name)) {
      throw new ConfigError(`processor topic ${key}: ${JSON.stringify(name)} is not a Kafka topic name`);
    }
  }
  const names = Object.values(topics);
  if (new Set(names).size !== names.length) throw new ConfigError('processor topics: a topic is named twice');
  return topics;
}
