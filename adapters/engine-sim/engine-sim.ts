import { ConfigError } from '../../core/errors.js';
import type { Scheduler, Sink, SinkMessage } from '../../core/io.js';
import { KV_EVENTS_TOPIC, REQUESTS_TOPIC } from '../../infra/topics.js';
import { BLOCK_SIZE } from '../../schemas/block-hash.js';
import type {
  ActHeader,
  BlockHash,
  EvictionEntry,
  EvictionHints,
  KvEvent,
  KvEventKind,
  Medium,
  Pin,
  Prefetch,
  RequestEvent,
} from '../../schemas/types.js';
import type { PreparedTurn } from '../../workloads/types.js';
import type { EngineHooks, HookCounters, RejectReason } from '../hooks/engine-hooks.js';
import { BlockCache, type EvictorKind, NEVER_USED } from './block-cache.js';
import { decodeMsPerToken, firstTokenMs, gapMsFromNormal, reloadMs } from './cost-model.js';
import type { EngineOrder } from './request-order.js';
import { type EngineResult, emptyHookCounters, type PrefetchStats, ttftSummary } from './result.js';
import { standardNormal } from './seeded-random.js';
import type { WorkloadIndex } from './workload-index.js';

/** What the simulator publishes: request events and KV events, as typed objects (DESIGN §4). */
export type SimEvent = RequestEvent | KvEvent;

/** One request as the engine served it (simulated ms). */
export interface RequestRecord {
  engineId: string;
  /** Position in the engine's order. */
  index: number;
  sessionIndex: number;
  turnIndex: number;
  sessionId: string;
  agentId: string;
  arrivalMs: number;
  prefillStartMs: number;
  firstTokenMs: number;
  finishMs: number;
  ttftMs: number;
  promptTokens: number;
  gpuHitTokens: number;
  cpuHitTokens: number;
  outputTokens: number;
}

export interface EngineSimOptions {
  engineId: string;
  index: WorkloadIndex;
  /** This engine's part of the fixed request order. */
  order: EngineOrder;
  /** Active sessions per engine (C): caps the decode batch. */
  concurrency: number;
  /** GPU blocks kept for reuse between requests (a running request's own blocks do not count). */
  budgetBlocks: number;
  /** CPU-tier capacity in blocks (0: no CPU tier). */
  cpuTierBlocks?: number;
  evictor: EvictorKind;
  /** Acts take effect this long (simulated ms) after a hook receives them. */
  actDelayMs: number;
  /** Seed of the gaps between a session's steps. */
  seed: number;
  scheduler: Scheduler;
  /** Where events go (key engineId); none for baselines that need no events. */
  sink?: Sink<SimEvent>;
  /** `producedAt` of events; simulated time when absent. */
  producedAtMs?: () => number;
  /** Called when a request finishes (at its finish time). */
  onRequestDone?: (record: RequestRecord) => void;
}

