import type { RangeEnd, RangeStart } from '../adapters/recording/read-range.js';
import { ConfigError } from '../core/errors.js';

function instant(flag: string, text: string, keyword: string): number {
  const t = text.trim();
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)
    ? Date.parse(t)
    : /^\d{10,}$/.test(t)
      ? Number(t)
      : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new ConfigError(
      `${flag}: expected an ISO time (e.g. 2025-01-31T12:00:00Z), epoch milliseconds or ${keyword}, got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

/** `--from`: `beginning`, an ISO 8601 time or epoch ms. */
export function parseRangeStart(text: string, flag = '--from'): RangeStart {
  return text.trim() === 'beginning' ? 'beginning' : instant(flag, text, 'beginning');
}

/** `--to`: `now`, an ISO 8601 time or epoch ms; after `from` when both are times. */
export function parseRangeEnd(text: string, from: RangeStart, flag = '--to'): RangeEnd {
  const to = text.trim() === 'now' ? 'now' : instant(flag, text, 'now');
  if (to !== 'now' && from !== 'beginning' && to <= from) {
    throw new ConfigError(`${flag}: ${new Date(to).toISOString()} is not after --from ${new Date(from).toISOString()}`);
  }
  return to;
}
