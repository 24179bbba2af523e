/**
 * The named audit queries on DuckDB, over a local archive directory (`embedgate audit query`).
 *
 * The records are read with `read_json` over `<dir>/sessions/*\/*\/*.json` and `*.jsonl.gz` (batches) (one JSON object per
 * file), with hive partitioning for `dt`/`hr` (as VARCHAR, as in Glue) and an explicit column
 * schema derived from the Glue columns (`shared/glue-columns.ts`): the same names and types
 * Athena sees, NULL for a field a record does not have, extra fields ignored. An archive without
 * records is an empty table of that schema. The view is `"embedgate"."sessions"`, the query is
 * `renderDuckDb` of the query defined once in `shared/audit-queries.ts`.
 */
import { readdir } from 'node:fs/promises';
import type * as DuckDb from '@duckdb/node-api';
import { join, resolve } from 'node:path';
import { PARTITION_KEYS, SESSION_COLUMNS, type GlueField, type GlueType } from '../shared/glue-columns';
import { renderDuckDb, type AuditQuery } from '../shared/audit-queries';

export const DUCKDB_SCHEMA = 'embedgate';
export const DUCKDB_TABLE = 'sessions';

/** Rows of a query: column names in order, and one object per row (JSON-safe values). */
export interface QueryResult {
  readonly columns: readonly string[];
  readonly rows: readonly Record<string, string | number | boolean | null>[];
}

/** The DuckDB type of a Glue type: `struct<a:string>` is `STRUCT("a" VARCHAR)`, `array<string>` is `VARCHAR[]`. */
export function duckDbType(type: GlueType): string {
  if (typeof type === 'string') {
    return { string: 'VARCHAR', bigint: 'BIGINT', double: 'DOUBLE', boolean: 'BOOLEAN' }[type];
  }
  if ('array' in type) return `${duckDbType(type.array)}[]`;
  return `STRUCT(${type.struct.map((f) => `"${f.name}" ${duckDbType(f.type)}`).join(', ')})`;
}

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The SQL that defines `"embedgate"."sessions"` over the archive directory (or an empty table). */
export function sessionsViewSql(archiveDir: string, hasRecords: boolean | RecordLayouts): string {
  const layouts: RecordLayouts = typeof hasRecords === 'boolean' ? { single: hasRecords, batch: false } : hasRecords;
  const cols = (fields: readonly GlueField[]) => fields.map((f) => `"${f.name}" ${duckDbType(f.type)}`);
  if (!layouts.single && !layouts.batch) {
    return `CREATE TABLE "${DUCKDB_SCHEMA}"."${DUCKDB_TABLE}" (${[...cols(SESSION_COLUMNS), ...cols(PARTITION_KEYS)].join(', ')})`;
  }
  // One glob per layout present (DuckDB refuses a glob that matches nothing): one record per
  // `.json` object, and gzip JSON Lines batches (decompressed by their `.gz` name).
  const root = `${resolve(archiveDir)}/sessions/*/*/`;
  const globs = [...(layouts.single ? [`${root}*.json`] : []), ...(layouts.batch ? [`${root}*.jsonl.gz`] : [])];
  const glob = globs.length === 1 ? globs[0]! : globs;
  const columns = SESSION_COLUMNS.map((f) => `${literal(f.name)}: ${literal(duckDbType(f.type))}`).join(', ');
  const hiveTypes = PARTITION_KEYS.map((f) => `${literal(f.name)}: ${literal(duckDbType(f.type))}`).join(', ');
  return (
    `CREATE VIEW "${DUCKDB_SCHEMA}"."${DUCKDB_TABLE}" AS SELECT * FROM read_json(${typeof glob === 'string' ? literal(glob) : `[${glob.map(literal).join(', ')}]`}, ` +
    `format = 'newline_delimited', hive_partitioning = true, hive_types = {${hiveTypes}}, columns = {${columns}})`
  );
}

/** Which record layouts the archive directory holds objects of. */
export interface RecordLayouts {
  readonly single: boolean;
  readonly batch: boolean;
}

/** Which layouts the archive directory holds at least one record object of. */
async function hasRecords(archiveDir: string): Promise<RecordLayouts> {
  try {
    const files = await readdir(join(resolve(archiveDir), 'sessions'), { recursive: true });
    return { single: files.some((f) => f.endsWith('.json')), batch: files.some((f) => f.endsWith('.jsonl.gz')) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { single: false, batch: false };
    throw e;
  }
}

/** Run one named query over a local archive directory. */
export async function runLocalQuery(
  archiveDir: string,
  query: AuditQuery,
  params: Readonly<Record<string, unknown>>,
): Promise<QueryResult> {
  const sql = renderDuckDb(query, { database: DUCKDB_SCHEMA, table: DUCKDB_TABLE, params });
  let duckdb: typeof DuckDb;
  try {
    duckdb = await import('@duckdb/node-api');
  } catch (e) {
    throw new Error('embedgate audit query runs on DuckDB: install it next to embedgate (npm i @duckdb/node-api)', { cause: e });
  }
  const instance = await duckdb.DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    // Trino sorts NULLs last in ascending order; pin DuckDB to the same.
    await conn.run("SET default_null_order = 'nulls_last'");
    await conn.run(`CREATE SCHEMA "${DUCKDB_SCHEMA}"`);
    await conn.run(sessionsViewSql(archiveDir, await hasRecords(archiveDir)));
    const reader = await conn.runAndReadAll(sql);
    const columns = reader.columnNames();
    const rows = reader.getRowsJS().map((row) => Object.fromEntries(columns.map((c, i) => [c, jsonValue(row[i])])));
    return { columns, rows };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

function jsonValue(v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}
