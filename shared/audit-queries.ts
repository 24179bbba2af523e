/**
 * The named audit queries over the session archive, defined once as data.
 *
 * The `SessionArchive` construct turns each into an Athena named query (rendered with sample
 * values that are obvious to replace); the CLI (`embedgate audit query`) renders them with real
 * values and runs them on Athena, or on DuckDB over a local archive. Pure TypeScript: no AWS SDK,
 * no CDK.
 *
 * SQL dialect: Athena engine v3 (Trino) over the Glue table of schema v1 (see
 * `lib/private/glue-columns.ts` and docs/session-record.md). It sticks to what DuckDB also
 * understands (struct field access `a.b`, `count_if`, `starts_with`, `min`/`max` over strings,
 * `IS [NOT] NULL` on structs), and compares timestamps as ISO-8601 strings: every record's
 * `started_at` is written by `Date.prototype.toISOString()` (`YYYY-MM-DDTHH:mm:ss.sssZ`, UTC), so
 * a bound normalised to that exact form orders the same way as the instant. No dialect-specific
 * timestamp function (`from_iso8601_timestamp` in Trino, casts in DuckDB) is needed.
 *
 * Placeholders, filled by `renderAthena` in a single pass (a value is never re-scanned):
 *   {{database}}, {{table}}   quoted identifiers ("name")
 *   {{<param>}}               a quoted string literal of the parameter's normalised value
 *   {{<param>.dt}}            timestamp parameters only: its UTC date, the `dt` partition value
 *   {{<param>.hr}}            timestamp parameters only: its UTC hour, the `hr` partition value
 *                             (for an `exclusive` bound, those of the last millisecond before it)
 *
 * Time windows are half-open: `since` is inclusive, `until` exclusive. A date alone means its
 * midnight UTC, so since=2026-01-01, until=2026-02-01 is the whole of January.
 *
 * Every query filters on the partition columns `dt` and `hr` (the WHERE fragment of
 * `PERIOD_FILTER`), so partition projection only lists the prefixes inside the window.
 *
 * Masking findings are not part of schema v1; a later schema version adds them. No query here
 * reads a column that schema v1 does not have: add masking queries together with those columns.
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
  /** A sample value, used for the Athena named query saved in the workgroup. */
  readonly example: string;
  /**
   * Timestamps only: the value is an exclusive upper bound, so its `.dt` / `.hr` name the
   * partition of the last millisecond before it (until=2026-02-01 ends with 2026-01-31, hour 23).
   */
  readonly exclusive?: boolean;
}

export interface AuditQuery {
  /** Stable kebab-case id. */
  readonly name: string;
  /** One line, for lists and the Athena console. */
  readonly title: string;
  readonly description: string;
  readonly params: readonly AuditQueryParam[];
  /**
   * Every column the SQL reads, as Glue column paths (`principal.subject`, `dt`). Kept next to
   * the SQL so a test can check both against the Glue table of schema v1.
   */
  readonly columns: readonly string[];
  /** Athena (Trino) SQL with `{{...}}` placeholders. */
  readonly sql: string;
}

const SINCE: AuditQueryParam = {
  name: 'since',
  kind: AuditParamKind.TIMESTAMP,
  description: 'Start of the period, inclusive (UTC date or ISO-8601 instant).',
  example: '2026-01-01',
};

const UNTIL: AuditQueryParam = {
  name: 'until',
  kind: AuditParamKind.TIMESTAMP,
  description: 'End of the period, exclusive (UTC date or ISO-8601 instant).',
  example: '2026-02-01',
  exclusive: true,
};

/**
 * The period filter every query uses. `dt`/`hr` bound the partitions that projection enumerates
 * (hours before `since` on its first day and after the end on its last day are pruned too);
 * `started_at` makes the window exact.
 */