/**
 * One simulated engine (vLLM v1 prefix cache + the cost model), driving itself on the scheduler, and the hooks
 * through which acts reach it.
 *
 * Semantics (identical for every policy, so that comparisons are fair and Belady is a true bound):
 * - Requests run in the fixed order (`buildRequestOrder`). Request i arrives at max(its ready time, arrival of
 *   request i-1) and is announced then (RequestEvent ARRIVED); its session is ready at the finish of its previous
 *   call plus the gaps of the turns in between (seeded per (session, turn), independent of the policy), or, for a
 *   session's first call, at the finish of the session it replaced in its slot (the start for the first C sessions).
 * - Prefill is FIFO: request i is scheduled (its cache step runs) when it has arrived and the prefill of request
 *   i-1 is done, as vLLM's scheduler allocates a request's blocks when it admits it. Cache-wise a request is one
 *   atomic step then, in order, so which blocks are cached never depends on timing (only acts and prefetches,
 *   delivered at simulated times, interleave with steps):
 *   1. prefetch reloads completed by now become resident;
 *   2. the queued blocks are trimmed to the budget by the evictor (lazily, as vLLM evicts on allocation; the
 *      evictions are the ones this request's allocation causes, and acts that arrived before it count);
 *   3. lookup: the longest run of leading prompt blocks resident in GPU, at most floor((promptTokens-1)/16)
 *      blocks (the last token is always recomputed), is the GPU hit; with a CPU tier, the continuing run found
 *      there is the CPU hit (reloaded); the rest is computed;
 *   4. the request's prompt and output blocks are taken out of the free queue or admitted (working memory), then
 *      freed back tail-first (the request's last block nearest the eviction end).
 * - Time: one GPU per engine. Prefill runs one request at a time, from its cache step; CPU-hit
 *   blocks are first reloaded over the engine's PCIe channel (serialized with prefetch reloads); the first token
 *   follows after the fixed overhead plus prefill of the uncached tokens. Decode overlaps (continuous batching):
 *   outputTokens · decodeMsPerToken(min(C, active sessions)). TTFT = first token − arrival.
 * - Events (on the sink, key = engineId): RequestEvent ARRIVED at arrival; at the cache step its KvEvents in the order the
 *   cache changed (GPU BlockRemoved of the trim, CPU-tier BlockStored/BlockRemoved, GPU BlockStored of computed and
 *   reloaded prompt blocks, GPU BlockStored of the output blocks, which the step caches at once), RequestEvent
 *   FINISHED at finish (cachedTokens = GPU hit tokens); GPU BlockStored of prefetched blocks when their reload
 *   completes. eventId `${engineId}:${n}`, ts = simulated time.
 * - Acts are hints applied `actDelayMs` after the hook receives them (never synchronously, so a bus that runs the
 *   topology inside the simulator's write cannot re-enter a step). A foreign act, or one stale (issuedAt + ttlMs)
 *   when it takes effect, is rejected and counted. The Belady evictor ignores acts.
 */
export interface EngineSim extends EngineHooks {
  /** True once every request of the order has finished. */
  readonly done: boolean;
  /** Requests finished so far. */
  readonly completed: number;
  /** Schedules the first arrival at the scheduler's current time. */
  start(): void;
  /** Statistics of the requests that have arrived so far (final once `done`; makespan counts finished ones). */
  result(): EngineResult;
  /** Counts an act that a filter in front of these hooks rejected. */
  noteRejected(reason: RejectReason): void;
  /** Queued GPU blocks (ids), eviction end first. */
  queuedBlocks(): number[];
  /** CPU-tier blocks (ids), eviction end first. */
  cpuBlocks(): number[];
  isResident(blockId: number): boolean;
  /** Resident GPU blocks (queued or in use). */
  residentCount(): number;
  /** Settles once every sink write so far has (rejects with the first failed write). */
  settled(): Promise<void>;
}

interface Reload {
  ids: number[];
  startMs: number;
  perBlockMs: number;
  next: number;
}

const EPS_MS = 1e-9;

/** Creates one simulated engine; call `start()` and run the scheduler. */
export function createEngineSim(options: EngineSimOptions): EngineSim {
  validate(options);
  return new SimEngine(options);
}

function validate(o: EngineSimOptions): void {
  const intAtLeast = (name: string, v: number, min: number): void => {
    if (!Number.isInteger(v) || v < min) throw new ConfigError(`${name} must be an integer ≥ ${min}, got ${v}`);
  };
  intAtLeast('budgetBlocks', o.budgetBlocks, 0);
  intAtLeast('cpuTierBlocks', o.cpuTierBlocks ?? 0, 0);
  intAtLeast('concurrency', o.concurrency, 1);
  intAtLeast('seed', o.seed, Number.MIN_SAFE_INTEGER);
  if (!Number.isFinite(o.actDelayMs) || o.actDelayMs < 0) {
    throw new ConfigError(`actDelayMs must be a finite number ≥ 0, got ${o.actDelayMs}`);
  }
  if (o.evictor !== 'lru' && o.evictor !== 'belady') throw new ConfigError(`unknown evictor '${String(o.evictor)}'`);
  if (o.engineId.length === 0) throw new ConfigError('engineId must not be empty');
  if (o.index.workload.hashes.length !== o.index.blockCount) {
    throw new ConfigError('index does not belong to this workload');
  }
}

