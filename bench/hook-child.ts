import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { natsSubscribe } from '../adapters/nats/nats-subscribe.js';
import { connectOnce } from '../infra/nats/connect.js';
import { decodeActFromNats } from '../schemas/act-codec.js';
import type { Act } from '../schemas/types.js';

/**
 * The engine hook of a latency run, in a process of its own (as an engine's hook is): it decodes every act on the
 * subjects and notes, per act, its cause, its size and when it arrived on the machine's monotonic clock
 * (`monoNowMs`), which every process reads alike. Kept apart from the driver, an act's arrival is not held up by the
 * driver's produce work.
 */
export interface HookConfig {
  natsUrl: string;
  /** Subscription, e.g. `bench.latency.act.*.*`. */
  subject: string;
}

/** Causes, arrival times (ms, `monoNowMs`) and message sizes (bytes) of the acts received, in order. */
export interface HookArrivals {
  causeIds: string[];
  atMs: number[];
  bytes: number[];
}

type ToParent = { type: 'ready' } | { type: 'arrivals'; arrivals: HookArrivals } | { type: 'error'; message: string };

/** The machine's monotonic clock in ms (CLOCK_MONOTONIC: the same in every process of the machine). */
export function monoNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

async function child(config: HookConfig): Promise<void> {
  const send = (m: ToParent): void => void process.send?.(m);
  try {
    const nc = await connectOnce(config.natsUrl, 5000, `cachesage-bench-hook-${process.pid}`);
    const arrivals: HookArrivals = { causeIds: [], atMs: [], bytes: [] };
    // the act with its body's size (a message that does not decode is delivered as undefined)
    const decode = (data: Uint8Array, headers: Readonly<Record<string, string>>) => ({
      act: decodeActFromNats(data, headers),
      bytes: data.length,
    });
    const unsubscribe = natsSubscribe(nc, { decode })(config.subject, (m) => {
      const at = monoNowMs();
      const received = m.value as { act: Act; bytes: number } | undefined;
      if (received === undefined) return;
      arrivals.causeIds.push(received.act.causeId);
      arrivals.atMs.push(at);
      arrivals.bytes.push(received.bytes);
    });
    await nc.flush();
    send({ type: 'ready' });
    process.on('message', async (m) => {
      if (m !== 'stop') return;
      unsubscribe();
      await nc.drain().catch(() => undefined);
      // disconnect only once the (large) report is written to the channel
      process.send?.({ type: 'arrivals', arrivals } satisfies ToParent, undefined, {}, () => process.disconnect?.());
    });
  } catch (err) {
    send({ type: 'error', message: String((err as Error)?.stack ?? err) });
    process.exit(1);
  }
}

export interface HookProcess {
  pid: number;
  ready: Promise<void>;
  /** Unsubscribes and returns every arrival. */
  stop(): Promise<HookArrivals>;
}

/** Forks the hook process; `ready` resolves once its subscription is live at the server. */
export function forkHook(config: HookConfig): HookProcess {
  const proc = fork(fileURLToPath(import.meta.url), ['--hook-child', JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let onReady!: () => void;
  let onArrivals!: (a: HookArrivals) => void;
  let onFail!: (err: Error) => void;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const arrivals = new Promise<HookArrivals>((resolve) => {
    onArrivals = resolve;
  });
  const failed = new Promise<never>((_, reject) => {
    onFail = reject;
  });
  failed.catch(() => undefined);
  let reported = false;
  proc.on('message', (m: ToParent) => {
    if (m.type === 'ready') onReady();
    else if (m.type === 'arrivals') {
      reported = true;
      onArrivals(m.arrivals);
    } else onFail(new Error(`hook ${proc.pid}: ${m.message}`));
  });
  proc.on('exit', (code) => {
    if (!reported) onFail(new Error(`hook ${proc.pid} exited with ${code} before its report`));
  });
  proc.on('error', (err) => onFail(new Error(`hook ${proc.pid}: ${err.message}`)));
  let stopped: Promise<HookArrivals> | undefined;
  return {
    pid: proc.pid!,
    ready: Promise.race([ready, failed]),
    stop() {
      stopped ??= (async () => {
        if (proc.connected) proc.send('stop');
        return Promise.race([arrivals, failed]);
      })();
      return stopped;
    },
  };
}

if (process.argv[2] === '--hook-child') {
  await child(JSON.parse(process.argv[3]!) as HookConfig);
}
