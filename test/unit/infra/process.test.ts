import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isPortFree, isPortOpen } from '../../../infra/ports.js';
import {
  commandLine,
  findExecutable,
  findProcesses,
  isAlive,
  runCommand,
  stopProcess,
} from '../../../infra/process.js';

const children: ChildProcess[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A node child that prints "ready" once its signal handlers are set. */
async function nodeChild(script: string, marker: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', `${script};console.log('ready')`, marker], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(child);
  await once(child.stdout!, 'data');
  return child;
}

async function listening(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return address.port;
}

describe('ports', () => {
  it('tells a taken port from a free one', async () => {
    const port = await listening();
    expect(await isPortFree(port)).toBe(false);
    expect(await isPortOpen(port)).toBe(true);
    await new Promise((resolve) => servers.pop()?.close(resolve));
    expect(await isPortFree(port)).toBe(true);
    expect(await isPortOpen(port)).toBe(false);
  });
});

describe('processes', () => {
  it('finds a live process by its command line and sees it die after SIGTERM', async () => {
    const marker = `cachesage-test-${process.pid}-${Date.now()}`;
    const child = await nodeChild('setInterval(() => {}, 1000)', marker);
    const pid = child.pid!;
    expect(isAlive(pid)).toBe(true);
    expect(commandLine(pid)).toContain(marker);
    expect(findProcesses([marker])).toEqual([pid]);
    const exited = once(child, 'exit');
    const outcome = await stopProcess(pid, 5000);
    await exited;
    expect(outcome.forced).toBe(false);
    expect(isAlive(pid)).toBe(false);
    expect(findProcesses([marker])).toEqual([]);
  });

  it('sends SIGKILL when SIGTERM is ignored past the grace time', async () => {
    const child = await nodeChild("process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)", 'stubborn');
    const exited = once(child, 'exit');
    const outcome = await stopProcess(child.pid!, 300);
    const [, signal] = await exited;
    expect(outcome.forced).toBe(true);
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(300);
    expect(signal).toBe('SIGKILL');
  });

  it('finds an executable that runs and skips one that does not exist', () => {
    expect(findExecutable(['/nonexistent/tool', process.execPath], ['--version'])).toEqual({
      command: process.execPath,
      version: process.version,
    });
    expect(findExecutable(['/nonexistent/tool'], ['--version'])).toBeUndefined();
  });

  it('runs a command to completion with its exit code, stdout and all output', async () => {
    const result = await runCommand(process.execPath, [
      '-e',
      "console.log('out'); console.error('err'); process.exit(3)",
    ]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('out\n');
    expect(result.output).toContain('out\n');
    expect(result.output).toContain('err\n');
    await expect(runCommand('/nonexistent/tool', [])).rejects.toThrow(/ENOENT/);
  });
});
