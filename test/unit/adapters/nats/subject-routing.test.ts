import { describe, expect, it } from 'vitest';
import { createNatsSink } from '../../../../adapters/nats/nats-sink.js';
import {
  createSubjectRouter,
  fromMsgHdrs,
  JETSTREAM_SUBJECTS,
  toMsgHdrs,
} from '../../../../adapters/nats/subject-routing.js';
import { ConfigError } from '../../../../core/errors.js';

describe('NATS subject routing', () => {
  it('sends commands under cachesage.cmd.> to JetStream and everything else to core NATS', () => {
    expect(JETSTREAM_SUBJECTS).toEqual(['cachesage.cmd.>']);
    const route = createSubjectRouter();
    expect(route('cachesage.cmd.e1.evict')).toBe('jetstream');
    expect(route('cachesage.cmd.e1.pin.extra')).toBe('jetstream');
    expect(route('cachesage.act.e1.evict')).toBe('core');
    expect(route('cachesage.cmd')).toBe('core');
    expect(route('cachesage.commands.e1')).toBe('core');
    const custom = createSubjectRouter(['a.*.pin']);
    expect(custom('a.e1.pin')).toBe('jetstream');
    expect(custom('cachesage.cmd.e1.evict')).toBe('core');
  });

  it('refuses subjects that cannot be published', () => {
    const route = createSubjectRouter();
    for (const bad of ['', 'a..b', 'a.*', 'a.>', 'has space', '.a']) expect(() => route(bad)).toThrow(ConfigError);
    expect(() => createSubjectRouter(['a.>.b'])).toThrow(ConfigError);
  });

  it('carries headers both ways, case kept; no headers means none sent', () => {
    const h = toMsgHdrs({ 'cachesage-schema-id': '4', 'X-Trace': 'abc' });
    expect(h!.get('cachesage-schema-id')).toBe('4');
    expect(fromMsgHdrs(h)).toEqual({ 'cachesage-schema-id': '4', 'X-Trace': 'abc' });
    expect(toMsgHdrs({})).toBeUndefined();
    expect(toMsgHdrs(undefined)).toBeUndefined();
    expect(fromMsgHdrs(undefined)).toEqual({});
  });

  it('the sink needs a connection or a URL and refuses non-byte values', async () => {
    expect(() => createNatsSink({})).toThrow(ConfigError);
    const sink = createNatsSink({ natsUrl: 'nats://127.0.0.1:1', ackTimeoutMs: 100 });
    await expect(sink.write([{ destination: 'cachesage.act.e.pin', key: null, value: 'x' as never }])).rejects.toThrow(
      /not bytes/,
    );
    await sink.close();
    await expect(sink.write([])).rejects.toThrow(/after close/);
  });
});
