import { resolve } from 'node:path';
import type { TextTokenizer } from '../../../workloads/tokenizer.js';
import type { PreparedWorkload } from '../../../workloads/types.js';

export const FIXTURES = resolve('test/fixtures/workloads');

/** A character-level tokenizer that counts its calls (token = code point + 1000). */
export function countingTokenizer(id = 'test-chars/1'): { tokenizer: TextTokenizer; calls: { count: number } } {
  const calls = { count: 0 };
  return {
    calls,
    tokenizer: {
      id,
      encode(text: string): number[] {
        calls.count++;
        return Array.from(text, (c) => ((c.codePointAt(0) as number) % 100_000) + 1000);
      },
    },
  };
}

/** Concatenates token arrays. */
export function concat(...parts: ArrayLike<number>[]): number[] {
  const out: number[] = [];
  for (const p of parts) for (let i = 0; i < p.length; i++) out.push(p[i] as number);
  return out;
}

/** The hashes of a list of block ids. */
export function hashesOf(w: PreparedWorkload, ids: Uint32Array): bigint[] {
  return Array.from(ids, (id) => w.hashes[id] as bigint);
}

/**
 * Checks the template's prefix property: for every LLM turn, prompt + output blocks are a prefix of the prompt
 * blocks of the same agent's next LLM turn in the session (with `samePhaseOnly`, within one run of a phase).
 * Returns how many pairs were checked.
 */
export function checkPrefixProperty(w: PreparedWorkload, samePhaseOnly = false): number {
  let pairs = 0;
  for (const s of w.sessions) {
    const last = new Map<string, { turn: PreparedWorkload['sessions'][number]['turns'][number]; segment: number }>();
    let segment = 0;
    for (const [i, t] of s.turns.entries()) {
      if (i > 0 && s.turns[i - 1]?.phase !== t.phase) segment++;
      if (!t.llm) continue;
      const seen = last.get(t.agentId);
      const prev = seen?.turn;
      if (prev && (!samePhaseOnly || seen.segment === segment)) {
        const before = [...prev.promptBlocks, ...prev.outputBlocks];
        const now = Array.from(t.promptBlocks.subarray(0, before.length));
        if (now.length !== before.length || now.some((id, i) => id !== before[i])) {
          throw new Error(`prefix property broken: session ${s.sessionId} turn ${t.turn} (${t.agentId})`);
        }
        pairs++;
      }
      last.set(t.agentId, { turn: t, segment });
    }
  }
  return pairs;
}
