import { type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';
import { ConfigError } from '../../core/errors.js';
import { streams } from '../../infra/topics.js';
import { compileSubjectPattern } from '../memory/subject-match.js';

/** How a message goes out: core NATS (a hint, at most once) or JetStream (a command that must not be lost). */
export type NatsDelivery = 'core' | 'jetstream';

/** Subjects the registry's JetStream streams capture (`cachesage.cmd.>`). */
export const JETSTREAM_SUBJECTS: readonly string[] = Object.freeze(streams.flatMap((s) => s.subjects));

/** Decides the delivery of a subject: JetStream when it matches one of `jetStreamSubjects`, core NATS otherwise. */
export function createSubjectRouter(
  jetStreamSubjects: readonly string[] = JETSTREAM_SUBJECTS,
): (subject: string) => NatsDelivery {
  const matchers = jetStreamSubjects.map(compileSubjectPattern);
  return (subject) => {
    if (typeof subject !== 'string' || !/^[^\s*>]+$/.test(subject) || subject.split('.').some((t) => t === '')) {
      throw new ConfigError(`not a publishable NATS subject: ${JSON.stringify(subject)}`);
    }
    return matchers.some((m) => m(subject)) ? 'jetstream' : 'core';
  };
}

/** A plain header record as NATS message headers (undefined when empty). */
export function toMsgHdrs(record: Readonly<Record<string, string>> | undefined): MsgHdrs | undefined {
  if (record === undefined) return undefined;
  const entries = Object.entries(record);
  if (entries.length === 0) return undefined;
  const h = natsHeaders();
  for (const [name, value] of entries) h.set(name, value);
  return h;
}

/** NATS message headers as a plain record (the last value of a repeated header). */
export function fromMsgHdrs(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (h === undefined) return out;
  for (const name of h.keys()) out[name] = h.last(name);
  return out;
}