const PERIOD_FILTER = `dt >= {{since.dt}} AND dt <= {{until.dt}}
  AND (dt > {{since.dt}} OR hr >= {{since.hr}})
  AND (dt < {{until.dt}} OR hr <= {{until.hr}})
  AND started_at >= {{since}} AND started_at < {{until}}`;

const PERIOD_COLUMNS = ['dt', 'hr', 'started_at'] as const;

export const AUDIT_QUERIES: readonly AuditQuery[] = [
  {
    name: 'calls-by-principal-and-model',
    title: 'Who called which model, per day',
    description:
      'Requests that named a model, per UTC day, principal (issuer, subject, client id) and model, '
      + 'with how many were allowed, denied, invalid or failed. Unauthenticated requests appear '
      + 'with an empty principal.',
    params: [SINCE, UNTIL],
    columns: [...PERIOD_COLUMNS, 'principal.issuer', 'principal.subject', 'principal.client_id', 'model.name', 'decision.outcome'],
    sql: `SELECT dt AS day,
  principal.issuer AS issuer,
  principal.subject AS subject,
  principal.client_id AS client_id,
  model.name AS model,
  count(*) AS requests,
  count_if(decision.outcome = 'allow') AS allowed,
  count_if(decision.outcome = 'deny') AS denied,
  count_if(decision.outcome = 'invalid') AS invalid,
  count_if(decision.outcome = 'error') AS failed
FROM {{database}}.{{table}}
WHERE ${PERIOD_FILTER}
  AND model.name IS NOT NULL
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5`,
  },
  {
    name: 'denied-by-principal-and-reason',
    title: 'Denied attempts, by principal and reason',
    description:
      'Requests refused with 401 or 403, per principal, reason code, deciding rule and status, '
      + 'with the first and last attempt and how many source addresses they came from. Requests '
      + 'without a verifiable token have an empty principal; their reason says why.',
    params: [SINCE, UNTIL],
    columns: [
      ...PERIOD_COLUMNS, 'principal.issuer', 'principal.subject', 'principal.client_id',
      'decision.outcome', 'decision.reason', 'decision.rule_id', 'decision.status', 'request.source_ip',
    ],
    sql: `SELECT principal.issuer AS issuer,
  principal.subject AS subject,
  principal.client_id AS client_id,
  decision.reason AS reason,
  decision.rule_id AS rule_id,
  decision.status AS status,
  count(*) AS attempts,
  count(DISTINCT request.source_ip) AS source_ips,
  min(started_at) AS first_attempt,
  max(started_at) AS last_attempt
FROM {{database}}.{{table}}
WHERE ${PERIOD_FILTER}
  AND decision.outcome = 'deny'
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY attempts DESC, 1, 2, 3, 4`,
  },
  {
    name: 'sessions-of-principal',
    title: 'Every session of one principal',
    description:
      'Every record of one principal in the period, oldest first: route, model, decision, '
      + 'input counts, upstream status, usage and the output fingerprint. The issuer may be given '
      + 'as its URL or as its configured id.',
    params: [
      SINCE,
      UNTIL,
      { name: 'issuer', kind: AuditParamKind.STRING, description: 'Issuer URL or configured issuer id.', example: 'https://idp.example.com' },
      { name: 'subject', kind: AuditParamKind.STRING, description: 'The principal\'s subject (`sub` claim).', example: 'batch-indexer' },
    ],
    columns: [
      ...PERIOD_COLUMNS, 'session_id', 'ended_at', 'request.method', 'request.path', 'request.request_id',
      'request.source_ip', 'principal.issuer', 'principal.issuer_id', 'principal.subject', 'principal.client_id',
      'principal.token_id', 'model.name', 'model.provider', 'model.upstream_model', 'decision.outcome',
      'decision.status', 'decision.reason', 'decision.rule_id', 'decision.policy_version', 'input.kind',
      'input.items', 'input.characters', 'input.dimensions', 'upstream.status', 'usage.total_tokens',
      'output.vectors', 'output.dimensions', 'output.fingerprint', 'timings.total_ms',
    ],
    sql: `SELECT session_id,
  started_at,
  ended_at,
  request.method AS method,
  request.path AS path,
  request.request_id AS request_id,
  request.source_ip AS source_ip,
  principal.client_id AS client_id,
  principal.token_id AS token_id,
  model.name AS model,
  model.provider AS provider,
  model.upstream_model AS upstream_model,
  decision.outcome AS outcome,
  decision.status AS status,
  decision.reason AS reason,
  decision.rule_id AS rule_id,
  decision.policy_version AS policy_version,
  input.kind AS input_kind,
  input.items AS input_items,
  input.characters AS input_characters,
  input.dimensions AS requested_dimensions,
  upstream.status AS upstream_status,
  usage.total_tokens AS total_tokens,
  output.vectors AS vectors,
  output.dimensions AS vector_dimensions,
  output.fingerprint AS fingerprint,
  timings.total_ms AS total_ms
FROM {{database}}.{{table}}
WHERE ${PERIOD_FILTER}
  AND principal.subject = {{subject}}
  AND (principal.issuer = {{issuer}} OR principal.issuer_id = {{issuer}})
ORDER BY started_at, session_id`,
  },
  {
    name: 'upstream-errors-by-model',
    title: 'Upstream errors, by model and reason',
    description:
      'Requests that failed because of the upstream provider (reason codes `upstream_*`: 5xx, '
      + 'timeouts, network errors, rate limits, refused keys, invalid answers), per model, reason '
      + 'and upstream status, with attempts and latency. For operators.',
    params: [SINCE, UNTIL],
    columns: [
      ...PERIOD_COLUMNS, 'model.name', 'model.provider', 'model.upstream_model', 'decision.reason',
      'decision.status', 'upstream.status', 'upstream.attempts', 'upstream.latency_ms',
    ],
    sql: `SELECT model.name AS model,
  model.provider AS provider,
  model.upstream_model AS upstream_model,
  decision.reason AS reason,
  decision.status AS status,
  upstream.status AS upstream_status,
  count(*) AS failures,
  max(upstream.attempts) AS max_attempts,
  avg(upstream.latency_ms) AS avg_latency_ms,
  max(upstream.latency_ms) AS max_latency_ms,
  min(started_at) AS first_failure,
  max(started_at) AS last_failure
FROM {{database}}.{{table}}
WHERE ${PERIOD_FILTER}
  AND starts_with(decision.reason, 'upstream_')
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY failures DESC, 1, 4`,
  },
];

