import { ConfigError } from '../core/errors.js';
import type { SyntheticOptions } from './synthetic.js';

const BASE: SyntheticOptions = {
  seed: 1,
  agents: 6,
  transitions: 'structured',
  sessions: 60,
  sessionTurns: { min: 8, max: 16 },
  systemPromptTokens: { min: 300, max: 1200 },
  turnTokens: { min: 50, max: 400 },
  toolCallProbability: 0.2,
};

/**
 * Named synthetic workloads. `structured` (alias of plain `synthetic`, what `npm start` runs) is small enough for
 * a full sweep in seconds; `random` is the same with a uniform agent order (no structure to learn); `large` is for
 * sweeps.
 */
export const SYNTHETIC_PROFILES: Readonly<Record<string, SyntheticOptions>> = {
  structured: BASE,
  random: { ...BASE, transitions: 'random' },
  large: {
    ...BASE,
    agents: 12,
    sessions: 400,
    sessionTurns: { min: 10, max: 30 },
    systemPromptTokens: { min: 400, max: 2000 },
    turnTokens: { min: 100, max: 800 },
  },
};

/** True when a workload spec names the synthetic generator rather than a file. */
export function isSyntheticSpec(spec: string): boolean {
  return /^synthetic($|[:?])/.test(spec);
}

type Setter = (o: SyntheticOptions, v: string) => SyntheticOptions;

function int(key: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(`synthetic parameter ${key} must be an integer (got '${v}')`);
  return n;
}

function num(key: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) {
    throw new ConfigError(`synthetic parameter ${key} must be a number (got '${v}')`);
  }
  return n;
}

const PARAMS: Record<string, Setter> = {
  seed: (o, v) => ({ ...o, seed: int('seed', v) }),
  agents: (o, v) => ({ ...o, agents: /^\d+$/.test(v) ? int('agents', v) : v.split(',').map((s) => s.trim()) }),
  sessions: (o, v) => ({ ...o, sessions: int('sessions', v) }),
  transitions: (o, v) => {
    if (v !== 'structured' && v !== 'random') {
      throw new ConfigError(`synthetic parameter transitions must be structured or random (got '${v}')`);
    }
    return { ...o, transitions: v };
  },
  minTurns: (o, v) => ({ ...o, sessionTurns: { ...o.sessionTurns, min: int('minTurns', v) } }),
  maxTurns: (o, v) => ({ ...o, sessionTurns: { ...o.sessionTurns, max: int('maxTurns', v) } }),
  endProbability: (o, v) => ({ ...o, endProbability: num('endProbability', v) }),
  minSystemTokens: (o, v) => ({
    ...o,
    systemPromptTokens: { ...o.systemPromptTokens, min: int('minSystemTokens', v) },
  }),
  maxSystemTokens: (o, v) => ({
    ...o,
    systemPromptTokens: { ...o.systemPromptTokens, max: int('maxSystemTokens', v) },
  }),
  minTurnTokens: (o, v) => ({ ...o, turnTokens: { ...o.turnTokens, min: int('minTurnTokens', v) } }),
  maxTurnTokens: (o, v) => ({ ...o, turnTokens: { ...o.turnTokens, max: int('maxTurnTokens', v) } }),
  toolCallProbability: (o, v) => ({ ...o, toolCallProbability: num('toolCallProbability', v) }),
};

export interface SyntheticSpec {
  profile: string;
  options: SyntheticOptions;
  /** Canonical form: `synthetic:<profile>?seed=<seed>` plus the other parameters given. */
  source: string;
}

/**
 * Parses `synthetic`, `synthetic:<profile>` and `synthetic[:<profile>]?key=value&...` (keys: seed, agents (a count
 * or comma-separated names), sessions, transitions, minTurns, maxTurns, endProbability, minSystemTokens,
 * maxSystemTokens, minTurnTokens, maxTurnTokens, toolCallProbability). `seed` in options overrides the spec's.
 */
export function parseSyntheticSpec(spec: string, overrides: { seed?: number } = {}): SyntheticSpec {
  const m = /^synthetic(?::([a-z0-9-]+))?(?:\?(.*))?$/i.exec(spec);
  if (!m)
    throw new ConfigError(`not a synthetic workload spec: '${spec}' (expected synthetic[:profile][?key=value&...])`);
  const profile = (m[1] ?? 'structured').toLowerCase();
  const base = SYNTHETIC_PROFILES[profile];
  if (!base) {
    throw new ConfigError(
      `unknown synthetic profile '${profile}' (known: ${Object.keys(SYNTHETIC_PROFILES).join(', ')})`,
    );
  }
  let options: SyntheticOptions = { ...base, workloadId: `synthetic-${profile}` };
  const given = new URLSearchParams(m[2] ?? '');
  const extra: string[] = [];
  for (const [key, value] of given) {
    const set = PARAMS[key];
    if (!set) {
      throw new ConfigError(`unknown synthetic parameter '${key}' (known: ${Object.keys(PARAMS).join(', ')})`);
    }
    options = set(options, value);
    if (key !== 'seed') extra.push(`${key}=${value}`);
  }
  if (overrides.seed !== undefined) options = { ...options, seed: overrides.seed };
  const source = `synthetic:${profile}?${[`seed=${options.seed}`, ...extra].join('&')}`;
  return { profile, options, source };
}
