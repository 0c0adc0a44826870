import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../core/errors.js';
import { createCodec, SCHEMA_NAMES } from '../../../schemas/codec.js';
import {
  createSchemaRegistry,
  defaultSchemaRegistry,
  defaultSchemasDir,
  loadSchemaRegistry,
  REGISTRY_FILE,
  type RegistryFile,
} from '../../../schemas/registry.js';
import { SAMPLES } from './codec-samples.js';

const dir = defaultSchemasDir();
const table = JSON.parse(readFileSync(join(dir, REGISTRY_FILE), 'utf8')) as RegistryFile;
const registry = defaultSchemaRegistry();

function avscFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((d) => {
    const path = join(folder, d.name);
    if (d.isDirectory()) return avscFiles(path);
    return d.name.endsWith('.avsc') ? [relative(dir, path)] : [];
  });
}

type Json = { [k: string]: unknown };

/** Every record, enum and field of a schema, with the path that reaches it. */
function walk(schema: unknown, path: string, out: { path: string; node: Json; kind: string }[]): void {
  if (Array.isArray(schema)) {
    for (const branch of schema) walk(branch, path, out);
    return;
  }
  if (schema === null || typeof schema !== 'object') return;
  const node = schema as Json;
  if (node.type === 'record') {
    out.push({ path, node, kind: 'record' });
    for (const field of node.fields as Json[]) {
      out.push({ path: `${path}.${field.name}`, node: field, kind: 'field' });
      walk(field.type, `${path}.${field.name}`, out);
    }
  } else if (node.type === 'enum') out.push({ path, node, kind: 'enum' });
  else if (node.type === 'array') walk(node.items, path, out);
  else if (node.type === 'map') walk(node.values, path, out);
}

describe('schema registry table', () => {
  it('has contiguous ids from 1, each used once, with unique (name, version) rows', () => {
    const ids = table.schemas.map((row) => row.id);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
    const keys = table.schemas.map((row) => `${row.name}@${row.version}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(table.namespace).toBe('dev.cachesage');
    expect(registry.entries.map((e) => e.id)).toEqual(ids);
  });

  it('references every .avsc file exactly once, and every referenced file parses to the named record', () => {
    const referenced = table.schemas.map((row) => row.file).sort();
    expect(referenced).toEqual(avscFiles(dir).sort());
    for (const entry of registry.entries) {
      expect(entry.type.name).toBe(entry.name);
      expect(entry.name.startsWith(`${table.namespace}.`)).toBe(true);
    }
  });

  it('never changes a released schema: every row carries the fingerprint of its canonical form', () => {
    for (const entry of registry.entries) {
      expect(entry.fingerprint, `id ${entry.id}`).toBe(entry.type.fingerprint('sha256').toString('hex'));
    }
  });

  it('keeps current versions in the top folder and frozen older versions under history/', () => {
    const names = new Set(registry.entries.map((e) => e.name.split('.').pop()));
    expect([...names].sort()).toEqual([...SCHEMA_NAMES].sort());
    for (const entry of registry.entries) {
      const latest = registry.latest(entry.name);
      if (entry === latest) expect(entry.file).not.toMatch(/^history\//);
      else {
        expect(entry.file).toMatch(/^history\//);
        expect(registry.readPlan(entry.id)?.resolver).toBeDefined();
      }
    }
    expect(registry.latest('RequestEvent').version).toBeGreaterThan(1);
  });

  it('documents every record, enum and field', () => {
    for (const entry of registry.entries) {
      const nodes: { path: string; node: Json; kind: string }[] = [];
      walk(entry.schema, entry.name, nodes);
      expect(nodes.length).toBeGreaterThan(3);
      for (const { path, node } of nodes) {
        expect(typeof node.doc === 'string' && node.doc.length > 10, `${path} (id ${entry.id}) needs a doc`).toBe(true);
      }
    }
  });

  it('matches the TypeScript types field for field', () => {
    for (const name of SCHEMA_NAMES) {
      const schema = registry.latest(name).schema as { fields: { name: string }[] };
      const avro = schema.fields.map((f) => f.name).sort();
      for (const sample of SAMPLES[name]) expect(Object.keys(sample).sort(), name).toEqual(avro);
    }
    const nested = (name: string, field: string) =>
      (
        ((registry.latest(name).schema as Json).fields as { name: string; type: { items: { fields: Json[] } } }[]).find(
          (f) => f.name === field,
        )!.type.items.fields as { name: string }[]
      )
        .map((f) => f.name)
        .sort();
    expect(Object.keys(SAMPLES.EvictionHints[0]!.entries[0]!).sort()).toEqual(nested('EvictionHints', 'entries'));
    expect(Object.keys(SAMPLES.ModelUpdate[0]!.buckets[0]!).sort()).toEqual(nested('ModelUpdate', 'buckets'));
  });

  it('is shipped with the package', () => {
    const pkg = JSON.parse(readFileSync(join(dir, '..', 'package.json'), 'utf8')) as { files: string[] };
    for (const pattern of ['schemas/*.avsc', 'schemas/registry.json', 'schemas/history/*.avsc']) {
      expect(pkg.files).toContain(pattern);
    }
  });

  it('is documented: the README names every id and every field doc', () => {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8').replace(/[ \t]+/g, ' ');
    for (const entry of registry.entries) expect(readme).toContain(`| ${entry.id} | \`${entry.name}\``);
    for (const name of SCHEMA_NAMES) {
      const nodes: { path: string; node: Json; kind: string }[] = [];
      walk(registry.latest(name).schema, name, nodes);
      for (const { node, kind } of nodes) {
        if (kind === 'field') expect(readme, `${name}.${node.name}`).toContain(`| \`${node.name}\` |`);
        expect(readme, `${name}: ${String(node.doc)}`).toContain(String(node.doc));
      }
    }
  });
});