class SimEngine implements EngineSim {
  readonly engineId: string;
  completed = 0;

  private readonly o: EngineSimOptions;
  private readonly cache: BlockCache;
  private readonly turns: PreparedTurn[][];
  private readonly hashes: BigInt64Array;
  private readonly parent: Int32Array;
  private readonly sink: Sink<SimEvent> | undefined;
  private readonly nextUse: Int32Array | null;
  private readonly nextUseOffset: Uint32Array | null;

  private readonly arrivalAt: Float64Array;
  private readonly finishAt: Float64Array;
  private readonly ttft: Float64Array;
  private readonly gpuHitBlocks: Uint32Array;
  private readonly cpuHitBlocks: Uint32Array;
  private stepped = 0;
  private nextArrival = 0;
  private nextStep = 0;
  private arrivalPending = false;
  private stepPending = false;
  private startedAt = 0;
  private lastFinish = 0;
  private gpuFreeAt = 0;
  private pcieFreeAt = 0;

  private promptTokens = 0;
  private outputTokens = 0;
  private gpuHitTokens = 0;
  private cpuHitTokens = 0;
  private readonly prefetchStats: PrefetchStats = {
    issued: 0,
    blocksRequested: 0,
    blocksLoaded: 0,
    blocksUsed: 0,
    precision: 0,
  };
  private readonly counters: HookCounters = emptyHookCounters();
  private readonly reloads: Reload[] = [];
  private readonly contexts = new Map<string, number[]>();
  private hintEntriesSkipped = 0;
  private readonly stored: number[] = [];

  private out: SinkMessage<SimEvent>[] = [];
  private eventSeq = 0;
  private kvSeq = 0;
  private readonly writes: Promise<void>[] = [];

  constructor(o: EngineSimOptions) {
    this.o = o;
    this.engineId = o.engineId;
    const { index } = o;
    this.turns = index.workload.sessions.map((s) => s.turns);
    this.hashes = index.workload.hashes;
    this.parent = index.parent;
    this.sink = o.sink;
    this.cache = new BlockCache({
      parent: index.parent,
      depth: index.depth,
      budgetBlocks: o.budgetBlocks,
      cpuTierBlocks: o.cpuTierBlocks ?? 0,
      evictor: o.evictor,
    });
    const n = o.order.length;
    this.arrivalAt = new Float64Array(n);
    this.finishAt = new Float64Array(n);
    this.ttft = new Float64Array(n);
    this.gpuHitBlocks = new Uint32Array(n);
    this.cpuHitBlocks = new Uint32Array(n);
    if (o.evictor === 'belady') {
      const { offsets, nextUse } = precomputeNextUse(o.order, this.turns, index.blockCount);
      this.nextUse = nextUse;
      this.nextUseOffset = offsets;
    } else {
      this.nextUse = null;
      this.nextUseOffset = null;
    }
  }

  get done(): boolean {
    return this.completed === this.o.order.length;
  }

  start(): void {
    const now = this.o.scheduler.now();
    this.startedAt = now;
    this.gpuFreeAt = now;
    this.pcieFreeAt = now;
    this.lastFinish = now;
    this.scheduleArrival();
  }

  applyEvictionHints(hints: EvictionHints): void {
    if (!this.receive(hints)) return;
    for (const e of hints.entries) {
      if (!Number.isFinite(e.priority)) {
        this.counters.rejected.malformed++;
        return;
      }
    }
    this.later(hints, () => {
      this.counters.applied.evict++;
      for (const e of hints.entries) {
        const ids = this.groupOf(e);
        if (ids === null) {
          this.hintEntriesSkipped++;
          continue;
        }
        for (const id of ids) if (id >= 0) this.cache.setPriority(id, e.priority);
      }
    });
  }

