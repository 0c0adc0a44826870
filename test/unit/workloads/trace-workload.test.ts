import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CacheSageError } from '../../../core/errors.js';
import { BLOCK_SIZE, blockHashes } from '../../../schemas/block-hash.js';
import { defaultSystemPrompt, readAgentsFile } from '../../../workloads/agents-file.js';
import { BEGIN_OF_TEXT, END_HEADER_ID, EOT_ID, START_HEADER_ID } from '../../../workloads/llama3-format.js';
import { type LoadWorkloadOptions, loadWorkload } from '../../../workloads/load-workload.js';
import { readTrace } from '../../../workloads/trace-reader.js';
import type { PreparedWorkload } from '../../../workloads/types.js';
import { checkPrefixProperty, concat, countingTokenizer, FIXTURES, hashesOf } from './helpers.js';

const TEAM = join(FIXTURES, 'team.jsonl');
const PHASES = join(FIXTURES, 'phases.jsonl');
const TOOLS = join(FIXTURES, 'tools.jsonl');

async function load(spec: string, options: LoadWorkloadOptions = {}) {
  const { tokenizer, calls } = countingTokenizer();
  const w = await loadWorkload(spec, { cacheDir: null, tokenizer, ...options });
  return { w, enc: (s: string) => Array.from(tokenizer.encode(s)), calls };
}

/** The expected prompt token ids of a turn, assembled by hand from the Llama 3 chat format. */
function expectedPrompt(
  enc: (s: string) => number[],
  system: string,
  history: { agent: string; content: string }[],
  agent: string,
): number[] {
  const header = (role: string) => concat([START_HEADER_ID], enc(role), [END_HEADER_ID], enc('\n\n'));
  const parts: number[][] = [[BEGIN_OF_TEXT], header('system'), enc(system), [EOT_ID]];
  for (const m of history) parts.push(header(m.agent), enc(m.content), [EOT_ID]);
  parts.push(header(agent));
  return concat(...parts);
}

function expectLayout(
  w: PreparedWorkload,
  sessionIndex: number,
  turnIndex: number,
  prompt: number[],
  output: number[],
): void {
  const turn = w.sessions[sessionIndex]?.turns[turnIndex];
  if (!turn) throw new Error('no such turn');
  expect(turn.promptTokens).toBe(prompt.length);
  expect(turn.outputTokens).toBe(output.length);
  const all = blockHashes(concat(prompt, output));
  const promptFull = Math.floor(prompt.length / BLOCK_SIZE);
  expect(hashesOf(w, turn.promptBlocks)).toEqual(all.slice(0, promptFull));
  expect(hashesOf(w, turn.outputBlocks)).toEqual(all.slice(promptFull));
}

