import { DecodeError } from '../../core/errors.js';
import type { AppearanceModel } from './appearance.js';
import {
  ByteReader,
  ByteWriter,
  readCountTable,
  readRows,
  readValue,
  writeCountTable,
  writeRows,
  writeValue,
} from './codec.js';
import type { LivenessModel } from './liveness.js';
import type { CacheSageOptions } from './options.js';
import type { RankJudge } from './rank-judge.js';
import type { ReturnModel } from './return-model.js';
import { type ReturnTimeModel, RT_EXPERTS } from './return-time.js';
import type { CacheSageState, EngineState, SessionState, WorkloadModel } from './state.js';
import { RANK_BINS, type TransitionModel } from './transition-model.js';

/**
 * Snapshot and restore of CacheSage's state (the Policy's `snapshot`/`restore`, for changelog-backed stores).
 * Layout: magic "CSG", format version, options, statistics and decision flags, then each workload's learned model
 * as a length-prefixed block (its length is the model's serialized size, what `cacheSageModelBytesPerWorkload`
 * reports), then the sessions and engines (the runtime part: positions, pending questions, resident blocks,
 * registered contexts). Restoring gives a state equal to the snapshotted one, so a policy restarted from it decides
 * exactly as the uninterrupted one would.
 */
const MAGIC = [0x43, 0x53, 0x47];
const VERSION = 2;

function writeReturnModel(wr: ByteWriter, m: ReturnModel): void {
  const table = new Map<number, Float64Array>();
  for (const [k, c] of m.counts) table.set(k, Float64Array.of(c[0], c[1]));
  writeCountTable(wr, table, 2);
  writeValue(wr, m.hits);
  writeValue(wr, m.total);
}

function readReturnModel(r: ByteReader): ReturnModel {
  const counts = new Map<number, [number, number]>();
  for (const [k, c] of readCountTable(r, 2)) counts.set(k, [c[0] as number, c[1] as number]);
  return { counts, hits: readValue(r) as number, total: readValue(r) as number };
}

function writeReturnTimes(wr: ByteWriter, m: ReturnTimeModel): void {
  wr.varint(m.horizon);
  wr.varint(m.tables.length);
  for (const levels of m.tables) {
    wr.varint(levels.length);
    for (const table of levels) writeCountTable(wr, table, m.horizon + 2);
  }
  writeValue(wr, m.loss);
  wr.varint(m.answered);
}

function readReturnTimes(r: ByteReader): ReturnTimeModel {
  const horizon = r.varint();
  const experts = r.varint();
  if (experts !== RT_EXPERTS.length)
    throw bad(`return-time model has ${experts} experts, expected ${RT_EXPERTS.length}`);
  const tables: Map<number, Float64Array>[][] = [];
  for (let e = 0; e < experts; e++) {
    const n = r.varint();
    const levels: Map<number, Float64Array>[] = [];
    for (let l = 0; l < n; l++) levels.push(readCountTable(r, horizon + 2));
    tables.push(levels);
  }
  const loss = readValue(r) as Float64Array;
  return { horizon, tables, loss, answered: r.varint() };
}

function writeRankRows(wr: ByteWriter, rows: Map<number, number[]>): void {
  const table = new Map<number, Float64Array>();
  for (const [k, row] of rows) table.set(k, Float64Array.from(row));
  writeCountTable(wr, table, RANK_BINS + 1);
}

function readRankRows(r: ByteReader): Map<number, number[]> {
  const rows = new Map<number, number[]>();
  for (const [k, row] of readCountTable(r, RANK_BINS + 1)) rows.set(k, Array.from(row));
  return rows;
}

function writeTransitions(wr: ByteWriter, m: TransitionModel): void {
  writeValue(wr, m.agents);
  writeRows(wr, m.first);
  writeValue(wr, m.firstTotals);
  writeRows(wr, m.second);
  writeValue(wr, m.secondTotals);
  writeRows(wr, new Map([[0, m.marginal]]));
  writeValue(wr, m.marginalTotal);
  writeRows(wr, new Map([[0, m.starts]]));
  writeValue(wr, m.startsTotal);
  writeValue(wr, m.lengths);
  writeValue(wr, m.lengthsTotal);
  writeValue(wr, m.ranks);
  writeValue(wr, m.ranksTotal);
  writeRankRows(wr, m.ranksBySeen);
  writeValue(wr, m.ranksBySeenTotals);
  writeRankRows(wr, m.ranksByStreak);
  writeValue(wr, m.ranksByStreakTotals);
  writeRankRows(wr, m.ranksAfter);
  writeValue(wr, m.ranksAfterTotals);
  writeValue(wr, m.scale);
  writeValue(wr, m.transitions);
  writeValue(wr, m.options);
}

