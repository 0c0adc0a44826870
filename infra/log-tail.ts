import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The last `lines` lines of a text. */
export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The last `lines` lines of a file (read from its last 64 KiB), or a note that it cannot be read. */
export function readTail(path: string, lines: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return `(no log at ${path})`;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return tail(buffer.toString('utf8'), lines);
  } finally {
    closeSync(fd);
  }
}
