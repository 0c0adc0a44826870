import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { CacheSageError } from '../core/errors.js';
import { WorkloadError } from './errors.js';
import { traceStem } from './trace-reader.js';

/** System prompts by agent id, from `<stem>.agents.json` (`{ agent: system prompt }`). */
export interface AgentsFile {
  path: string;
  prompts: Map<string, string>;
  /** sha256 (hex) of the file's bytes. */
  sha256: string;
}

/** The system prompt used where an agent has none in the agents file. */
export function defaultSystemPrompt(agent: string): string {
  return `You are ${agent}.`;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Reads and validates an agents file: a JSON object whose values are strings. Placeholders are kept as written. */
export async function readAgentsFile(path: string): Promise<AgentsFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new CacheSageError('NOT_FOUND', `agents file ${path} not found`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new WorkloadError(`${path}: invalid JSON (${(err as Error).message})`, { details: { file: path } });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WorkloadError(`${path}: must be a JSON object { agent: system prompt }`, { details: { file: path } });
  }
  const prompts = new Map<string, string>();
  for (const [agent, prompt] of Object.entries(value)) {
    if (typeof prompt !== 'string') {
      throw new WorkloadError(`${path}: the system prompt of '${agent}' must be a string (got ${typeof prompt})`, {
        details: { file: path, agent },
      });
    }
    prompts.set(agent, prompt);
  }
  return { path, prompts, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * The agents file of a trace: `override` when given (it must exist), else `<stem>.agents.json` beside the trace
 * when present, else null.
 */
export async function findAgentsFile(tracePath: string, override?: string): Promise<AgentsFile | null> {
  if (override !== undefined) return readAgentsFile(override);
  const beside = `${traceStem(tracePath)}.agents.json`;
  return (await isFile(beside)) ? readAgentsFile(beside) : null;
}