  prefetch(act: Prefetch): void {
    if (!this.receive(act)) return;
    if (!Number.isFinite(act.deadlineMs)) {
      this.counters.rejected.malformed++;
      return;
    }
    this.later(act, () => {
      this.counters.applied.prefetch++;
      this.prefetchStats.issued++;
      this.startReload(act);
    });
  }

  pin(act: Pin): void {
    if (!this.receive(act)) return;
    if (!Number.isFinite(act.pinTtlMs) || act.pinTtlMs < 0) {
      this.counters.rejected.malformed++;
      return;
    }
    this.later(act, () => {
      this.counters.applied.pin++;
      const until = act.issuedAt + act.pinTtlMs;
      for (const id of this.idsOf(act.blockHashes)) if (id >= 0) this.cache.pin(id, until);
    });
  }

  noteRejected(reason: RejectReason): void {
    this.counters.rejected[reason]++;
  }

  queuedBlocks(): number[] {
    return this.cache.queuedIds();
  }

  cpuBlocks(): number[] {
    return this.cache.cpuIds();
  }

  isResident(blockId: number): boolean {
    return this.cache.isResident(blockId);
  }

  residentCount(): number {
    return this.cache.size;
  }

  async settled(): Promise<void> {
    await Promise.all(this.writes);
  }

  result(): EngineResult {
    const n = this.stepped;
    const ttftMs = this.ttft.slice(0, n);
    const makespanMs = this.lastFinish - this.startedAt;
    const prefetch = { ...this.prefetchStats };
    prefetch.precision = prefetch.blocksLoaded > 0 ? prefetch.blocksUsed / prefetch.blocksLoaded : 0;
    return {
      engineId: this.engineId,
      requests: n,
      promptTokens: this.promptTokens,
      outputTokens: this.outputTokens,
      gpuHitTokens: this.gpuHitTokens,
      cpuHitTokens: this.cpuHitTokens,
      tokenHitRate: this.promptTokens > 0 ? this.gpuHitTokens / this.promptTokens : 0,
      cpuHitRate: this.promptTokens > 0 ? this.cpuHitTokens / this.promptTokens : 0,
      ttftMs,
      ...ttftSummary(ttftMs),
      makespanMs,
      throughputTokPerS: makespanMs > 0 ? this.outputTokens / (makespanMs / 1000) : 0,
      promptTokPerS: makespanMs > 0 ? this.promptTokens / (makespanMs / 1000) : 0,
      evictions: this.cache.evictions,
      cpuEvictions: this.cache.cpuDrops,
      prefetch,
      acts: structuredClone(this.counters),
      hintEntriesSkipped: this.hintEntriesSkipped,
    };
  }

  private turnOf(i: number): PreparedTurn {
    const { order } = this.o;
    return this.turns[order.sessionIndex[i] as number]?.[order.turnIndex[i] as number] as PreparedTurn;
  }

  /** Schedules the next arrival once the previous one happened and its session's ready time is known. */
  private scheduleArrival(): void {
    const j = this.nextArrival;
    const { order, scheduler } = this.o;
    if (this.arrivalPending || j >= order.length) return;
    const p = order.prevInSlot[j] as number;
    if (p >= this.nextStep) return;
    const at = j === 0 ? this.startedAt : Math.max(this.arrivalAt[j - 1] as number, this.readyAt(j));
    this.arrivalPending = true;
    scheduler.schedule(Math.max(scheduler.now(), at), () => this.arrive(j));
  }

  /** A request reaches the engine: it is queued for its prefill (FIFO) and announced (ARRIVED). */
  private arrive(i: number): void {
    const now = this.o.scheduler.now();
    this.arrivalPending = false;
    this.nextArrival = i + 1;
    this.arrivalAt[i] = now;
    if (this.sink) {
      this.emitRequest('ARRIVED', i, this.turnOf(i), now);
      this.flush();
    }
    this.scheduleStep();
    this.scheduleArrival();
  }

