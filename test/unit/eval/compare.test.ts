import { describe, expect, it } from 'vitest';
import { compareRows, summarize } from '../../../eval/compare.js';
import { markdownTable } from '../../../eval/format-table.js';
import { escapeXml, lineChartSvg, logTicks } from '../../../eval/svg-chart.js';
import type { SweepRow } from '../../../eval/sweep.js';
import { sweepRow } from './sweep-row.js';

function row(
  policy: string,
  budgetBlocks: number,
  tokenHitRate: number,
  meanTtftMs: number,
  concurrency = 1,
): SweepRow {
  return sweepRow({
    policy,
    budgetBlocks,
    concurrency,
    tokenHitRate,
    meanTtftMs,
    cpuTierBlocks: policy === 'lru-no-cpu' ? 0 : 100,
  });
}

describe('comparisons against LRU and Belady', () => {
  it('fills Δ (pp), the share of the gap closed and the TTFT changes per cell', () => {
    const rows = [
      row('lru', 100, 0.2, 200),
      row('lru-no-cpu', 100, 0.2, 250),
      row('cachesage', 100, 0.35, 150),
      row('belady', 100, 0.4, 140),
      row('lru', 200, 0.5, 100),
      row('cachesage', 200, 0.5002, 99),
      row('belady', 200, 0.5003, 98),
    ];
    compareRows(rows);
    const [lru, , cs, belady, lru2, cs2] = rows as [SweepRow, SweepRow, SweepRow, SweepRow, SweepRow, SweepRow];
    expect(cs.deltaVsLruPp).toBeCloseTo(15, 10);
    expect(cs.gapClosed).toBeCloseTo(0.75, 10);
    expect(cs.meanTtftChangeVsLru).toBeCloseTo(-0.25, 10);
    expect(cs.meanTtftChangeVsLruNoCpu).toBeCloseTo(-0.4, 10);
    expect(lru.gapClosed).toBe(0);
    expect(belady.gapClosed).toBe(1);
    // A gap under 0.05 pp has nothing to close.
    expect(cs2.gapClosed).toBeNull();
    expect(lru2.meanTtftChangeVsLruNoCpu).toBeNull();
    const [summary] = summarize(rows.filter((r) => r.policy !== 'lru-no-cpu'));
    expect(summary).toMatchObject({ policy: 'cachesage', cells: 2, gapCells: 1 });
    expect(summary?.meanGapClosed).toBeCloseTo(0.75, 10);
    expect(summary?.minDeltaPp).toBeCloseTo(0.02, 10);
    expect(summary?.maxDeltaPp).toBeCloseTo(15, 10);
  });
});

describe('tables and charts', () => {
  it('pads markdown columns and right-aligns the numeric ones', () => {
    expect(
      markdownTable(
        ['policy', 'hit %'],
        [
          ['lru', '2.8'],
          ['cachesage', '-0.5'],
        ],
      ),
    ).toBe(
      ['| policy    | hit % |', '| --------- | ----: |', '| lru       |   2.8 |', '| cachesage |  -0.5 |'].join('\n'),
    );
  });

  it('draws one polyline per series inside the plot and escapes text', () => {
    const svg = lineChartSvg({
      title: 'a < b & c',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        {
          name: 'lru',
          color: '#777',
          points: [
            [10, 0],
            [100, 1],
          ],
        },
        {
          name: 'belady',
          color: '#000',
          dash: '6 3',
          step: true,
          points: [
            [10, 0.5],
            [100, 1],
          ],
        },
      ],
      xLog: true,
      xMin: 10,
      xMax: 100,
      yMin: 0,
      yMax: 1,
      xTicks: [10, 100],
      yTicks: [0, 1],
    });
    expect(svg).toContain('a &lt; b &amp; c');
    const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => m[1]);
    // Plot area: x from 64 to 590, y from 368 (0) to 40 (1).
    expect(lines[0]).toBe('64,368 590,40');
    expect(lines[1]).toBe('64,204 590,204 590,40');
    expect(escapeXml('"x"')).toBe('&quot;x&quot;');
    expect(logTicks(15, 1200)).toEqual([20, 50, 100, 200, 500, 1000]);
  });
});
