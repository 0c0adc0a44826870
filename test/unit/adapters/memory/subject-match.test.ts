import { describe, expect, it } from 'vitest';
import { compileSubjectPattern } from '../../../../adapters/memory/subject-match.js';
import { ConfigError } from '../../../../core/errors.js';

describe('subject patterns', () => {
  it('matches literal subjects, * for one token and a final > for one or more', () => {
    const m = (p: string, s: string): boolean => compileSubjectPattern(p)(s);
    expect(m('cachesage.act.e1.pin', 'cachesage.act.e1.pin')).toBe(true);
    expect(m('cachesage.act.e1.pin', 'cachesage.act.e1.evict')).toBe(false);
    expect(m('cachesage.act.e1.*', 'cachesage.act.e1.evict')).toBe(true);
    expect(m('cachesage.act.e1.*', 'cachesage.act.e2.evict')).toBe(false);
    expect(m('cachesage.act.e1.*', 'cachesage.act.e1.evict.x')).toBe(false);
    expect(m('cachesage.act.*.pin', 'cachesage.act.e9.pin')).toBe(true);
    expect(m('cachesage.act.>', 'cachesage.act.e1.pin')).toBe(true);
    expect(m('cachesage.act.>', 'cachesage.act')).toBe(false);
    expect(m('>', 'a')).toBe(true);
  });

  it('refuses malformed patterns', () => {
    for (const bad of ['', 'a..b', 'a.>.b', 'a.b*', 'a.>x']) {
      expect(() => compileSubjectPattern(bad)).toThrow(ConfigError);
    }
  });
});