describe('loading a registry', () => {
  const v1 = JSON.parse(readFileSync(join(dir, 'history/request-event.v1.avsc'), 'utf8')) as Json;
  const v2 = JSON.parse(readFileSync(join(dir, 'request-event.avsc'), 'utf8')) as Json & { fields: Json[] };
  const row = (id: number, version: number, schema: unknown) => ({
    id,
    name: 'dev.cachesage.RequestEvent',
    version,
    schema,
  });
  const load = (schemas: RegistryFile['schemas']) => createSchemaRegistry({ namespace: 'dev.cachesage', schemas }, dir);

  it('reads every older version into a new one with embedded schemas', () => {
    const v3 = {
      ...v2,
      fields: [...v2.fields, { name: 'tenant', type: 'string', default: 'default', doc: 'Owning tenant of the call.' }],
    };
    const reg = load([row(1, 1, v1), row(2, 2, v2), row(3, 3, v3)]);
    const codec = createCodec('RequestEvent', { registry: reg });
    expect(codec.schemaId).toBe(3);
    const { outputTokens: _o, toolCall: _t, ...old } = SAMPLES.RequestEvent[0]!;
    const fromV1 = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), reg.byId(1)!.type.toBuffer(old)]);
    expect(codec.decode(fromV1)).toEqual({ ...old, outputTokens: 0, toolCall: null, tenant: 'default' });
    const current = createCodec('RequestEvent');
    const fromV2 = Buffer.from(current.encode(SAMPLES.RequestEvent[0]!));
    fromV2.writeUInt32BE(2, 1);
    expect(codec.decode(fromV2)).toEqual({ ...SAMPLES.RequestEvent[0], tenant: 'default' });
  });

  it('refuses a broken table with ConfigError', () => {
    const noDefault = { ...v2, fields: [...v2.fields, { name: 'tenant', type: 'string', doc: 'no default' }] };
    const broken: RegistryFile['schemas'][] = [
      [row(1, 1, v1), row(1, 2, v2)], // id used twice
      [row(1, 1, v1), row(2, 3, v2)], // version gap
      [row(1, 1, v1), row(2, 1, v2)], // version used twice
      [{ ...row(1, 1, v1), name: 'dev.cachesage.KvEvent' }], // name differs from the schema's
      [row(0, 1, v1)], // id out of range
      [{ ...row(1, 1, v1), file: 'request-event.avsc' }], // both file and schema
      [{ id: 1, name: 'dev.cachesage.RequestEvent', version: 1, file: 'missing.avsc' }],
      [row(1, 1, { type: 'record', name: 'RequestEvent', fields: [{ name: 'x', type: 'nope' }] })],
      [row(1, 1, v1), row(2, 2, noDefault)], // v1 cannot be read as v2
    ];
    for (const schemas of broken) expect(() => load(schemas)).toThrow(ConfigError);
    expect(() => createSchemaRegistry({} as RegistryFile, dir)).toThrow(ConfigError);
    expect(() => loadSchemaRegistry({ schemasDir: join(dir, 'history') })).toThrow(ConfigError);
  });

  it('looks records up by short or full name, and refuses unknown names', () => {
    expect(registry.latest('KvEvent')).toBe(registry.latest('dev.cachesage.KvEvent'));
    expect(() => registry.latest('Warm')).toThrow(/no schema named Warm/);
    expect(registry.byId(10_000)).toBeUndefined();
    expect(registry.readPlan(10_000)).toBeUndefined();
  });
});
