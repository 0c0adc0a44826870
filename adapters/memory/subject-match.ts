import { ConfigError } from '../../core/errors.js';

/** A compiled NATS subject pattern: `*` matches one token, a final `>` matches one or more tokens. */
export type SubjectMatcher = (subject: string) => boolean;

export function compileSubjectPattern(pattern: string): SubjectMatcher {
  const tokens = typeof pattern === 'string' ? pattern.split('.') : [];
  const bad = tokens.length === 0 || tokens.some((t, i) => t === '' || (t === '>' && i !== tokens.length - 1));
  if (bad || tokens.some((t) => t.length > 1 && /[*>]/.test(t))) {
    throw new ConfigError(`bad subject pattern ${JSON.stringify(pattern)}`);
  }
  if (!tokens.some((t) => t === '*' || t === '>')) return (subject) => subject === pattern;
  const tail = tokens[tokens.length - 1] === '>';
  const fixed = tail ? tokens.slice(0, -1) : tokens;
  const seen = new Map<string, boolean>();
  const matches = (subject: string): boolean => {
    const parts = subject.split('.');
    if (tail ? parts.length <= fixed.length : parts.length !== fixed.length) return false;
    for (let i = 0; i < fixed.length; i++) {
      const t = fixed[i]!;
      if (t !== '*' && t !== parts[i]) return false;
    }
    return true;
  };
  return (subject: string): boolean => {
    let hit = seen.get(subject);
    if (hit === undefined) {
      hit = matches(subject);
      if (seen.size >= 4096) seen.clear();
      seen.set(subject, hit);
    }
    return hit;
  };
}
