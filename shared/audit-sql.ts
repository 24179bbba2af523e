/**
 * What an audit query is (parameters, the columns it reads, SQL with placeholders), the SQL
 * dialects, and the renderer that fills the placeholders. The queries themselves are in
 * shared/audit-queries.ts, which re-exports this module. Pure TypeScript: no AWS SDK, no CDK.
 *
 * Placeholders, filled by `renderSql` in a single pass (a value is never re-scanned):
 *   {{database}}, {{table}}   quoted identifiers ("name")
 *   {{<param>}}               a quoted string literal of the parameter's normalised value, or
 *                             `CAST(NULL AS VARCHAR)` for an optional parameter not given
 *   {{<param>.dt}}            timestamp parameters only: its UTC date, the `dt` partition value
 *   {{<param>.hr}}            timestamp parameters only: its UTC hour, the `hr` partition value
 *                             (for an `exclusive` bound, those of the last millisecond before it)
 *   {{fn:<name>}}             the dialect's name of a function (see `DIALECTS`)
 *   {{json:<column>}}         the column (quoted) as JSON text, as the dialect spells it
 *
 * Time windows are half-open: `since` is inclusive, `until` exclusive. A date alone means its
 * midnight UTC, so since=2026-01-01, until=2026-02-01 is the whole of January.
 */

/** What kind of value a parameter takes. Values are always strings. */
export enum AuditParamKind {
  /** An instant: `YYYY-MM-DD` (midnight UTC) or ISO-8601 with a time and `Z` or an offset. */
  TIMESTAMP = 'timestamp',
  /** Free text, matched exactly (quoted and escaped as a SQL string literal). */
  STRING = 'string',
}

export interface AuditQueryParam {
  /** Lower-case identifier, used as `{{name}}` in the SQL and as `--name` by the CLI. */
  readonly name: string;
  readonly kind: AuditParamKind;
  readonly description: string;
  /** A sample value, used for the Athena named query saved in the workgroup (required parameters). */
  readonly example: string;
  /**
   * Timestamps only: the value is an exclusive upper bound, so its `.dt` / `.hr` name the
   * partition of the last millisecond before it (until=2026-02-01 ends with 2026-01-31, hour 23).
   */
  readonly exclusive?: boolean;
  /**
   * The parameter may be left out; it then renders as `CAST(NULL AS VARCHAR)`, and the SQL
   * treats NULL as "any" (`{{p}} IS NULL OR column = {{p}}`).
   */
  readonly optional?: boolean;
}

/** The Glue type of `masking.findings` (schema v1). */
export const FINDINGS_TYPE =
  'array<struct<item:bigint,type:string,detector:string,strategy:string,count:bigint,offsets:array<array<bigint>>,pseudonyms:array<string>>>';

/** The Glue type a query expects of a column it reads (see `shared/glue-columns.ts`). */
export type AuditColumnType =
  'string' | 'bigint' | 'double' | 'boolean' | 'array<string>' | 'array<struct<type:string,count:bigint>>' | typeof FINDINGS_TYPE;

export interface AuditQuery {
  /** Stable kebab-case id. */
  readonly name: string;
  /** One line, for lists and the Athena console. */
  readonly title: string;
  readonly description: string;
  readonly params: readonly AuditQueryParam[];
  /**
   * Every column the SQL reads, as Glue column paths (`principal.subject`, `dt`), with the type
   * the SQL expects of it. Kept next to the SQL so a test can check both against the Glue table.
   */
  readonly columns: Readonly<Record<string, AuditColumnType>>;
  /** SQL with `{{...}}` placeholders (see the top of this file and of shared/audit-queries.ts). */
  readonly sql: string;
}

/** The SQL engines the queries are rendered for. */
export enum SqlDialect {
  /** Amazon Athena engine v3 (Trino), over the Glue table. */
  ATHENA = 'athena',
  /** DuckDB, over a local archive directory (`embedgate audit query`). */
  DUCKDB = 'duckdb',
}

/** How one dialect spells what the engines spell differently. */
export interface DialectSpelling {
  /** Function names, by the name used in `{{fn:<name>}}`. */
  readonly functions: Readonly<Record<string, string>>;
  /** An expression as JSON text (`{{json:<column>}}`): NULL stays NULL, a struct becomes an object (Trino: see `recordFromJsonRow`). */
  readonly json: (expression: string) => string;
}

/** Every dialect difference the queries depend on, in one place. */
export const DIALECTS: Readonly<Record<SqlDialect, DialectSpelling>> = {
  [SqlDialect.ATHENA]: {
    functions: {
      // array(varchar), separator -> varchar
      array_join: 'array_join',
      // array(T), T -> boolean
      array_contains: 'contains',
      // varchar, pattern -> boolean: true when the pattern matches anywhere in the text
      regexp_like: 'regexp_like',
    },
    json: (e) => `json_format(CAST(${e} AS JSON))`,
  },
  [SqlDialect.DUCKDB]: {
    functions: {
      array_join: 'array_to_string',
      array_contains: 'list_contains',
      regexp_like: 'regexp_matches',
    },
    json: (e) => `CAST(to_json(${e}) AS VARCHAR)`,
  },
};