/** The query with this name; throws, listing the names, if there is none. */
export function auditQuery(name: string): AuditQuery {
  const q = AUDIT_QUERIES.find((x) => x.name === name);
  if (!q) throw new Error(`Unknown audit query "${name}". Known queries: ${AUDIT_QUERIES.map((x) => x.name).join(', ')}.`);
  return q;
}

export interface RenderOptions {
  /** Glue database name (rendered as a quoted identifier). */
  readonly database: string;
  /** Glue table name (rendered as a quoted identifier). */
  readonly table: string;
  /** One value per parameter of the query: strings (timestamps may also be given as `Date`). */
  readonly params: Readonly<Record<string, unknown>>;
}

/**
 * The query's SQL with every placeholder filled: identifiers double-quoted, parameter values
 * validated per kind and rendered as single-quoted string literals (`'` doubled). Throws on a
 * missing, unknown or non-string parameter, an invalid timestamp, or a value with control
 * characters.
 */
export function renderAthena(query: AuditQuery, options: RenderOptions): string {
  const values = parameterValues(query, options.params);
  const identifiers: Record<string, string> = {
    database: quoteIdentifier(options.database, 'database'),
    table: quoteIdentifier(options.table, 'table'),
  };
  const sql = query.sql.replace(/\{\{([a-z_]+)(?:\.(dt|hr))?\}\}/g, (whole, name: string, part: string | undefined) => {
    if (part === undefined && name in identifiers) return identifiers[name]!;
    const v = values.get(name);
    if (v === undefined) throw new Error(`Audit query "${query.name}" uses ${whole}, which is not one of its parameters.`);
    if (part === undefined) return quoteString(v.value);
    if (!v.instant) throw new Error(`Audit query "${query.name}" uses ${whole}, but "${name}" is not a timestamp parameter.`);
    return quoteString(part === 'dt' ? v.partition!.slice(0, 10) : v.partition!.slice(11, 13));
  });
  // A malformed placeholder in the SQL itself (values are never re-scanned, and may contain `{{`).
  const stray = /\{\{[^}]*\}\}/.exec(query.sql.replace(/\{\{([a-z_]+)(?:\.(dt|hr))?\}\}/g, ''));
  if (stray) throw new Error(`Audit query "${query.name}" has a malformed placeholder ${stray[0]}.`);
  return sql;
}

