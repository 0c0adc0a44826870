import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createRecordingWriter, readRecording } from '../../../adapters/recording/recording-file.js';
import type { RecordedRecord, RecordingHeader } from '../../../adapters/recording/recording-format.js';
import { DecodeError } from '../../../core/errors.js';
import { parseRangeEnd, parseRangeStart } from '../../../replay/time-range.js';

const HEADER: RecordingHeader = {
  format: 'cachesage-recording',
  version: 1,
  createdAt: '2025-01-01T00:00:00.000Z',
  from: 'beginning',
  to: 'now',
  topics: { kv: 'kv', requests: null },
  ranges: [{ topic: 'kv', partition: 0, start: '0', end: '2' }],
};

const RECORDS: RecordedRecord[] = [
  {
    topic: 'kv',
    partition: 0,
    offset: '0',
    timestamp: 5,
    key: 'e1',
    value: new Uint8Array([0, 1, 2]),
    headers: { a: 'b' },
  },
  { topic: 'kv', partition: 0, offset: '1', timestamp: 6, key: null, value: null, headers: {} },
];

async function written(): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'cachesage-recording-')), 'r.jsonl.gz');
  const writer = createRecordingWriter(path, HEADER);
  for (const r of RECORDS) await writer.write(r);
  await writer.close();
  return path;
}

describe('recording files', () => {
  it('round-trip the header and every record, bytes, null keys and tombstones included', async () => {
    const recording = await readRecording(await written());
    expect(recording.header).toEqual(HEADER);
    expect(recording.records).toEqual(RECORDS);
  });

  it('refuse a file cut short, one whose trailer disagrees, and files that are not recordings', async () => {
    const path = await written();
    const lines = gunzipSync(readFileSync(path)).toString('utf8').trimEnd().split('\n');
    expect(JSON.parse(lines[lines.length - 1]!)).toEqual({ end: true, records: 2 });
    const variant = (name: string, text: string): string => {
      const p = `${path}.${name}`;
      writeFileSync(p, gzipSync(text));
      return p;
    };
    const cut = variant('cut', `${lines.slice(0, -1).join('\n')}\n`);
    await expect(readRecording(cut)).rejects.toThrow(/no trailer: it was cut short \(2 records\)/);
    const miscount = variant('miscount', `${[...lines.slice(0, -1), '{"end":true,"records":3}'].join('\n')}\n`);
    await expect(readRecording(miscount)).rejects.toThrow(/trailer counts 3 records, the file holds 2/);
    await expect(readRecording(variant('other', '{"hello":1}\n'))).rejects.toThrow(/not a CacheSage recording/);
    const future = variant('future', `${JSON.stringify({ ...HEADER, version: 9 })}\n`);
    await expect(readRecording(future)).rejects.toThrow(/recording version 9/);
    const badLine = variant('bad', `${[lines[0], '{"topic":"kv"}', lines[lines.length - 1]].join('\n')}\n`);
    await expect(readRecording(badLine)).rejects.toBeInstanceOf(DecodeError);
    writeFileSync(`${path}.plain`, 'not gzip');
    await expect(readRecording(`${path}.plain`)).rejects.toThrow(/unreadable/);
    await expect(readRecording(`${path}.missing`)).rejects.toThrow(/does not exist/);
  });
});

describe('range bounds', () => {
  it('parse beginning, now, ISO times and epoch ms, and refuse the rest', () => {
    expect(parseRangeStart('beginning')).toBe('beginning');
    expect(parseRangeStart('2025-03-01T10:00:00Z')).toBe(Date.UTC(2025, 2, 1, 10));
    expect(parseRangeStart('1740823200000')).toBe(1740823200000);
    expect(parseRangeEnd('now', 'beginning')).toBe('now');
    expect(parseRangeEnd('2025-03-01T11:00:00.000Z', Date.UTC(2025, 2, 1, 10))).toBe(Date.UTC(2025, 2, 1, 11));
    expect(() => parseRangeStart('yesterday')).toThrow(/--from: expected an ISO time/);
    expect(() => parseRangeEnd('2025-03-01T09:00:00Z', Date.UTC(2025, 2, 1, 10))).toThrow(/--to: .* is not after/);
  });
});
