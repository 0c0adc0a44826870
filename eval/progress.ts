import { Presets, SingleBar } from 'cli-progress';
import { pct } from './format-table.js';
import type { SweepProgress } from './sweep.js';

/** Where a run reports its progress: bars on a terminal, plain lines otherwise. Never stdout. */
export interface ProgressReporter {
  /** Workload tokenization (characters done of total). */
  tokenizing(done: number, total: number): void;
  loaded(message: string): void;
  startCells(total: number): void;
  cell(p: SweepProgress): void;
  stop(): void;
}

/** A writable stream with an optional TTY flag (process.stderr, or a test's buffer). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export function createProgress(stream: ProgressStream): ProgressReporter {
  return stream.isTTY ? barProgress(stream) : lineProgress(stream);
}

function cellLine(p: SweepProgress): string {
  return (
    `[${p.done}/${p.total}] C=${p.concurrency} budget=${p.budgetBlocks} ${p.policy}: ` +
    `hit ${pct(p.row.tokenHitRate)} %, mean TTFT ${p.row.meanTtftMs.toFixed(1)} ms (${(p.wallMs / 1000).toFixed(1)} s)`
  );
}

function lineProgress(stream: ProgressStream): ProgressReporter {
  let lastTenth = -1;
  return {
    tokenizing(done, total) {
      const tenth = total > 0 ? Math.floor((10 * done) / total) : 10;
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      stream.write(`tokenizing: ${tenth * 10} %\n`);
    },
    loaded: (message) => stream.write(`${message}\n`),
    startCells: (total) => stream.write(`running ${total} cells\n`),
    cell: (p) => stream.write(`${cellLine(p)}\n`),
    stop: () => {},
  };
}

function barProgress(stream: ProgressStream): ProgressReporter {
  let bar: SingleBar | null = null;
  const stop = (): void => {
    bar?.stop();
    bar = null;
  };
  const start = (format: string, total: number, payload: Record<string, string>): SingleBar => {
    stop();
    const b = new SingleBar(
      { format, stream: stream as NodeJS.WritableStream, hideCursor: true, clearOnComplete: false },
      Presets.shades_classic,
    );
    b.start(total, 0, payload);
    bar = b;
    return b;
  };
  let tokenBar: SingleBar | null = null;
  return {
    tokenizing(done, total) {
      if (tokenBar === null || bar !== tokenBar)
        tokenBar = start('tokenizing |{bar}| {percentage}% | ETA {eta}s', total, {});
      tokenBar.update(done);
    },
    loaded(message) {
      stop();
      stream.write(`${message}\n`);
    },
    startCells(total) {
      start('cells |{bar}| {value}/{total} | {cell} | ETA {eta_formatted}', total, { cell: '' });
    },
    cell(p) {
      bar?.update(p.done, { cell: `C=${p.concurrency} budget=${p.budgetBlocks} ${p.policy}` });
    },
    stop,
  };
}