/** The query's sample values (its parameters' `example`s), for a saved query or a demo. */
export function exampleParams(query: AuditQuery): Record<string, string> {
  return Object.fromEntries(query.params.map((p) => [p.name, p.example]));
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
      `Audit query "${query.name}" has no parameter ${unknown.map((k) => `"${k}"`).join(', ')}; `
      + `its parameters are: ${[...declared].join(', ')}.`,
    );
  }
  const out = new Map<string, ParamValue>();
  for (const p of query.params) {
    let raw = Object.prototype.hasOwnProperty.call(params, p.name) ? params[p.name] : undefined;
    if (raw instanceof Date && p.kind === AuditParamKind.TIMESTAMP) {
      if (Number.isNaN(raw.getTime())) throw new Error(`Audit query "${query.name}": parameter "${p.name}" is an invalid Date.`);
      raw = raw.toISOString();
    }
    if (raw === undefined) {
      throw new Error(`Audit query "${query.name}" needs the parameter "${p.name}" (${p.description}), e.g. "${p.example}".`);
    }
    if (typeof raw !== 'string') {
      const accepted = p.kind === AuditParamKind.TIMESTAMP ? 'a string or a Date' : 'a string';
      throw new Error(
        `Audit query "${query.name}": parameter "${p.name}" must be ${accepted}, got ${describe(raw)}. `
        + `Pass it as text, e.g. "${p.example}".`,
      );
    }
    if (raw.length === 0 || raw.length > MAX_VALUE_LENGTH) {
      throw new Error(`Audit query "${query.name}": parameter "${p.name}" must be 1 to ${MAX_VALUE_LENGTH} characters long, got ${raw.length}.`);
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(raw)) {
      throw new Error(`Audit query "${query.name}": parameter "${p.name}" must not contain control characters (newlines, tabs, NUL).`);
    }
    if (p.kind === AuditParamKind.TIMESTAMP) {
      const instant = normaliseInstant(raw);
      if (instant === undefined) {
        throw new Error(
          `Audit query "${query.name}": parameter "${p.name}" must be a UTC date (YYYY-MM-DD) or an ISO-8601 instant `
          + `(YYYY-MM-DDTHH:MM[:SS[.sss]] with Z or an offset), got "${raw}".`,
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

/** `YYYY-MM-DDTHH:mm:ss.sssZ` for a valid date or instant; undefined otherwise (no roll-over: 02-30 is rejected). */
function normaliseInstant(text: string): string | undefined {
  const m = DATE_ONLY.exec(text) ?? DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour = '00', minute = '00', second = '00'] = m.slice(1, 7).map((x) => x ?? '00');
  const fields = [Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second)];
  const [y, mo, d, h, mi, s] = fields as [number, number, number, number, number, number];
  const probe = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  if (probe.getUTCFullYear() !== y || probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d
    || probe.getUTCHours() !== h || probe.getUTCMinutes() !== mi || probe.getUTCSeconds() !== s) {
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