export interface RenderOptions {
  /** Glue database name (rendered as a quoted identifier); the DuckDB runner's schema. */
  readonly database: string;
  /** Glue table name (rendered as a quoted identifier); the DuckDB runner's view. */
  readonly table: string;
  /** One value per parameter of the query: strings (timestamps may also be given as `Date`). */
  readonly params: Readonly<Record<string, unknown>>;
}

const PLACEHOLDER = /\{\{(?:fn:([a-z_]+)|json:([a-z][a-z0-9_]*)|([a-z_]+)(?:\.(dt|hr))?)\}\}/g;

/**
 * The query's SQL in `dialect` with every placeholder filled: identifiers double-quoted,
 * parameter values validated per kind and rendered as single-quoted string literals (`'`
 * doubled), optional parameters not given as `CAST(NULL AS VARCHAR)`, functions spelled as the
 * dialect spells them. Throws on a missing, unknown or non-string parameter, an invalid
 * timestamp, a value with control characters, or a function the dialect has no spelling for.
 */
export function renderSql(query: AuditQuery, dialect: SqlDialect, options: RenderOptions): string {
  const values = parameterValues(query, options.params);
  const spelling = DIALECTS[dialect];
  const identifiers: Record<string, string> = {
    database: quoteIdentifier(options.database, 'database'),
    table: quoteIdentifier(options.table, 'table'),
  };
  const declared = new Set(query.params.map((p) => p.name));
  const sql = query.sql.replace(
    PLACEHOLDER,
    (whole, fn: string | undefined, json: string | undefined, name: string, part: string | undefined) => {
      if (json !== undefined) return spelling.json(quoteIdentifier(json, 'column'));
      if (fn !== undefined) {
        const spelled = spelling.functions[fn];
        if (spelled === undefined)
          throw new Error(`Audit query "${query.name}" uses ${whole}, which the ${dialect} dialect does not spell.`);
        return spelled;
      }
      if (part === undefined && name in identifiers) return identifiers[name]!;
      if (!declared.has(name)) throw new Error(`Audit query "${query.name}" uses ${whole}, which is not one of its parameters.`);
      const v = values.get(name);
      if (v === undefined) {
        if (part !== undefined) throw new Error(`Audit query "${query.name}" uses ${whole} of an optional parameter.`);
        return 'CAST(NULL AS VARCHAR)';
      }
      if (part === undefined) return quoteString(v.value);
      if (!v.instant) throw new Error(`Audit query "${query.name}" uses ${whole}, but "${name}" is not a timestamp parameter.`);
      return quoteString(part === 'dt' ? v.partition!.slice(0, 10) : v.partition!.slice(11, 13));
    },
  );
  // A malformed placeholder in the SQL itself (values are never re-scanned, and may contain `{{`).
  const stray = /\{\{[^}]*\}\}/.exec(query.sql.replace(PLACEHOLDER, ''));
  if (stray) throw new Error(`Audit query "${query.name}" has a malformed placeholder ${stray[0]}.`);
  return sql;
}

/** The query's Athena (Trino) SQL: `renderSql` in the Athena dialect. */
export function renderAthena(query: AuditQuery, options: RenderOptions): string {
  return renderSql(query, SqlDialect.ATHENA, options);
}

/** The query's DuckDB SQL: `renderSql` in the DuckDB dialect. */
export function renderDuckDb(query: AuditQuery, options: RenderOptions): string {
  return renderSql(query, SqlDialect.DUCKDB, options);
}

/** The query's sample values (its required parameters' `example`s), for a saved query or a demo. */
export function exampleParams(query: AuditQuery): Record<string, string> {
  return Object.fromEntries(query.params.filter((p) => !p.optional).map((p) => [p.name, p.example]));
}

interface ParamValue {
  /** The literal value: the normalised instant for timestamps, the text for strings. */
  readonly value: string;
  /** `YYYY-MM-DDTHH:mm:ss.sssZ`, for timestamp parameters. */
  readonly instant?: string;
  /** The instant whose `dt` / `hr` partition the placeholders name (1 ms earlier for an exclusive bound). */
  readonly partition?: string;
}

const MAX_VALUE_LENGTH = 1024;