describe('trace workloads: group-chat template', () => {
  it('lays out every prompt as BOS + system + the earlier messages + a generation header', async () => {
    const { w, enc } = await load(TEAM);
    const agents = await readAgentsFile(join(FIXTURES, 'team.agents.json'));
    const trace = await readTrace(TEAM);
    for (const [si, s] of trace.sessions.entries()) {
      for (const [ti, t] of s.turns.entries()) {
        const system = agents.prompts.get(t.agent) ?? defaultSystemPrompt(t.agent);
        const prompt = expectedPrompt(enc, system, s.turns.slice(0, ti), t.agent);
        expectLayout(w, si, ti, prompt, concat(enc(t.content), [EOT_ID]));
        const turn = w.sessions[si]?.turns[ti];
        const systemTokens = 1 + concat([START_HEADER_ID], enc('system'), [END_HEADER_ID], enc('\n\n')).length;
        expect(turn?.anchorBlocks).toBe(Math.floor((systemTokens + enc(system).length + 1) / BLOCK_SIZE));
      }
    }
    expect(w.agents).toEqual(['User', 'Planner', 'Coder', 'Reviewer']);
    expect(w.workloadId).toBe('team');
    expect(w.source).toBe(TEAM);
  });

  it('makes prompt + output of a turn a prefix of the same agent’s next prompt', async () => {
    const { w } = await load(TEAM);
    expect(checkPrefixProperty(w)).toBeGreaterThanOrEqual(5);
  });

  it('shares anchor blocks across sessions of an agent, and no block holding session content', async () => {
    const { w, enc } = await load(TEAM);
    const anchors = new Map<string, string>();
    for (const s of w.sessions) {
      for (const t of s.turns) {
        expect(t.anchorBlocks).toBeGreaterThan(0);
        const key = Array.from(t.promptBlocks.subarray(0, t.anchorBlocks)).join(',');
        expect(anchors.get(t.agentId) ?? key).toBe(key);
        anchors.set(t.agentId, key);
      }
    }
    const [s1, s2] = w.sessions;
    const coder1 = s1?.turns[2];
    const coder2 = s2?.turns[2];
    const a = Array.from(coder1?.promptBlocks ?? []);
    const b = Array.from(coder2?.promptBlocks ?? []);
    let common = 0;
    while (common < a.length && a[common] === b[common]) common++;
    const agents = await readAgentsFile(join(FIXTURES, 'team.agents.json'));
    const beforeFirstContent = expectedPrompt(enc, agents.prompts.get('Coder') as string, [], 'User').length;
    expect(common).toBeGreaterThanOrEqual(coder1?.anchorBlocks ?? 0);
    expect(common).toBeLessThanOrEqual(Math.floor(beforeFirstContent / BLOCK_SIZE));
    expect(a.length).toBeGreaterThan(common + 2);
  });

  it('gives equal ids exactly to equal hashes (dense ids, no duplicate hash)', async () => {
    const { w } = await load(TEAM);
    expect(new Set(w.hashes).size).toBe(w.hashes.length);
    const used = new Set<number>();
    for (const s of w.sessions) {
      for (const t of s.turns) for (const id of [...t.promptBlocks, ...t.outputBlocks]) used.add(id);
    }
    expect(used.size).toBe(w.hashes.length);
    expect(Math.max(...used)).toBe(w.hashes.length - 1);
  });

  it('finds <stem>.agents.json beside the trace, and an override replaces it', async () => {
    const beside = await load(TEAM);
    expect(beside.w.stats.agentsFile).toBe(join(FIXTURES, 'team.agents.json'));
    const alt = join(FIXTURES, 'team-alt.agents.json');
    const over = await load(TEAM, { agentsFile: alt });
    expect(over.w.stats.agentsFile).toBe(alt);
    const prompt = expectedPrompt(over.enc, '{company_prompt} You plan. Task: {task}.', [], 'Planner');
    const planner = over.w.sessions[0]?.turns[1];
    expect(planner?.promptTokens).toBe(
      prompt.length +
        concat([START_HEADER_ID], over.enc('User'), [END_HEADER_ID], over.enc('\n\n')).length +
        over.enc('Build a calculator app with a clean interface.').length +
        1,
    );
    const reviewer = over.w.sessions[0]?.turns[3];
    const sys = expectedPrompt(over.enc, defaultSystemPrompt('Reviewer'), [], 'Reviewer');
    expect(reviewer?.anchorBlocks).toBe(Math.floor((sys.length - 3 - over.enc('Reviewer').length) / BLOCK_SIZE));

    const none = await load(join(FIXTURES, 'team-gz.jsonl.gz'));
    expect(none.w.stats.agentsFile).toBeNull();
    const missing = await load(TEAM, { agentsFile: join(FIXTURES, 'nope.agents.json') }).catch((e: unknown) => e);
    expect((missing as CacheSageError).code).toBe('NOT_FOUND');
  });

  it('reads tool calls from meta and marks non-LLM agents', async () => {
    const { w } = await load(TOOLS, { nonLlmAgents: ['tool'] });
    const turns = w.sessions[0]?.turns ?? [];
    expect(turns.map((t) => t.toolCall)).toEqual([
      null,
      'get_user_details',
      null,
      null,
      null,
      'get_reservation_details,calculate',
      null,
    ]);
    expect(turns.map((t) => t.llm)).toEqual([true, true, false, true, true, true, false]);
    const toolTurn = turns[2];
    expect(toolTurn?.promptBlocks.length).toBe(0);
    expect(toolTurn?.outputBlocks.length).toBe(0);
    const all = await load(TOOLS);
    expect(all.w.sessions[0]?.turns.every((t) => t.llm)).toBe(true);
    expect(turns[3]?.promptTokens).toBe(all.w.sessions[0]?.turns[3]?.promptTokens);
    expect(w.stats.llmTurns).toBe(5);
  });

  it('renumbers turns densely after skipped lines', async () => {
    const { w } = await load(join(FIXTURES, 'bad-missing-field.jsonl'), { skipBadLines: true });
    expect(w.stats.skippedLines).toBe(1);
    expect(w.sessions[0]?.turns.map((t) => [t.turn, t.agentId])).toEqual([
      [0, 'User'],
      [1, 'Planner'],
      [2, 'Coder'],
    ]);
    await expect(load(join(FIXTURES, 'bad-missing-field.jsonl'))).rejects.toThrow(/:3: missing field 'agent'/);
  });
});

