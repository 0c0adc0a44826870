#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { CacheSageError } from '../core/errors.js';
import { commands } from './commands/index.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command('cachesage')
    .description('Agent-aware runtime layer for multi-agent LLM serving (Kafka + RxJS + NATS)')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError();
  for (const register of commands) register(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CacheSageError) {
      process.stderr.write(`cachesage: ${err.message}${err.retriable ? ' (retriable)' : ''}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

await main();
