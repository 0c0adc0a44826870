import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfraError } from '../core/errors.js';
import { isAlive, readPidFile, removeFile } from './process.js';

/**
 * Runs `fn` while holding a lock file (created exclusively, holding this process's pid). A lock left by a dead
 * process is taken over; a live holder is waited for up to `timeoutMs`.
 */
export async function withLockFile<T>(path: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  const started = Date.now();
  for (;;) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readPidFile(path);
      if (holder === undefined || !isAlive(holder)) {
        removeFile(path);
        continue;
      }
      if (Date.now() - started > timeoutMs) {
        throw new InfraError('TIMEOUT', `lock ${path} is held by pid ${holder} for more than ${timeoutMs} ms`, {
          retriable: true,
        });
      }
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    removeFile(path);
  }
}
