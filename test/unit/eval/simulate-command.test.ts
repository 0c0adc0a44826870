import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parseSimulateFlags,
  registerSimulate,
  SIMULATE_DEFAULTS,
  type SimulateFlags,
} from '../../../cli/commands/simulate.js';
import { ConfigError } from '../../../core/errors.js';
import type { SweepRow } from '../../../eval/sweep.js';

const TINY = 'synthetic?sessions=6&minTurns=4&maxTurns=6';
const root = mkdtempSync(join(tmpdir(), 'cachesage-simulate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

class Capture {
  text = '';
  isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

async function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const program = new Command('cachesage').exitOverride();
  registerSimulate(program, { stdout, stderr });
  await program.parseAsync(['simulate', ...args], { from: 'user' });
  return { stdout: stdout.text, stderr: stderr.text };
}

const REQUIRED: Record<string, string> = {
  workload: 'string',
  policy: 'string',
  budgetBlocks: 'number',
  concurrency: 'number',
  tokenHitRate: 'number',
  cpuHitRate: 'number',
  meanTtftMs: 'number',
  p50TtftMs: 'number',
  p99TtftMs: 'number',
  throughputTokPerS: 'number',
};

function flags(overrides: Partial<SimulateFlags> = {}): SimulateFlags {
  return {
    workload: TINY,
    policy: SIMULATE_DEFAULTS.policy,
    budget: '16,64',
    concurrency: '1,2',
    engines: '1',
    actDelayMs: '0',
    kvflowWarmup: '10%',
    continuumPinTtlMs: 'auto',
    ...overrides,
  };
}

describe('cachesage simulate', () => {
  it('--json prints only {"rows": [...]} with every required field, and writes the report files', async () => {
    const out = join(root, 'json');
    const { stdout, stderr } = await cli([
      '--workload',
      TINY,
      '--policy',
      'cachesage,kvflow',
      '--budget',
      '64,16',
      '--concurrency',
      '1,2',
      '--json',
      '--out',
      out,
    ]);
    const parsed = JSON.parse(stdout) as { rows: SweepRow[] };
    expect(Object.keys(parsed)).toEqual(['rows']);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const rows = parsed.rows;
    // lru and belady always run beside the listed policies.
    expect(rows).toHaveLength(4 * 2 * 2);
    expect(new Set(rows.map((r) => r.policy))).toEqual(new Set(['lru', 'cachesage', 'kvflow', 'belady']));
    for (const r of rows) {
      for (const [key, type] of Object.entries(REQUIRED)) expect(typeof r[key as keyof SweepRow], key).toBe(type);
      expect(r.nextAgentTop1 === null || (r.nextAgentTop1 >= 0 && r.nextAgentTop1 <= 1)).toBe(true);
      expect(r.tokenHitRate).toBeGreaterThanOrEqual(0);
      expect(r.tokenHitRate).toBeLessThanOrEqual(1);
      expect(r.cpuHitRate).toBe(0);
      expect(r.workload).toBe('synthetic-structured');
      expect(r.p99TtftMs).toBeGreaterThanOrEqual(r.p50TtftMs);
    }
    const cachesage = rows.filter((r) => r.policy === 'cachesage');
    expect(cachesage.every((r) => r.nextAgentTop1 !== null && r.modelStateBytes !== null)).toBe(true);
    expect(rows.filter((r) => r.policy === 'lru').every((r) => r.nextAgentTop1 === null)).toBe(true);
    // Progress went to stderr, one line per cell.
    expect(stderr).toMatch(/\[16\/16\] C=2 budget=64 belady/);

    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { rows: SweepRow[] };
    expect(results.rows).toEqual(rows);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('Command: `cachesage simulate --workload');
    expect(report).toContain('## Concurrency 1');
    expect(report).toContain('## Concurrency 2');
    expect(report).toContain('](hit-rate-c2.svg)');
    for (const name of ['hit-rate-c1.svg', 'hit-rate-c2.svg', 'ttft-cdf-c1-b16.svg', 'ttft-cdf-c2-b16.svg']) {
      const svg = readFileSync(join(out, name), 'utf8');
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg.trim().endsWith('</svg>')).toBe(true);
      expect(svg.match(/<polyline /g)).toHaveLength(4);
    }
  });

  it('prints a table per concurrency with Δ vs LRU and the share of the Belady gap closed', async () => {
    const out = join(root, 'tables');
    const { stdout } = await cli([
      '--workload',
      TINY,
      '--policy',
      'lru',
      '--budget',
      '32',
      '--concurrency',
      '1,3',
      '--out',
      out,
    ]);
    expect(stdout).toContain('synthetic-structured · concurrency 1 · 1 engine(s) · GPU only');
    expect(stdout).toContain('synthetic-structured · concurrency 3');
    expect(stdout).toMatch(/\| budget \| policy +\| hit % \| Δ LRU pp \| gap closed % \|/);
    expect(stdout).toMatch(/\|\s+32 \| lru\s+\|/);
    expect(stdout).toMatch(/\|\s+32 \| belady\s+\|/);
    expect(stdout).toContain(`report: ${join(out, 'report.md')}`);
  });

  it('with a CPU tier, also runs LRU without one and reports mean TTFT against both', async () => {
    const out = join(root, 'cpu');
    const { stdout } = await cli([
      '--workload',
      TINY,
      '--policy',
      'cachesage',
      '--budget',
      '16',
      '--concurrency',
      '2',
      '--cpu-tier-blocks',
      '4000',
      '--json',
      '--out',
      out,
    ]);
    const rows = (JSON.parse(stdout) as { rows: SweepRow[] }).rows;
    expect(rows.map((r) => r.policy)).toEqual(['lru', 'lru-no-cpu', 'cachesage', 'belady']);
    const noCpu = rows.find((r) => r.policy === 'lru-no-cpu') as SweepRow;
    const lru = rows.find((r) => r.policy === 'lru') as SweepRow;
    const cachesage = rows.find((r) => r.policy === 'cachesage') as SweepRow;
    expect(noCpu.cpuTierBlocks).toBe(0);
    expect(noCpu.cpuHitRate).toBe(0);
    expect(lru.cpuTierBlocks).toBe(4000);
    expect(lru.cpuHitRate).toBeGreaterThan(0);
    expect(cachesage.meanTtftChangeVsLru).toBeCloseTo(cachesage.meanTtftMs / lru.meanTtftMs - 1, 12);
    expect(cachesage.meanTtftChangeVsLruNoCpu).toBeCloseTo(cachesage.meanTtftMs / noCpu.meanTtftMs - 1, 12);
    // The all-cached floor: one figure per concurrency, below every policy on any tiers, and below LRU here (its
    // small budget evicts).
    const floor = lru.allCachedMeanTtftMs as number;
    expect(floor).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r.allCachedMeanTtftMs).toBe(floor);
      expect(r.meanTtftMs).toBeGreaterThanOrEqual(floor - 1e-9);
    }
    expect(floor).toBeLessThan(noCpu.meanTtftMs);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('## Mean TTFT with a CPU tier');
  });

  it('gives the same results.json for the same seed, and other results for another seed', async () => {
    const run = async (name: string, seed: string): Promise<string> => {
      const out = join(root, name);
      await cli([
        '--workload',
        TINY,
        '--budget',
        '24,96',
        '--concurrency',
        '1,2',
        '--seed',
        seed,
        '--json',
        '--out',
        out,
      ]);
      return readFileSync(join(out, 'results.json'), 'utf8');
    };
    const a = await run('seed-a', '7');
    const b = await run('seed-b', '7');
    const c = await run('seed-c', '8');
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('rejects invalid flags with an error that names the flag', async () => {
    const bad: [Partial<SimulateFlags>, RegExp][] = [
      [{ budget: 'abc' }, /--budget: "abc" is not an integer ≥ 1/],
      [{ budget: '0,16' }, /--budget: "0" is not an integer ≥ 1/],
      [{ budget: '16,16' }, /--budget: a value is listed twice/],
      [{ budget: '16,' }, /--budget: expected a comma-separated list/],
      [{ concurrency: '0' }, /--concurrency/],
      [{ concurrency: '1.5' }, /--concurrency: "1.5" is not an integer/],
      [{ policy: 'lru,fifo' }, /--policy: unknown policy "fifo" \(known: lru, cachesage, kvflow, continuum, belady\)/],
      [{ policy: 'kvflow,kvflow' }, /--policy: a policy is listed twice/],
      [{ engines: '0' }, /--engines: expected an integer ≥ 1, got "0"/],
      [{ cpuTierBlocks: '-5' }, /--cpu-tier-blocks: expected an integer ≥ 0/],
      [{ actDelayMs: 'soon' }, /--act-delay-ms: expected a number of ms ≥ 0/],
      [{ actDelayMs: '-1' }, /--act-delay-ms/],
      [{ seed: '1.5' }, /--seed: expected an integer/],
      [{ template: 'chat' }, /--template: expected one of group-chat, phase, auto, got "chat"/],
      [{ workload: join(root, 'missing.jsonl') }, /--workload: no such file/],
      [{ workload: 'synthetic:nope' }, /unknown synthetic profile 'nope'/],
      [{ agents: join(root, 'missing.agents.json') }, /--agents: no such file/],
      [{ nonLlmAgents: ',' }, /--non-llm-agents/],
      [{ kvflowWarmup: '0%' }, /--kvflow-warmup/],
      [{ kvflowWarmup: 'ten' }, /--kvflow-warmup: expected a number of sessions/],
      [{ continuumPinTtlMs: '0' }, /--continuum-pin-ttl-ms: expected 'auto' or a number of ms > 0/],
      [{ cdfBudget: '99' }, /--cdf-budget: 99 is not one of the budgets \(16, 64\)/],
    ];
    for (const [overrides, message] of bad) {
      expect(() => parseSimulateFlags(flags(overrides)), JSON.stringify(overrides)).toThrow(message);
      expect(() => parseSimulateFlags(flags(overrides))).toThrow(ConfigError);
    }
    // Through commander too: the error reaches the caller (main prints it and exits with 2).
    await expect(cli(['--budget', '-3', '--out', join(root, 'never')])).rejects.toThrow(/--budget/);
    expect(existsSync(join(root, 'never'))).toBe(false);
  });

  it('resolves the defaults of npm start: synthetic, every policy, five budgets, concurrency 1 and 4, seed 1', () => {
    const s = parseSimulateFlags(
      flags({
        workload: SIMULATE_DEFAULTS.workload,
        budget: SIMULATE_DEFAULTS.budget,
        concurrency: SIMULATE_DEFAULTS.concurrency,
      }),
      'cachesage simulate',
      new Date('2030-01-02T03:04:05Z'),
    );
    expect(s).toMatchObject({
      workload: 'synthetic',
      policies: ['lru', 'cachesage', 'kvflow', 'continuum', 'belady'],
      budgets: [120, 250, 500, 1000, 2000],
      concurrencies: [1, 4],
      engines: 1,
      cpuTierBlocks: 0,
      seed: 1,
      seedGiven: false,
      json: false,
      outDir: 'out/simulate-2030-01-02-03-04-05',
      kvflowWarmup: { fraction: 0.1 },
      continuumPinTtlMs: 'auto',
      cdfBudgetBlocks: 250,
    });
  });
});