  /** Schedules the next request's cache step when it has arrived, at the time the prefill lane frees up. */
  private scheduleStep(): void {
    const k = this.nextStep;
    if (this.stepPending || k >= this.nextArrival) return;
    const { scheduler } = this.o;
    this.stepPending = true;
    const at = Math.max(scheduler.now(), this.arrivalAt[k] as number, this.gpuFreeAt);
    scheduler.schedule(at, () => this.step(k));
  }

  private step(i: number): void {
    const { order, scheduler } = this.o;
    const now = scheduler.now();
    const turn = this.turnOf(i);
    const cache = this.cache;
    const prompt = turn.promptBlocks;
    const output = turn.outputBlocks;
    const sink = this.sink;
    this.stepPending = false;
    this.nextStep = i + 1;
    this.stepped = i + 1;

    this.commitReloads(now);
    cache.trim(now);
    if (sink) this.emitCacheLogs(now);

    const limit = Math.min(prompt.length, Math.max(0, Math.floor((turn.promptTokens - 1) / BLOCK_SIZE)));
    let g = 0;
    while (g < limit && cache.isResident(prompt[g] as number)) g++;
    let c = g;
    if (cache.cpuTierBlocks > 0) while (c < limit && cache.inCpu(prompt[c] as number)) c++;
    for (let j = 0; j < g; j++) if (cache.takePrefetched(prompt[j] as number)) this.prefetchStats.blocksUsed++;

    const stored = this.stored;
    stored.length = 0;
    for (let j = 0; j < prompt.length; j++) {
      const id = prompt[j] as number;
      if (cache.isResident(id)) cache.take(id);
      else {
        cache.admit(id);
        if (sink) stored.push(id);
      }
      if (j >= g && j < c) cache.cpuTouch(id);
    }
    if (sink && stored.length > 0) this.emitStored(stored, 'GPU', now);
    stored.length = 0;
    for (let j = 0; j < output.length; j++) {
      const id = output[j] as number;
      if (cache.isResident(id)) cache.take(id);
      else {
        cache.admit(id);
        if (sink) stored.push(id);
      }
    }
    if (sink && stored.length > 0) this.emitStored(stored, 'GPU', now);
    if (this.nextUse) {
      const nextUse = this.nextUse;
      const base = (this.nextUseOffset as Uint32Array)[i] as number;
      for (let j = 0; j < prompt.length; j++) cache.setNextUse(prompt[j] as number, nextUse[base + j] as number);
      for (let j = 0; j < output.length; j++) {
        cache.setNextUse(output[j] as number, nextUse[base + prompt.length + j] as number);
      }
    }
    for (let j = output.length - 1; j >= 0; j--) cache.release(output[j] as number);
    for (let j = prompt.length - 1; j >= 0; j--) cache.release(prompt[j] as number);

    const gpuHitTokens = g * BLOCK_SIZE;
    const cpuHitTokens = (c - g) * BLOCK_SIZE;
    this.gpuHitBlocks[i] = g;
    this.cpuHitBlocks[i] = c - g;
    this.promptTokens += turn.promptTokens;
    this.outputTokens += turn.outputTokens;
    this.gpuHitTokens += gpuHitTokens;
    this.cpuHitTokens += cpuHitTokens;

    const prefillStart = now;
    let computeStart = prefillStart;
    if (c > g) {
      computeStart = Math.max(prefillStart, this.pcieFreeAt) + reloadMs(c - g);
      this.pcieFreeAt = computeStart;
    }
    const cached = gpuHitTokens + cpuHitTokens;
    const firstToken = computeStart + firstTokenMs(turn.promptTokens - cached, cached);
    this.gpuFreeAt = firstToken;
    const batch = Math.min(this.o.concurrency, order.activeSessions[i] as number);
    const finish = firstToken + turn.outputTokens * decodeMsPerToken(batch);
    this.ttft[i] = firstToken - (this.arrivalAt[i] as number);
    this.finishAt[i] = finish;
    this.flush();

    scheduler.schedule(finish, () => this.finished(i, turn, prefillStart, firstToken));
    this.scheduleStep();
    this.scheduleArrival();
  }

