export { type AgentsFile, defaultSystemPrompt, findAgentsFile, readAgentsFile } from './agents-file.js';
export { WorkloadError } from './errors.js';
export { BEGIN_OF_TEXT, END_HEADER_ID, EOT_ID, START_HEADER_ID, TEMPLATE_VERSION } from './llama3-format.js';
export {
  DEFAULT_TOKEN_CACHE_DIR,
  type LoadedWorkload,
  type LoadWorkloadOptions,
  loadWorkload,
  type WorkloadStats,
} from './load-workload.js';
export { Prng } from './prng.js';
export {
  type BuildPromptsOptions,
  buildPreparedWorkload,
  type PromptTemplate,
  type TemplateMessage,
  type TemplateSession,
} from './prompt-builder.js';
export { type WorkloadSummary, workloadSummary } from './summary.js';
export {
  generateSynthetic,
  generateTransitions,
  type LengthRange,
  type SyntheticOptions,
  syntheticTransitionMatrix,
  type TransitionSpec,
} from './synthetic.js';
export { isSyntheticSpec, parseSyntheticSpec, SYNTHETIC_PROFILES, type SyntheticSpec } from './synthetic-spec.js';
export type { TokenCacheStatus } from './tokenize-strings.js';
export { llama3Tokenizer, type TextTokenizer } from './tokenizer.js';
export { type ReadTraceOptions, readTrace, type Trace, type TraceSession, type TraceTurn } from './trace-reader.js';
export { type TemplateChoice, toolCallOf } from './trace-workload.js';
export type { PreparedSession, PreparedTurn, PreparedWorkload } from './types.js';
