import type { Command } from 'commander';
import { registerBridge } from './bridge.js';
import { registerDlq } from './dlq.js';
import { registerEngineSim } from './engine-sim.js';
import { registerInfra } from './infra.js';
import { registerProcessor } from './processor.js';
import { registerProxy } from './proxy.js';
import { registerRecord } from './record.js';
import { registerReplay } from './replay.js';
import { registerSimulate } from './simulate.js';
import { registerTopics } from './topics.js';

/** A CLI command module: adds its sub-command to the program. One file per command under cli/commands/. */
export type RegisterCommand = (program: Command) => void;

/** Every command of the `cachesage` CLI. Add one import and one entry per command file. */
export const commands: RegisterCommand[] = [
  registerInfra,
  registerTopics,
  registerBridge,
  registerProxy,
  registerSimulate,
  registerProcessor,
  registerEngineSim,
  registerRecord,
  registerReplay,
  registerDlq,
];