  private finished(i: number, turn: PreparedTurn, prefillStartMs: number, firstTokenAt: number): void {
    const now = this.o.scheduler.now();
    this.completed++;
    if (now > this.lastFinish) this.lastFinish = now;
    if (this.sink) {
      this.emitRequest('FINISHED', i, turn, now);
      this.flush();
    }
    const cb = this.o.onRequestDone;
    if (cb) {
      const { order } = this.o;
      const sessionIndex = order.sessionIndex[i] as number;
      cb({
        engineId: this.engineId,
        index: i,
        sessionIndex,
        turnIndex: order.turnIndex[i] as number,
        sessionId: this.o.index.workload.sessions[sessionIndex]?.sessionId ?? '',
        agentId: turn.agentId,
        arrivalMs: this.arrivalAt[i] as number,
        prefillStartMs,
        firstTokenMs: firstTokenAt,
        finishMs: now,
        ttftMs: this.ttft[i] as number,
        promptTokens: turn.promptTokens,
        gpuHitTokens: (this.gpuHitBlocks[i] as number) * BLOCK_SIZE,
        cpuHitTokens: (this.cpuHitBlocks[i] as number) * BLOCK_SIZE,
        outputTokens: turn.outputTokens,
      });
    }
  }

  private readyAt(i: number): number {
    const { order, seed } = this.o;
    const p = order.prevInSlot[i] as number;
    if (p < 0) return this.startedAt;
    const s = order.sessionIndex[i] as number;
    let ready = this.finishAt[p] as number;
    if ((order.sessionIndex[p] as number) !== s) return ready;
    const turns = this.turns[s] as PreparedTurn[];
    const to = order.turnIndex[i] as number;
    for (let t = order.turnIndex[p] as number; t < to; t++) {
      ready += gapMsFromNormal(standardNormal(seed, s, t), (turns[t] as PreparedTurn).toolCall !== null);
    }
    return ready;
  }

  private receive(act: ActHeader): boolean {
    if (act.engineId !== this.engineId) {
      this.counters.rejected.foreign++;
      return false;
    }
    if (!Number.isFinite(act.issuedAt) || !Number.isFinite(act.ttlMs)) {
      this.counters.rejected.malformed++;
      return false;
    }
    return true;
  }

  private later(act: ActHeader, apply: () => void): void {
    const { scheduler, actDelayMs } = this.o;
    scheduler.schedule(scheduler.now() + actDelayMs, () => {
      if (scheduler.now() > act.issuedAt + act.ttlMs) {
        this.counters.rejected['stale-ttl']++;
        return;
      }
      apply();
    });
  }

  /** Block ids of the workload index, position for position (-1: a hash the index does not know). */
  private idsOf(hashes: readonly BlockHash[]): number[] {
    const ids = new Array<number>(hashes.length);
    for (let i = 0; i < hashes.length; i++) ids[i] = this.o.index.idOfHash(hashes[i] as BlockHash);
    return ids;
  }

  /**
   * The blocks an eviction entry names, registering them for its context: the whole group (`fromBlock` 0), the
   * context's last registration (no hashes), or the first `fromBlock` registered blocks followed by the entry's;
   * null when the entry extends more blocks than this engine holds registered for the context (it missed an act).
   */
  private groupOf(e: EvictionEntry): number[] | null {
    const from = e.fromBlock ?? 0;
    if (from > 0) {
      const base = e.contextId === null ? undefined : this.contexts.get(e.contextId);
      if (base === undefined || base.length < from) return null;
      const ids = base.slice(0, from).concat(this.idsOf(e.blockHashes));
      this.contexts.set(e.contextId as string, ids);
      return ids;
    }
    if (e.blockHashes.length === 0) return e.contextId !== null ? (this.contexts.get(e.contextId) ?? []) : [];
    const ids = this.idsOf(e.blockHashes);
    if (e.contextId !== null) this.contexts.set(e.contextId, ids);
    return ids;
  }

