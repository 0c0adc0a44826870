/**
 * The topology as data (DESIGN §5, Kafka Streams' Topology): named sources, state stores, stages and sinks, the
 * partitioning key, and what each stage does with a bad record. A topology does no I/O; `startTopology` (in
 * `topology/runtime/`) runs it over injected sources, sinks and stores.
 */

/** What a stage does with a record it cannot process: stop the topology, drop it, or send it to the dead letters. */
export type OnError = 'fail' | 'skip' | 'dead-letter';

export const ON_ERROR_VALUES: readonly OnError[] = ['fail', 'skip', 'dead-letter'];

/** A readable edge: one or more topics read together (co-partitioned, keyed by the topology's partition key). */
export interface SourceNode {
  name: string;
  topics: readonly string[];
}

/** A named state store; stages that list it read and write it. */
export interface StoreNode {
  name: string;
  /** One line on what it holds (shown by `describe()`). */
  description?: string;
}

/**
 * A processing step. `inputs` name sources or stages upstream; `outputs` name sinks the stage writes to (the values
 * it emits are then sink messages). Stage-to-stage edges are given by the downstream stage's `inputs` only.
 */
export interface StageNode {
  name: string;
  /** Which processor runs it (`decode`, `observe`, `decide`, `stamp-acts`, `route-to-subject`, or a custom kind). */
  kind: string;
  inputs: readonly string[];
  outputs?: readonly string[];
  stores?: readonly string[];
  onError: OnError;
  /** Plain data the processor reads (decoder name, policy names, default ttl...). */
  options?: Readonly<Record<string, unknown>>;
}

/** Where a Kafka topic or a NATS subject is written. Subject destinations may hold `{field}` placeholders. */
export interface SinkNode {
  name: string;
  transport: 'topic' | 'subject';
  destination: string;
}

export interface TopologyDefinition {
  name: string;
  /** Record field every source topic is keyed by (co-partitioning), e.g. `engineId`. */
  partitionKey: string;
  sources: readonly SourceNode[];
  stores: readonly StoreNode[];
  stages: readonly StageNode[];
  sinks: readonly SinkNode[];
  /** Sink that receives bad records of stages whose `onError` is `dead-letter`. */
  deadLetterSink?: string;
}

/** A validated topology: the definition plus the derived graph. Immutable. */
export interface Topology extends Readonly<TopologyDefinition> {
  /** Stage names in topological order (every stage after all its inputs). */
  readonly stageOrder: readonly string[];
  /** Stages fed by the source or stage `name`. */
  downstreamOf(name: string): readonly string[];
  source(name: string): SourceNode | undefined;
  stage(name: string): StageNode | undefined;
  sink(name: string): SinkNode | undefined;
  /** A readable rendering, one line per node and edge (like Kafka Streams' TopologyDescription). */
  describe(): string;
}
