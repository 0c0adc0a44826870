import { ConfigError } from '../../core/errors.js';
import type { SubjectMessage, SubscribeFn } from '../../core/io.js';
import type { Act } from '../../schemas/types.js';
import type { ActFilter } from './act-filter.js';
import type { EngineHooks, HookCounters } from './engine-hooks.js';

export interface AttachEngineHooksOptions {
  /** Any subscribe function: the in-memory bus's `subscribe`, or the NATS act subscriber's. */
  subscribe: SubscribeFn<unknown>;
  engineId: string;
  hooks: EngineHooks;
  filter: ActFilter;
  /** Bytes → Act (the Avro codec's `decode`); without it message values are taken as acts. */
  decode?: (value: unknown, message: SubjectMessage<unknown>) => unknown;
  /** Subject prefix; default `cachesage.act`. */
  subjectPrefix?: string;
}

export interface AttachedHooks {
  readonly counters: HookCounters;
  /** Unsubscribes; acts delivered afterwards are not seen. */
  detach(): void;
}

/**
 * Subscribes an engine's hooks to `<prefix>.<engineId>.*` and applies every act the filter accepts through
 * `applyEvictionHints`, `prefetch` or `pin`. A message that does not decode, or whose act kind differs from its
 * subject's last token, is rejected as malformed.
 */
export function attachEngineHooks(options: AttachEngineHooksOptions): AttachedHooks {
  const { subscribe, engineId, hooks, filter, decode } = options;
  if (typeof engineId !== 'string' || !/^[^.*>\s]+$/.test(engineId)) {
    throw new ConfigError(`engine hooks: engineId ${JSON.stringify(engineId)} is not one subject token`);
  }
  if (hooks?.engineId !== engineId) throw new ConfigError(`engine hooks: hooks are for engine ${hooks?.engineId}`);
  if (filter?.engineId !== engineId) throw new ConfigError(`engine hooks: filter is for engine ${filter?.engineId}`);
  const prefix = options.subjectPrefix ?? 'cachesage.act';
  const apply = (act: Act): void => {
    if (act.kind === 'evict') hooks.applyEvictionHints(act);
    else if (act.kind === 'prefetch') hooks.prefetch(act);
    else hooks.pin(act);
  };
  const unsubscribe = subscribe(`${prefix}.${engineId}.*`, (message) => {
    let value: unknown;
    try {
      value = decode === undefined ? message.value : decode(message.value, message);
    } catch {
      value = undefined;
    }
    const kind = message.subject.slice(message.subject.lastIndexOf('.') + 1);
    if (typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind !== kind) value = undefined;
    const verdict = filter.check(value);
    if (verdict.accepted) apply(verdict.act);
  });
  return { counters: filter.counters, detach: unsubscribe };
}