  private startReload(act: Prefetch): void {
    const cache = this.cache;
    if (cache.cpuTierBlocks === 0 || cache.evictor === 'belady') return;
    const ids: number[] = [];
    for (const h of act.blockHashes) {
      const id = this.o.index.idOfHash(h);
      if (id < 0) break;
      if (cache.isResident(id) || cache.isInflight(id)) continue;
      if (!cache.inCpu(id)) break;
      ids.push(id);
    }
    const now = this.o.scheduler.now();
    const perBlockMs = reloadMs(1);
    const startMs = Math.max(now, this.pcieFreeAt);
    const fit = Math.floor((act.issuedAt + act.deadlineMs - startMs) / perBlockMs + EPS_MS);
    const n = Math.max(0, Math.min(ids.length, fit));
    if (n === 0) return;
    ids.length = n;
    for (const id of ids) cache.setInflight(id, true);
    this.prefetchStats.blocksRequested += n;
    this.pcieFreeAt = startMs + n * perBlockMs;
    this.reloads.push({ ids, startMs, perBlockMs, next: 0 });
    this.o.scheduler.schedule(this.pcieFreeAt, () => {
      this.commitReloads(this.o.scheduler.now());
      this.flush();
    });
  }

  /** Makes resident the prefetched blocks whose reload completed by `now` (only where the parent is resident). */
  private commitReloads(now: number): void {
    if (this.reloads.length === 0) return;
    const cache = this.cache;
    const committed: number[] = [];
    for (const r of this.reloads) {
      while (r.next < r.ids.length && r.startMs + (r.next + 1) * r.perBlockMs <= now + EPS_MS) {
        const id = r.ids[r.next++] as number;
        cache.setInflight(id, false);
        const p = this.parent[id] as number;
        if (cache.isResident(id) || (p >= 0 && !cache.isResident(p))) continue;
        cache.prioritize();
        cache.admit(id);
        cache.markPrefetched(id);
        cache.cpuTouch(id);
        committed.push(id);
      }
    }
    let k = 0;
    for (const r of this.reloads) if (r.next < r.ids.length) this.reloads[k++] = r;
    this.reloads.length = k;
    for (let j = committed.length - 1; j >= 0; j--) cache.release(committed[j] as number);
    this.prefetchStats.blocksLoaded += committed.length;
    if (this.sink && committed.length > 0) this.emitStored(committed, 'GPU', now);
  }

  private emitRequest(phase: 'ARRIVED' | 'FINISHED', i: number, turn: PreparedTurn, now: number): void {
    const session = this.o.index.workload.sessions[this.o.order.sessionIndex[i] as number];
    const finished = phase === 'FINISHED';
    const event: RequestEvent = {
      eventId: this.nextEventId(),
      requestId: `${session?.sessionId}/${turn.turn}`,
      engineId: this.engineId,
      workloadId: this.o.index.workload.workloadId,
      sessionId: session?.sessionId ?? '',
      agentId: turn.agentId,
      phase,
      ts: now,
      producedAt: this.producedAt(now),
      promptTokens: turn.promptTokens,
      cachedTokens: finished ? (this.gpuHitBlocks[i] as number) * BLOCK_SIZE : 0,
      blockHashes: this.hashList(turn.promptBlocks),
      outputBlockHashes: finished ? this.hashList(turn.outputBlocks) : [],
      outputTokens: finished ? turn.outputTokens : 0,
      toolCall: finished ? turn.toolCall : null,
    };
    this.out.push({ destination: REQUESTS_TOPIC, key: this.engineId, value: event });
  }

  private emitCacheLogs(now: number): void {
    const cache = this.cache;
    if (cache.evicted.length > 0) {
      this.emitKv('BLOCK_REMOVED', this.hashList(cache.evicted), null, 'GPU', now);
      cache.evicted.length = 0;
    }
    const log = cache.cpuLog;
    let j = 0;
    while (j < log.length) {
      const storing = (log[j] as number) > 0;
      const group: number[] = [];
      while (j < log.length && (log[j] as number) > 0 === storing) group.push(Math.abs(log[j++] as number) - 1);
      if (storing) this.emitStored(group.reverse(), 'CPU', now);
      else this.emitKv('BLOCK_REMOVED', this.hashList(group), null, 'CPU', now);
    }
    log.length = 0;
  }

