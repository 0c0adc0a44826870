import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type avro from 'avsc';
import { ConfigError, ProgrammerError } from '../core/errors.js';
import { parseAvroSchema } from './avro-types.js';

/** avsc's resolver from a writer schema to a reader schema. */
export type AvroResolver = ReturnType<avro.Type['createResolver']>;

/** Name of the schema table file in the schemas folder. */
export const REGISTRY_FILE = 'registry.json';

/** One row of `registry.json`: a schema id and the writer schema it stands for. */
export interface RegistryRow {
  id: number;
  /** Full record name, e.g. `dev.cachesage.RequestEvent`. */
  name: string;
  /** 1, 2, ... per name, in the order the versions were added. */
  version: number;
  /** Path of the `.avsc` file relative to the schemas folder (or `schema` embedded instead). */
  file?: string;
  schema?: unknown;
  /** SHA-256 of avsc's canonical form of the schema: proves an id's schema never changes after release. */
  fingerprint?: string;
}

/** The content of `registry.json`. */
export interface RegistryFile {
  namespace: string;
  schemas: RegistryRow[];
}

/** A parsed registry row. */
export interface SchemaEntry {
  readonly id: number;
  readonly name: string;
  readonly version: number;
  readonly file: string | undefined;
  readonly fingerprint: string | undefined;
  /** The schema as JSON (what the file holds). */
  readonly schema: unknown;
  readonly type: avro.Type;
}

/** Reads older versions of one record under its latest version. */
export interface ReadPlan {
  readonly writer: SchemaEntry;
  readonly reader: SchemaEntry;
  /** avsc resolver from writer to reader; undefined when they are the same schema. */
  readonly resolver: AvroResolver | undefined;
}

/**
 * The schema-id table: every id that was ever written, each with its writer schema, and for every record name the
 * current (latest) version that readers decode into. Resolvers from every older version to the current one are
 * built when the table is loaded, so an incompatible evolution fails at load time, not while decoding.
 */
export interface SchemaRegistry {
  readonly namespace: string;
  readonly schemasDir: string;
  readonly entries: readonly SchemaEntry[];
  byId(id: number): SchemaEntry | undefined;
  /** Latest version of a record, by full or short name (`RequestEvent`); throws ProgrammerError if unknown. */
  latest(name: string): SchemaEntry;
  /** How to read data written with `writerId` into the latest version of the same record; undefined if unknown id. */
  readPlan(writerId: number): ReadPlan | undefined;
}

export interface SchemaRegistryOptions {
  /** Folder holding `registry.json` and the `.avsc` files; defaults to the package's `schemas/` folder. */
  schemasDir?: string;
}

/** The package's `schemas/` folder, from source (`schemas/`) or from the build output (`dist/schemas/`). */
export function defaultSchemasDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, REGISTRY_FILE))) return here;
  return join(here, '..', '..', 'schemas');
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read schema file ${path}`, { cause: err });
  }
}

function checkRow(row: RegistryRow, index: number): void {
  if (!Number.isInteger(row.id) || row.id < 1 || row.id > 0xffffffff) {
    throw new ConfigError(`registry row ${index}: id must be an integer in [1, 2^32)`, { details: { row } });
  }
  if (typeof row.name !== 'string' || !Number.isInteger(row.version) || row.version < 1) {
    throw new ConfigError(`registry row ${index}: needs a name and a version >= 1`, { details: { row } });
  }
  if ((row.file === undefined) === (row.schema === undefined)) {
    throw new ConfigError(`registry id ${row.id}: give exactly one of file and schema`, { details: { row } });
  }
}

function parseEntry(row: RegistryRow, schemasDir: string): SchemaEntry {
  const schema = row.file === undefined ? row.schema : readJson(join(schemasDir, row.file));
  let type: avro.Type;
  try {
    type = parseAvroSchema(schema);
  } catch (err) {
    throw new ConfigError(`registry id ${row.id}: invalid schema`, { cause: err });
  }
  if (type.name !== row.name) {
    throw new ConfigError(`registry id ${row.id}: the schema defines ${type.name}, the table says ${row.name}`);
  }
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    file: row.file,
    fingerprint: row.fingerprint,
    schema,
    type,
  };
}

/** Builds a registry from a parsed `registry.json` (files read from `schemasDir`). Throws ConfigError. */
export function createSchemaRegistry(table: RegistryFile, schemasDir: string): SchemaRegistry {
  if (!table || typeof table.namespace !== 'string' || !Array.isArray(table.schemas)) {
    throw new ConfigError('registry: expected { namespace, schemas: [...] }');
  }
  const byId = new Map<number, SchemaEntry>();
  const versions = new Map<string, SchemaEntry[]>();
  table.schemas.forEach((row, index) => {
    checkRow(row, index);
    if (byId.has(row.id)) throw new ConfigError(`registry: id ${row.id} used twice`);
    const entry = parseEntry(row, schemasDir);
    byId.set(entry.id, entry);
    const list = versions.get(entry.name) ?? [];
    list.push(entry);
    versions.set(entry.name, list);
  });
  const latestByName = new Map<string, SchemaEntry>();
  for (const [name, list] of versions) {
    list.sort((a, b) => a.version - b.version);
    list.forEach((entry, i) => {
      if (entry.version !== i + 1) throw new ConfigError(`registry: versions of ${name} must be 1, 2, ... once each`);
    });
    latestByName.set(name, list[list.length - 1] as SchemaEntry);
  }
  const plans = new Map<number, ReadPlan>();
  for (const writer of byId.values()) {
    const reader = latestByName.get(writer.name) as SchemaEntry;
    let resolver: AvroResolver | undefined;
    if (writer !== reader) {
      try {
        resolver = reader.type.createResolver(writer.type);
      } catch (err) {
        throw new ConfigError(`registry: ${writer.name} v${writer.version} cannot be read as v${reader.version}`, {
          cause: err,
        });
      }
    }
    plans.set(writer.id, { writer, reader, resolver });
  }
  const namespace = table.namespace;
  return {
    namespace,
    schemasDir,
    entries: [...byId.values()].sort((a, b) => a.id - b.id),
    byId: (id) => byId.get(id),
    latest(name) {
      const entry = latestByName.get(name.includes('.') ? name : `${namespace}.${name}`);
      if (entry === undefined) throw new ProgrammerError(`no schema named ${name} in the registry`);
      return entry;
    },
    readPlan: (writerId) => plans.get(writerId),
  };
}

/** Loads `registry.json` and every schema it references. Throws ConfigError on a missing or inconsistent table. */
export function loadSchemaRegistry(options: SchemaRegistryOptions = {}): SchemaRegistry {
  const schemasDir = options.schemasDir ?? defaultSchemasDir();
  return createSchemaRegistry(readJson(join(schemasDir, REGISTRY_FILE)) as RegistryFile, schemasDir);
}

let shared: SchemaRegistry | undefined;

/** The package's own registry, loaded once on first use (immutable afterwards). */
export function defaultSchemaRegistry(): SchemaRegistry {
  shared ??= loadSchemaRegistry();
  return shared;
}
