import { BadRecordError, ConfigError } from '../core/errors.js';

const PART = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const SAFE_TOKEN = /^[^.*>\s]+$/;

/** Fills a destination template's `{field}` placeholders from a value; throws `BadRecordError` on a missing field. */
export type DestinationTemplate = (value: object) => string;

/**
 * Compiles `cachesage.act.{engineId}.{kind}` into a function. A filled-in field must be a non-empty string or a
 * number with no `.`, `*`, `>` or whitespace, so it stays one subject token.
 */
export function compileDestination(template: string): DestinationTemplate {
  if (typeof template !== 'string' || template.length === 0) throw new ConfigError('destination template is empty');
  const literals: string[] = [];
  const fields: string[] = [];
  let last = 0;
  for (const match of template.matchAll(PART)) {
    literals.push(template.slice(last, match.index));
    fields.push(match[1]!);
    last = match.index + match[0].length;
  }
  const tail = template.slice(last);
  if (/[{}]/.test(literals.join('') + tail)) throw new ConfigError(`destination template ${template}: bad placeholder`);
  if (fields.length === 0) return () => template;
  return (value: object): string => {
    let out = '';
    for (let i = 0; i < fields.length; i++) {
      const field = (value as Record<string, unknown>)[fields[i]!];
      const token = typeof field === 'number' ? String(field) : field;
      if (typeof token !== 'string' || !SAFE_TOKEN.test(token)) {
        throw new BadRecordError(
          `destination ${template}: field ${fields[i]} is ${JSON.stringify(token) ?? 'missing'}`,
        );
      }
      out += literals[i] + token;
    }
    return out + tail;
  };
}
