/**
 * Where `embedgate audit replay` reads session records from. One function, `readRecords`, is the
 * only way in: a new layout is a new `RecordSource` kind handled here, and nothing else changes.
 *
 * - `local`: an archive directory (both object layouts and the local journal; cli/archive-reader.ts).
 * - `athena`: the archive's Glue table through Athena: `REPLAY_RECORDS_QUERY` in the workgroup,
 *   every top-level column as JSON text, turned back into records by `recordFromJsonRow`. Athena
 *   needs a period (its partitions): `since` and `until` are required for it.
 */
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { SessionRecord } from '../lambda/core/record';
import { REPLAY_RECORDS_QUERY } from '../shared/audit-queries';
import { SESSION_COLUMNS, type GlueType } from '../shared/glue-columns';
import { readLocalArchive } from './archive-reader';
import { runAthenaQuery } from './audit-athena';

export type RecordSource =
  | { readonly kind: 'local'; readonly dir: string }
  | {
      readonly kind: 'athena';
      readonly client: AthenaClient;
      readonly database: string;
      readonly table: string;
      readonly workGroup: string;
      readonly signal?: AbortSignal;
      /** First wait between polls, ms (tests). */
      readonly pollMs?: number;
    };

/** A period `[since, until)` in epoch ms; either end open (Athena: both required). */
export interface Period {
  readonly since?: number;
  readonly until?: number;
}

/** Every session record of the source that started within the period, oldest first. */
export async function readRecords(source: RecordSource, period: Period = {}): Promise<SessionRecord[]> {
  if (source.kind === 'athena') return readAthena(source, period);
  const records = await readLocalArchive(source.dir);
  return records.filter((r) => {
    const t = Date.parse(r.started_at);
    return (period.since === undefined || t >= period.since) && (period.until === undefined || t < period.until);
  });
}

async function readAthena(source: Extract<RecordSource, { kind: 'athena' }>, period: Period): Promise<SessionRecord[]> {
  if (period.since === undefined || period.until === undefined)
    throw new Error('reading records through Athena needs a period: give --since and --until (Athena reads the partitions within it)');
  const result = await runAthenaQuery(source.client, REPLAY_RECORDS_QUERY, {
    database: source.database,
    table: source.table,
    workGroup: source.workGroup,
    params: { since: new Date(period.since).toISOString(), until: new Date(period.until).toISOString() },
    ...(source.signal ? { signal: source.signal } : {}),
    ...(source.pollMs !== undefined ? { pollMs: source.pollMs } : {}),
  });
  return result.rows.map((row) => recordFromJsonRow(row));
}

/**
 * A record from a row of `REPLAY_RECORDS_QUERY`: each top-level column is JSON text (or NULL).
 * Structs come back as objects (Trino with named fields, DuckDB's `to_json`) or, from an engine
 * that casts a row to a JSON array (older Presto), as arrays in the Glue field order: both are
 * read by the Glue schema. A field an older record does not have reads as null. The record's seal
 * (`record_sha256`) is carried over as read; it was made over the record as written, so it only
 * checks against a record read from its archive object (`embedgate audit verify`), not this one.
 */
export function recordFromJsonRow(row: Readonly<Record<string, string | number | boolean | null>>): SessionRecord {
  const out: Record<string, unknown> = {};
  for (const c of SESSION_COLUMNS) {
    const cell = row[c.name];
    if (cell === undefined) throw new Error(`the Athena answer has no column "${c.name}" (is the table the session archive's?)`);
    let value: unknown = null;
    if (cell !== null) {
      try {
        value = JSON.parse(String(cell));
      } catch (e) {
        throw new Error(`column "${c.name}" of session ${String(row.session_id ?? '?')} is not JSON: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
    out[c.name] = byType(value, c.type);
  }
  if (typeof out.session_id !== 'string' || typeof out.started_at !== 'string')
    throw new Error('a row without session_id or started_at is not a session record');
  return out as unknown as SessionRecord;
}

function byType(v: unknown, type: GlueType): unknown {
  if (v === null || v === undefined || typeof type === 'string') return v ?? null;
  if ('array' in type) return Array.isArray(v) ? v.map((x) => byType(x, type.array)) : v;
  const fields = type.struct;
  if (Array.isArray(v)) return Object.fromEntries(fields.map((f, i) => [f.name, byType(v[i], f.type)]));
  if (typeof v === 'object') return Object.fromEntries(fields.map((f) => [f.name, byType((v as Record<string, unknown>)[f.name], f.type)]));
  return v;
}
