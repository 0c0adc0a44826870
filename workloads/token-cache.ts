import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const MAGIC = 0x4b545343; // "CSTK"
const VERSION = 1;

/** Key of one string in a token cache: the first 64 bits of its UTF-8 sha256, as 16 hex digits. */
export function stringKey(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

/** Key of a whole cache file: sha256 over the parts (trace bytes hash, agents file hash, tokenizer id, ...). */
export function cacheFileKey(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\n'), 'utf8').digest('hex');
}

/**
 * Reads a token cache file: token ids by string key. Returns null when the file is missing or not a valid cache
 * (a cache is only ever an accelerator).
 */
export async function readTokenCache(file: string): Promise<Map<string, Uint32Array> | null> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch {
    return null;
  }
  if (buf.byteLength < 12 || buf.byteLength % 4 !== 0) return null;
  const aligned = buf.byteOffset % 4 === 0 ? buf : Buffer.from(buf);
  const words = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
  if (words[0] !== MAGIC || words[1] !== VERSION) return null;
  const count = words[2] as number;
  const out = new Map<string, Uint32Array>();
  let at = 3;
  for (let i = 0; i < count; i++) {
    if (at + 3 > words.length) return null;
    const key = aligned.toString('hex', at * 4, at * 4 + 8);
    const n = words[at + 2] as number;
    at += 3;
    if (at + n > words.length) return null;
    out.set(key, words.subarray(at, at + n));
    at += n;
  }
  return at === words.length ? out : null;
}

/** Writes a token cache file atomically (temporary file, then rename). */
export async function writeTokenCache(file: string, entries: ReadonlyMap<string, ArrayLike<number>>): Promise<void> {
  let words = 3;
  for (const tokens of entries.values()) words += 3 + tokens.length;
  const buf = Buffer.alloc(words * 4);
  const view = new Uint32Array(buf.buffer, buf.byteOffset, words);
  view[0] = MAGIC;
  view[1] = VERSION;
  view[2] = entries.size;
  let at = 3;
  for (const [key, tokens] of entries) {
    buf.write(key, at * 4, 8, 'hex');
    view[at + 2] = tokens.length;
    view.set(tokens, at + 3);
    at += 3 + tokens.length;
  }
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, buf);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