function readTransitions(r: ByteReader): TransitionModel {
  const agents = readValue(r) as string[];
  const first = readRows(r);
  const firstTotals = readValue(r) as Map<number, number>;
  const second = readRows(r);
  const secondTotals = readValue(r) as Map<number, number>;
  const marginal = readRows(r).get(0) ?? new Map<number, number>();
  const marginalTotal = readValue(r) as number;
  const starts = readRows(r).get(0) ?? new Map<number, number>();
  const startsTotal = readValue(r) as number;
  const lengths = readValue(r) as number[];
  const lengthsTotal = readValue(r) as number;
  const ranks = readValue(r) as number[];
  const ranksTotal = readValue(r) as number;
  const ranksBySeen = readRankRows(r);
  const ranksBySeenTotals = readValue(r) as Map<number, number>;
  const ranksByStreak = readRankRows(r);
  const ranksByStreakTotals = readValue(r) as Map<number, number>;
  const ranksAfter = readRankRows(r);
  const ranksAfterTotals = readValue(r) as Map<number, number>;
  const scale = readValue(r) as number;
  const transitions = readValue(r) as number;
  const options = readValue(r) as TransitionModel['options'];
  return {
    agents,
    index: new Map(agents.map((a, i) => [a, i])),
    first,
    firstTotals,
    second,
    secondTotals,
    marginal,
    marginalTotal,
    starts,
    startsTotal,
    lengths,
    lengthsTotal,
    ranks,
    ranksTotal,
    ranksBySeen,
    ranksBySeenTotals,
    ranksByStreak,
    ranksByStreakTotals,
    ranksAfter,
    ranksAfterTotals,
    scale,
    transitions,
    options,
  };
}

/** One workload's learned model in its compact form. */
export function encodeWorkloadModel(w: WorkloadModel): Uint8Array {
  const wr = new ByteWriter();
  writeValue(wr, w.id);
  writeTransitions(wr, w.model);
  writeReturnModel(wr, w.returns);
  writeReturnTimes(wr, w.times);
  writeValue(wr, w.liveness);
  writeValue(wr, w.judge);
  writeValue(wr, w.lastPrompt);
  writeValue(wr, w.anchorLen);
  wr.varint(w.anchorEpoch);
  writeValue(wr, w.appearances);
  return wr.bytes();
}

export function decodeWorkloadModel(bytes: Uint8Array): WorkloadModel {
  const r = new ByteReader(bytes);
  const id = readValue(r) as string;
  const model = readTransitions(r);
  const returns = readReturnModel(r);
  const times = readReturnTimes(r);
  const liveness = readValue(r) as LivenessModel;
  const judge = readValue(r) as RankJudge;
  const lastPrompt = readValue(r) as WorkloadModel['lastPrompt'];
  const anchorLen = readValue(r) as Map<number, number>;
  const anchorEpoch = r.varint();
  const appearances = readValue(r) as AppearanceModel;
  return { id, model, returns, times, liveness, judge, lastPrompt, anchorLen, anchorEpoch, appearances };
}

function bad(message: string): DecodeError {
  return new DecodeError('DECODE_FAILED', `cachesage snapshot: ${message}`);
}

export function snapshotState(state: CacheSageState): Uint8Array {
  const wr = new ByteWriter();
  for (const b of MAGIC) wr.u8(b);
  wr.u8(VERSION);
  writeValue(wr, state.options);
  writeValue(wr, state.stats);
  writeValue(wr, state.arrivalSession);
  writeValue(wr, state.grewOn);
  wr.varint(state.workloads.size);
  for (const w of state.workloads.values()) {
    const bytes = encodeWorkloadModel(w);
    wr.varint(bytes.length);
    for (const b of bytes) wr.u8(b);
  }
  writeValue(wr, state.sessions);
  writeValue(wr, state.engines);
  return wr.bytes();
}

export function restoreState(bytes: Uint8Array): CacheSageState {
  const r = new ByteReader(bytes);
  for (const b of MAGIC) if (r.u8() !== b) throw bad('not a CacheSage snapshot');
  const version = r.u8();
  if (version !== VERSION) throw bad(`unsupported version ${version}`);
  const options = readValue(r) as CacheSageOptions;
  const stats = readValue(r) as CacheSageState['stats'];
  const arrivalSession = readValue(r) as string | null;
  const grewOn = readValue(r) as string | null;
  const workloads = new Map<string, WorkloadModel>();
  const n = r.varint();
  for (let i = 0; i < n; i++) {
    const len = r.varint();
    const block = new Uint8Array(len);
    for (let j = 0; j < len; j++) block[j] = r.u8();
    const w = decodeWorkloadModel(block);
    workloads.set(w.id, w);
  }
  const sessions = readValue(r) as Map<string, SessionState>;
  const engines = readValue(r) as Map<string, EngineState>;
  if (!r.done) throw bad('trailing bytes');
  return { options, workloads, sessions, engines, stats, arrivalSession, grewOn };
}