function parameterValues(query: AuditQuery, params: Readonly<Record<string, unknown>>): Map<string, ParamValue> {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new Error(`Audit query "${query.name}": params must be an object of strings.`);
  }
  const declared = new Set(query.params.map((p) => p.name));
  const unknown = Object.keys(params).filter((k) => !declared.has(k));
  if (unknown.length > 0) {
    throw new Error(
      `Audit query "${query.name}" has no parameter ${unknown.map((k) => `"${k}"`).join(', ')}; ` +
        `its parameters are: ${[...declared].join(', ')}.`,
    );
  }
  const out = new Map<string, ParamValue>();
  for (const p of query.params) {
    let raw = Object.prototype.hasOwnProperty.call(params, p.name) ? params[p.name] : undefined;
    if (raw instanceof Date && p.kind === AuditParamKind.TIMESTAMP) {
      if (Number.isNaN(raw.getTime())) throw new Error(`Audit query "${query.name}": parameter "${p.name}" is an invalid Date.`);
      raw = raw.toISOString();
    }
    if (raw === undefined && p.optional) continue;
    if (raw === undefined) {
      throw new Error(`Audit query "${query.name}" needs the parameter "${p.name}" (${p.description}), e.g. "${p.example}".`);
    }
    if (typeof raw !== 'string') {
      const accepted = p.kind === AuditParamKind.TIMESTAMP ? 'a string or a Date' : 'a string';
      throw new Error(
        `Audit query "${query.name}": parameter "${p.name}" must be ${accepted}, got ${describe(raw)}. ` +
          `Pass it as text, e.g. "${p.example}".`,
      );
    }
    if (raw.length === 0 || raw.length > MAX_VALUE_LENGTH) {
      throw new Error(
        `Audit query "${query.name}": parameter "${p.name}" must be 1 to ${MAX_VALUE_LENGTH} characters long, got ${raw.length}.`,
      );
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(raw)) {
      throw new Error(`Audit query "${query.name}": parameter "${p.name}" must not contain control characters (newlines, tabs, NUL).`);
    }
    if (p.kind === AuditParamKind.TIMESTAMP) {
      const instant = normaliseInstant(raw);
      if (instant === undefined) {
        throw new Error(
          `Audit query "${query.name}": parameter "${p.name}" must be a UTC date (YYYY-MM-DD) or an ISO-8601 instant ` +
            `(YYYY-MM-DDTHH:MM[:SS[.sss]] with Z or an offset), got "${raw}".`,
        );
      }
      const partition = p.exclusive ? new Date(Date.parse(instant) - 1).toISOString() : instant;
      out.set(p.name, { value: instant, instant, partition });
    } else {
      out.set(p.name, { value: raw });
    }
  }
  const since = out.get('since')?.instant;
  const until = out.get('until')?.instant;
  if (since !== undefined && until !== undefined && since >= until) {
    throw new Error(`Audit query "${query.name}": "since" (${since}) must be before "until" (${until}); the period is [since, until).`);
  }
  return out;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The instant (epoch ms) of a UTC date (`YYYY-MM-DD`, its midnight) or an ISO-8601 instant with
 * `Z` or an offset, as query parameters take them; undefined for anything else.
 */
export function parseInstant(text: string): number | undefined {
  const iso = normaliseInstant(text);
  return iso === undefined ? undefined : Date.parse(iso);
}

/** `YYYY-MM-DDTHH:mm:ss.sssZ` for a valid date or instant; undefined otherwise (no roll-over: 02-30 is rejected). */
function normaliseInstant(text: string): string | undefined {
  const m = DATE_ONLY.exec(text) ?? DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour = '00', minute = '00', second = '00'] = m.slice(1, 7).map((x) => x ?? '00');
  const fields = [Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second)];
  const [y, mo, d, h, mi, s] = fields as [number, number, number, number, number, number];
  const probe = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (
    probe.getUTCFullYear() !== y ||
    probe.getUTCMonth() !== mo - 1 ||
    probe.getUTCDate() !== d ||
    probe.getUTCHours() !== h ||
    probe.getUTCMinutes() !== mi ||
    probe.getUTCSeconds() !== s
  ) {
    return undefined;
  }
  const offset = m[8];
  if (offset !== undefined && offset !== 'Z') {
    const oh = Number(offset.slice(1, 3));
    const om = Number(offset.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
  }
  // Fractions beyond milliseconds are truncated: records carry milliseconds.
  const fraction = (m[7] ?? '').slice(0, 4);
  const iso = m[4] === undefined ? `${text}T00:00:00Z` : `${text.slice(0, 16)}:${second}${fraction}${offset}`;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return undefined;
  const out = new Date(t).toISOString();
  // Only four-digit years keep ISO strings in the same order as instants.
  return /^\d{4}-/.test(out) ? out : undefined;
}

/** A SQL string literal: single quotes doubled. The value has been checked for control characters. */
function quoteString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A double-quoted SQL identifier (`"` doubled); throws on an empty name or control characters. */
function quoteIdentifier(name: unknown, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new Error(`The ${what} name must be a string of 1 to 255 characters without control characters, got ${describe(name)}.`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return 'a Date';
  if (typeof v === 'string') return `"${v.length > 40 ? v.slice(0, 40) + '...' : v}"`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}
