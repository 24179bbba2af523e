/**
 * The Glue columns of the session archive table: session record schema v1
 * (`lambda/core/record.ts`, docs/session-record.md), field for field.
 *
 * Pure data (no CDK import): the Glue table (lib/private/archive-table.ts) and the DuckDB view of
 * `embedgate audit query` (cli/audit-duckdb.ts) are both built from it, and the audit-query tests
 * check queries against it.
 * Type choices:
 * - nested objects are `struct<...>`, string lists `array<string>`;
 * - counts, sizes and HTTP statuses are `bigint` (JSON integers);
 * - durations in milliseconds (`upstream.latency_ms`, `timings.*`) are `double`: the gateway
 *   records fractions of a millisecond;
 * - instants (`started_at`, `token_expires_at`, ...) stay `string`: ISO-8601 UTC as written,
 *   which sorts like the instant and is what the audit queries compare against.
 * A field that is `null` in a record (e.g. `principal` without a verified token) reads as NULL.
 */

/** A Hive/Glue type. */
export type GlueType =
  'string' | 'bigint' | 'double' | 'boolean' | { readonly array: GlueType } | { readonly struct: readonly GlueField[] };

export interface GlueField {
  readonly name: string;
  readonly type: GlueType;
  readonly comment?: string;
}

const struct = (...fields: GlueField[]): GlueType => ({ struct: fields });
const f = (name: string, type: GlueType, comment?: string): GlueField => (comment ? { name, type, comment } : { name, type });
const STRINGS: GlueType = { array: 'string' };

/** Top-level columns, in record order. */
export const SESSION_COLUMNS: readonly GlueField[] = [
  f('schema', 'string', 'embedgate.session.v1'),
  f('session_id', 'string', 'UUIDv7, also the object name'),
  f('started_at', 'string', 'ISO-8601 UTC, request received'),
  f('ended_at', 'string', 'ISO-8601 UTC, record built'),
  f(
    'request',
    struct(f('method', 'string'), f('path', 'string'), f('request_id', 'string'), f('source_ip', 'string'), f('user_agent', 'string')),
  ),
  f(
    'principal',
    struct(
      f('issuer', 'string'),
      f('issuer_id', 'string'),
      f('subject', 'string'),
      f('client_id', 'string'),
      f('groups', STRINGS),
      f('scopes', STRINGS),
      f('token_id', 'string'),
      f('token_expires_at', 'string'),
    ),
    'NULL when no token was verified',
  ),
  f('model', struct(f('name', 'string'), f('provider', 'string'), f('upstream_model', 'string')), 'NULL when the request named no model'),
  f(
    'decision',
    struct(f('outcome', 'string'), f('status', 'bigint'), f('reason', 'string'), f('rule_id', 'string'), f('policy_version', 'string')),
  ),
  f(
    'input',
    struct(
      f('kind', 'string'),
      f('items', 'bigint'),
      f('characters', 'bigint'),
      f('encoding_format', 'string'),
      f('dimensions', 'bigint'),
      f('request_bytes', 'bigint'),
      f('text', STRINGS, 'text items as they left for the model (masked), a prefix within the budget'),
      f('kept', 'string', 'all, partial, omitted or none; NULL in records written before input was kept'),
      f('tokens', { array: { array: 'bigint' } }, 'token-id items as they left for the model, a prefix'),
      f(
        'cut',
        { array: struct(f('item', 'bigint'), f('items', 'bigint'), f('sha256', 'string'), f('bytes', 'bigint')) },
        'items past the budget: sha256 and bytes per item (or run of items)',
      ),
    ),
  ),
  f(
    'masking',
    struct(
      f('scanned', 'boolean'),
      f('findings', {
        array: struct(
          f('item', 'bigint'),
          f('type', 'string'),
          f('detector', 'string'),
          f('strategy', 'string'),
          f('count', 'bigint'),
          f('offsets', { array: { array: 'bigint' } }),
          f('pseudonyms', STRINGS),
        ),
      }),
      f('counts', { array: struct(f('type', 'string'), f('count', 'bigint')) }),
      f('blocked', STRINGS),
      f('external', struct(f('detector', 'string'), f('status', 'string'))),
    ),
    'NULL when masking is off',
  ),
  f(
    'upstream',
    struct(f('status', 'bigint'), f('latency_ms', 'double'), f('attempts', 'bigint'), f('batches', 'bigint')),
    'NULL when no upstream call was made',
  ),
  f('usage', struct(f('prompt_tokens', 'bigint'), f('total_tokens', 'bigint'))),
  f(
    'output',
    struct(f('vectors', 'bigint'), f('dimensions', 'bigint'), f('fingerprint', 'string'), f('encoding_format', 'string')),
    'never the vectors: their sha256 fingerprint',
  ),
  f('timings', struct(f('total_ms', 'double'), f('auth_ms', 'double'), f('upstream_ms', 'double'))),
  f(
    'approval',
    struct(
      f('id', 'string'),
      f('step', 'string'),
      f('status', 'string'),
      f('rule_id', 'string'),
      f('payload_sha256', 'string'),
      f('triggers', STRINGS),
      f('decision', 'string'),
      f('reviewer', struct(f('issuer', 'string'), f('subject', 'string'))),
      f('via_grant', 'boolean'),
    ),
    'NULL unless the request touched an approval; records of one approval share approval.id',
  ),
  f('record_sha256', 'string', 'sha256 of the canonical JSON of the record without this field'),
];

/** Partition keys: the `dt=YYYY-MM-DD/hr=HH/` of the object key (UTC of `started_at`). */
export const PARTITION_KEYS: readonly GlueField[] = [
  f('dt', 'string', 'UTC date of started_at, YYYY-MM-DD'),
  f('hr', 'string', 'UTC hour of started_at, 00-23'),
];

/** The Hive type string Glue expects, e.g. `struct<name:string,groups:array<string>>` (no spaces). */
export function glueTypeString(type: GlueType): string {
  if (typeof type === 'string') return type;
  if ('array' in type) return `array<${glueTypeString(type.array)}>`;
  return `struct<${type.struct.map((x) => `${x.name}:${glueTypeString(x.type)}`).join(',')}>`;
}

/**
 * Every path a query can read: top-level columns, partition keys and struct fields at any depth
 * (`principal`, `principal.subject`, `dt`).
 */
export function columnPaths(): string[] {
  const out: string[] = [];
  const walk = (fields: readonly GlueField[], prefix: string) => {
    for (const x of fields) {
      const path = prefix + x.name;
      out.push(path);
      if (typeof x.type === 'object' && 'struct' in x.type) walk(x.type.struct, `${path}.`);
    }
  };
  walk([...SESSION_COLUMNS, ...PARTITION_KEYS], '');
  return out;
}
