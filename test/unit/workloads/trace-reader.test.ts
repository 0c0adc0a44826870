import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CacheSageError } from '../../../core/errors.js';
import { WorkloadError } from '../../../workloads/errors.js';
import { readTrace, traceStem } from '../../../workloads/trace-reader.js';
import { FIXTURES } from './helpers.js';

async function failure(path: string): Promise<WorkloadError> {
  const err = await readTrace(path).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkloadError);
  return err as WorkloadError;
}

async function tempTrace(lines: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cachesage-trace-'));
  const path = join(dir, 'trace.jsonl');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

const ok = (turn: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ workload: 'w', session: 's', turn, agent: 'A', content: 'x', ...extra });

describe('readTrace', () => {
  it('reads sessions in file order with their turns', async () => {
    const trace = await readTrace(join(FIXTURES, 'team.jsonl'));
    expect(trace.workloadId).toBe('team');
    expect(trace.sessions.map((s) => s.sessionId)).toEqual(['s1', 's2']);
    expect(trace.sessions.map((s) => s.turns.length)).toEqual([7, 6]);
    expect(trace.sessions[0]?.turns[6]?.content).toBe('');
    expect(trace.sessions[1]?.turns[2]?.meta).toEqual({ note: 'first draft' });
    expect(trace.sessions[1]?.turns[2]?.line).toBe(10);
    expect(trace.skippedLines).toBe(0);
    expect(trace.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads gzip traces the same as plain ones', async () => {
    const plain = await readTrace(join(FIXTURES, 'team.jsonl'));
    const gz = await readTrace(join(FIXTURES, 'team-gz.jsonl.gz'));
    expect(gz.sessions).toEqual(plain.sessions);
    expect(gz.sha256).not.toBe(plain.sha256);
  });

  it('stops at a line with a missing field and names the file and line', async () => {
    const err = await failure(join(FIXTURES, 'bad-missing-field.jsonl'));
    expect(err.code).toBe('WORKLOAD_INVALID');
    expect(err.retriable).toBe(false);
    expect(err.message).toContain('bad-missing-field.jsonl:3:');
    expect(err.message).toContain("missing field 'agent'");
    expect(err.details).toMatchObject({ line: 3 });
  });

  it('stops at a non-consecutive turn', async () => {
    const err = await failure(join(FIXTURES, 'bad-turn.jsonl'));
    expect(err.message).toContain('bad-turn.jsonl:4:');
    expect(err.message).toContain('turn 4');
    expect(err.message).toContain('does not follow turn 2');
  });

  it('stops at invalid JSON', async () => {
    const err = await failure(join(FIXTURES, 'bad-json.jsonl'));
    expect(err.message).toMatch(/bad-json\.jsonl:2: invalid JSON/);
  });

  it('rejects a session whose turns are not consecutive lines', async () => {
    const err = await failure(join(FIXTURES, 'bad-session-order.jsonl'));
    expect(err.message).toContain('bad-session-order.jsonl:3:');
    expect(err.message).toContain("session 's1' reappears");
  });

  it.each([
    ['not an object', '[1, 2]', 'not a JSON object'],
    ['empty agent', ok(0, { agent: '' }), "field 'agent' must be a non-empty string"],
    ['numeric session', ok(0, { session: 7 }), "field 'session' must be a non-empty string"],
    ['negative turn', ok(-1), "field 'turn' must be an integer >= 0"],
    ['fractional turn', ok(0.5), "field 'turn' must be an integer >= 0"],
    ['content not a string', ok(0, { content: 3 }), "field 'content' must be a string"],
    ['meta not an object', ok(0, { meta: ['a'] }), "field 'meta' must be an object"],
    ['session not starting at 0', ok(1), "session 's' starts at turn 1 (expected 0)"],
  ])('rejects %s', async (_name, line, what) => {
    const path = await tempTrace([ok(0, { session: 'first' }), line]);
    const err = await failure(path);
    expect(err.message).toContain(`${path}:2: ${what}`);
  });

  it('accepts an absent or null meta and ignores blank lines', async () => {
    const path = await tempTrace([ok(0), '', ok(1, { meta: null }), '   ', ok(2, { meta: { phase: 'P' } })]);
    const trace = await readTrace(path);
    expect(trace.sessions[0]?.turns.map((t) => [t.turn, t.line, t.meta])).toEqual([
      [0, 1, null],
      [1, 3, null],
      [2, 5, { phase: 'P' }],
    ]);
  });

  it('skips and counts bad lines with skipBadLines, reporting each', async () => {
    const reported: number[] = [];
    const missing = await readTrace(join(FIXTURES, 'bad-missing-field.jsonl'), {
      skipBadLines: true,
      onBadLine: (e) => reported.push(e.details?.line as number),
    });
    expect(missing.skippedLines).toBe(1);
    expect(reported).toEqual([3]);
    expect(missing.sessions[0]?.turns.map((t) => t.turn)).toEqual([0, 1, 3]);

    const json = await readTrace(join(FIXTURES, 'bad-json.jsonl'), { skipBadLines: true });
    expect(json.skippedLines).toBe(1);
    expect(json.sessions.map((s) => s.turns.length)).toEqual([2, 2]);

    const turn = await readTrace(join(FIXTURES, 'bad-turn.jsonl'), { skipBadLines: true });
    expect(turn.skippedLines).toBe(1);
    expect(turn.sessions.map((s) => s.turns.map((t) => t.agent))).toEqual([['User', 'Planner', 'Coder'], ['User']]);

    const order = await readTrace(join(FIXTURES, 'bad-session-order.jsonl'), { skipBadLines: true });
    expect(order.skippedLines).toBe(1);
    expect(order.sessions.map((s) => s.turns.length)).toEqual([1, 1]);
  });

  it('reports a missing file as NOT_FOUND and an empty trace as invalid', async () => {
    const missing = await readTrace(join(FIXTURES, 'nope.jsonl')).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(CacheSageError);
    expect((missing as CacheSageError).code).toBe('NOT_FOUND');
    const empty = await failure(await tempTrace(['']));
    expect(empty.message).toContain('no valid trace line');
  });

  it('derives the stem of a trace name', () => {
    expect(traceStem('/a/chatdev.jsonl.gz')).toBe('/a/chatdev');
    expect(traceStem('/a/b.c.jsonl')).toBe('/a/b.c');
  });
});