describe('trace workloads: phase template', () => {
  it('keeps only the current phase’s messages and restarts at every phase change', async () => {
    const { w, enc } = await load(PHASES, { template: 'phase' });
    expect(w.stats.template).toBe('phase');
    const trace = await readTrace(PHASES);
    const turns = trace.sessions[0]?.turns ?? [];
    const phaseOf = (i: number) => turns[i]?.meta?.phase;
    for (const [ti, t] of turns.entries()) {
      let start = ti;
      while (start > 0 && phaseOf(start - 1) === phaseOf(ti)) start--;
      const prompt = expectedPrompt(enc, defaultSystemPrompt(t.agent), turns.slice(start, ti), t.agent);
      expectLayout(w, 0, ti, prompt, concat(enc(t.content), [EOT_ID]));
      expect(w.sessions[0]?.turns[ti]?.phase).toBe(phaseOf(ti));
    }
    const secondCoding = w.sessions[0]?.turns[10];
    const firstCoding = w.sessions[0]?.turns[6];
    expect(secondCoding?.promptTokens).toBeLessThan(
      (firstCoding?.promptTokens ?? 0) + (firstCoding?.outputTokens ?? 0) + enc('Write the code again.').length,
    );
    expect(checkPrefixProperty(w, true)).toBeGreaterThan(0);
  });

  it('auto picks the phase template where lines carry meta.phase, group-chat elsewhere', async () => {
    const phases = await load(PHASES, { template: 'auto' });
    expect(phases.w.stats.template).toBe('phase');
    const team = await load(TEAM, { template: 'auto' });
    expect(team.w.stats.template).toBe('group-chat');
    const full = await load(PHASES);
    expect(full.w.stats.template).toBe('group-chat');
    expect(full.w.stats.promptTokens).toBeGreaterThan(phases.w.stats.promptTokens);
  });
});

describe('token cache', () => {
  it('tokenizes a workload once: a second load reads the cache without calling the tokenizer', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'cachesage-tokens-'));
    const { tokenizer, calls } = countingTokenizer();
    const progress: [number, number][] = [];
    const first = await loadWorkload(TEAM, { cacheDir, tokenizer, onProgress: (d, t) => progress.push([d, t]) });
    expect(first.stats.tokenCache).toBe('miss');
    const distinct = new Set(
      (await readTrace(TEAM)).sessions.flatMap((s) => s.turns.flatMap((t) => [t.content, t.agent])),
    );
    expect(calls.count).toBeGreaterThanOrEqual(distinct.size);
    expect(calls.count).toBe(first.stats.tokenizedStrings);
    expect(progress.at(-1)?.[0]).toBe(progress.at(-1)?.[1]);
    expect(await readdir(cacheDir)).toHaveLength(1);

    const before = calls.count;
    const second = await loadWorkload(TEAM, { cacheDir, tokenizer });
    expect(calls.count).toBe(before);
    expect(second.stats.tokenCache).toBe('hit');
    expect(second.hashes).toEqual(first.hashes);
    expect(second.sessions.map((s) => s.turns.map((t) => Array.from(t.promptBlocks)))).toEqual(
      first.sessions.map((s) => s.turns.map((t) => Array.from(t.promptBlocks))),
    );

    const otherAgents = await loadWorkload(TEAM, {
      cacheDir,
      tokenizer,
      agentsFile: join(FIXTURES, 'team-alt.agents.json'),
    });
    expect(otherAgents.stats.tokenCache).toBe('miss');
    expect(await readdir(cacheDir)).toHaveLength(2);

    const other = countingTokenizer('test-chars/2');
    const otherTokenizer = await loadWorkload(TEAM, { cacheDir, tokenizer: other.tokenizer });
    expect(otherTokenizer.stats.tokenCache).toBe('miss');
    expect(other.calls.count).toBeGreaterThan(0);
  });

  it('treats a corrupt cache file as a miss', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'cachesage-tokens-'));
    const { tokenizer } = countingTokenizer();
    await loadWorkload(TEAM, { cacheDir, tokenizer });
    const [file] = await readdir(cacheDir);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(cacheDir, file as string), Buffer.from('garbage!'));
    const again = await loadWorkload(TEAM, { cacheDir, tokenizer });
    expect(again.stats.tokenCache).toBe('miss');
    const third = await loadWorkload(TEAM, { cacheDir, tokenizer });
    expect(third.stats.tokenCache).toBe('hit');
  });
});
