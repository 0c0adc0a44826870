import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** True when a process with this pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = readProc(pid, 'stat');
  if (stat === undefined) return true;
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** The command line of a process (arguments joined by spaces), or undefined where /proc is not readable. */
export function commandLine(pid: number): string | undefined {
  return readProc(pid, 'cmdline')?.split('\0').join(' ').trim();
}

/** Pids of live processes whose command line contains every one of `needles` (Linux /proc scan; [] elsewhere). */
export function findProcesses(needles: string[]): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid && isAlive(pid))
    .filter((pid) => {
      const cmd = commandLine(pid);
      return cmd !== undefined && needles.every((needle) => cmd.includes(needle));
    });
}

/** The pid recorded in a pid file, or undefined when the file is absent or unreadable. */
export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function writePidFile(path: string, pid: number): void {
  writeFileSync(path, `${pid}\n`);
}

export function removeFile(path: string): void {
  rmSync(path, { force: true });
}

/** What `stopProcess` did. */
export interface StopOutcome {
  /** True when SIGTERM was not enough and SIGKILL was sent. */
  forced: boolean;
  elapsedMs: number;
}

/** SIGTERM, wait up to `graceMs` for the process to exit, then SIGKILL and wait again. */
export async function stopProcess(pid: number, graceMs: number): Promise<StopOutcome> {
  const started = Date.now();
  signal(pid, 'SIGTERM');
  while (isAlive(pid) && Date.now() - started < graceMs) await sleep(100);
  if (!isAlive(pid)) return { forced: false, elapsedMs: Date.now() - started };
  signal(pid, 'SIGKILL');
  while (isAlive(pid) && Date.now() - started < graceMs + 10_000) await sleep(50);
  return { forced: true, elapsedMs: Date.now() - started };
}

/** An executable that ran: the candidate that worked and the first line it printed for `versionArgs`. */
export interface FoundExecutable {
  command: string;
  version: string;
}

/**
 * Runs each candidate (a name looked up on PATH, or a path) with `versionArgs` and returns the first that starts.
 * Undefined when none exists.
 */
export function findExecutable(candidates: string[], versionArgs: string[]): FoundExecutable | undefined {
  for (const command of candidates) {
    const run = spawnSync(command, versionArgs, { encoding: 'utf8', timeout: 15_000 });
    if (run.error) continue;
    const firstLine = `${run.stdout ?? ''}\n${run.stderr ?? ''}`.split('\n').find((line) => line.trim() !== '');
    return { command, version: firstLine?.trim() ?? '' };
  }
  return undefined;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Exit code and output of a finished command. */
export interface CommandResult {
  code: number;
  stdout: string;
  /** stdout and stderr interleaved as they arrived. */
  output: string;
}

/** Runs a command to completion, collecting its output; rejects only when it cannot be started. */
export function runCommand(command: string, args: string[]): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, output }));
  });
}