  /** BlockStored events for `ids`, one per run of consecutive parent→child blocks. */
  private emitStored(ids: readonly number[], medium: Medium, now: number): void {
    let start = 0;
    for (let j = 1; j <= ids.length; j++) {
      if (j < ids.length && this.parent[ids[j] as number] === ids[j - 1]) continue;
      const first = ids[start] as number;
      const p = this.parent[first] as number;
      this.emitKv('BLOCK_STORED', this.hashList(ids.slice(start, j)), p >= 0 ? this.hash(p) : null, medium, now);
      start = j;
    }
  }

  private emitKv(
    kind: KvEventKind,
    blockHashes: BlockHash[],
    parentHash: BlockHash | null,
    medium: Medium,
    now: number,
  ): void {
    const event: KvEvent = {
      eventId: this.nextEventId(),
      engineId: this.engineId,
      seq: this.kvSeq++,
      ts: now,
      producedAt: this.producedAt(now),
      kind,
      blockHashes,
      parentHash,
      tokenIds: [],
      medium,
    };
    this.out.push({ destination: KV_EVENTS_TOPIC, key: this.engineId, value: event });
  }

  private flush(): void {
    const cache = this.cache;
    if (!this.sink) {
      cache.evicted.length = 0;
      cache.cpuLog.length = 0;
      return;
    }
    this.emitCacheLogs(this.o.scheduler.now());
    if (this.out.length === 0) return;
    const batch = this.out;
    this.out = [];
    const r = this.sink.write(batch);
    if (r && typeof (r as Promise<void>).then === 'function') this.writes.push(r as Promise<void>);
  }

  private hashList(ids: ArrayLike<number>): BlockHash[] {
    const out = new Array<BlockHash>(ids.length);
    for (let j = 0; j < ids.length; j++) out[j] = this.hash(ids[j] as number);
    return out;
  }

  private hash(id: number): BlockHash {
    return this.hashes[id] as bigint;
  }

  private nextEventId(): string {
    return `${this.engineId}:${this.eventSeq++}`;
  }

  private producedAt(now: number): number {
    return this.o.producedAtMs ? this.o.producedAtMs() : now;
  }
}

/**
 * For every block a request touches (prompt blocks, then output blocks, flattened in order), the index of the next
 * request of this order that uses it: a use is appearing in a prompt within that request's hit limit.
 */
export function precomputeNextUse(
  order: EngineOrder,
  turns: readonly PreparedTurn[][],
  blockCount: number,
): { offsets: Uint32Array; nextUse: Int32Array } {
  const offsets = new Uint32Array(order.length + 1);
  const turnOf = (i: number): PreparedTurn =>
    turns[order.sessionIndex[i] as number]?.[order.turnIndex[i] as number] as PreparedTurn;
  for (let i = 0; i < order.length; i++) {
    const t = turnOf(i);
    offsets[i + 1] = (offsets[i] as number) + t.promptBlocks.length + t.outputBlocks.length;
  }
  const nextUse = new Int32Array(offsets[order.length] as number);
  const lastSeen = new Int32Array(blockCount).fill(NEVER_USED);
  for (let i = order.length - 1; i >= 0; i--) {
    const t = turnOf(i);
    const base = offsets[i] as number;
    const p = t.promptBlocks;
    const o = t.outputBlocks;
    for (let j = 0; j < p.length; j++) nextUse[base + j] = lastSeen[p[j] as number] as number;
    for (let j = 0; j < o.length; j++) nextUse[base + p.length + j] = lastSeen[o[j] as number] as number;
    const limit = Math.min(p.length, Math.max(0, Math.floor((t.promptTokens - 1) / BLOCK_SIZE)));
    for (let j = 0; j < limit; j++) lastSeen[p[j] as number] = i;
  }
  return { offsets, nextUse };
}
