/**
 * The named audit queries over the session archive, defined once as data, and their renderers.
 *
 * The `SessionArchive` construct turns each into an Athena named query (rendered with sample
 * values that are obvious to replace); the CLI (`embedgate audit query`) renders them with real
 * values and runs them on DuckDB over a local archive (or prints the Athena SQL). Pure
 * TypeScript: no AWS SDK, no CDK.
 *
 * SQL: Athena engine v3 (Trino) over the Glue table of schema v1 (see
 * `lib/private/glue-columns.ts` and docs/session-record.md), written so that DuckDB runs it too.
 * What the two engines spell differently is named by a `{{fn:<name>}}` placeholder and spelled
 * per dialect in `DIALECTS`, the one place for dialect differences. The rest sticks to what both
 * understand (struct field access `a.b`, `count_if`, `starts_with`, `min`/`max` over strings,
 * `IS [NOT] NULL` on structs, `CAST(NULL AS VARCHAR)`), and compares timestamps as ISO-8601
 * strings: every record's `started_at` is written by `Date.prototype.toISOString()`
 * (`YYYY-MM-DDTHH:mm:ss.sssZ`, UTC), so a bound normalised to that exact form orders the same
 * way as the instant. No timestamp function (`from_iso8601_timestamp` in Trino, casts in DuckDB)
 * is needed. Both engines sort NULLs last in ascending order (the DuckDB runner pins it).
 *
 * Placeholders, filled by `renderSql` in a single pass (a value is never re-scanned):
 *   {{database}}, {{table}}   quoted identifiers ("name")
 *   {{<param>}}               a quoted string literal of the parameter's normalised value, or
 *                             `CAST(NULL AS VARCHAR)` for an optional parameter not given
 *   {{<param>.dt}}            timestamp parameters only: its UTC date, the `dt` partition value
 *   {{<param>.hr}}            timestamp parameters only: its UTC hour, the `hr` partition value
 *                             (for an `exclusive` bound, those of the last millisecond before it)
 *   {{fn:<name>}}             the dialect's name of a function (see `DIALECTS`)
 *
 * Time windows are half-open: `since` is inclusive, `until` exclusive. A date alone means its
 * midnight UTC, so since=2026-01-01, until=2026-02-01 is the whole of January.
 *
 * Every query filters on the partition columns `dt` and `hr` (the WHERE fragment of
 * `PERIOD_FILTER`), so partition projection only lists the prefixes inside the window.
 *
 * Not here yet, on purpose (no query reads a column that schema v1 does not have):
 * - masking findings by principal and entity type, and the sessions that carried a pseudonym
 *   (lineage for erasure requests): they need the masking columns the record gets with masking;
 * - the approval chain of a request: it needs the approval records and fields of just-in-time
 *   approvals. Add each query together with its columns.
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

/** The Glue type a query expects of a column it reads (see `lib/private/glue-columns.ts`). */
/** The Glue type of `masking.findings` (schema v1). */
const FINDINGS_TYPE =
  'array<struct<item:bigint,type:string,detector:string,strategy:string,count:bigint,offsets:array<array<bigint>>,pseudonyms:array<string>>>';

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
  /** SQL with `{{...}}` placeholders (see the top of this file). */
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
}

/** Every dialect difference the queries depend on, in one place. */
export const DIALECTS: Readonly<Record<SqlDialect, DialectSpelling>> = {
  [SqlDialect.ATHENA]: {
    functions: {
      // array(varchar), separator -> varchar
      array_join: 'array_join',
      // array(T), T -> boolean
      array_contains: 'contains',
    },
  },
  [SqlDialect.DUCKDB]: {
    functions: {
      array_join: 'array_to_string',
      array_contains: 'list_contains',
    },
  },
};

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

const PRINCIPAL: AuditQueryParam = {
  name: 'principal',
  kind: AuditParamKind.STRING,
  description: "The principal's subject (`sub` claim).",
  example: 'batch-indexer',
};
const ONLY_PRINCIPAL: AuditQueryParam = { ...PRINCIPAL, description: 'Only this principal (its subject, `sub` claim).', optional: true };
const ONLY_ISSUER: AuditQueryParam = {
  name: 'issuer',
  kind: AuditParamKind.STRING,
  description: 'Only principals of this issuer (its URL or configured id).',
  example: 'https://idp.example.com',
  optional: true,
};
const ONLY_MODEL: AuditQueryParam = {
  name: 'model',
  kind: AuditParamKind.STRING,
  description: 'Only requests for this model (as the client named it).',
  example: 'text-embedding-3-small',
  optional: true,
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

const PERIOD_COLUMNS = { dt: 'string', hr: 'string', started_at: 'string' } as const;

/** Optional filters: NULL (not given) matches every row. */
const FILTER = {
  principal: '({{principal}} IS NULL OR principal.subject = {{principal}})',
  issuer: '({{issuer}} IS NULL OR principal.issuer = {{issuer}} OR principal.issuer_id = {{issuer}})',
  model: '({{model}} IS NULL OR model.name = {{model}})',
};
const FILTER_COLUMNS = {
  principal: { 'principal.subject': 'string' },
  issuer: { 'principal.issuer': 'string', 'principal.issuer_id': 'string' },
  model: { 'model.name': 'string' },
} as const;

/** The columns of one session, as `sessions-of-principal` and `session-by-id` list them. */
const SESSION_SELECT = `SELECT session_id,
  started_at,
  ended_at,
  request.method AS method,
  request.path AS path,
  request.request_id AS request_id,
  request.source_ip AS source_ip,
  principal.issuer AS issuer,
  principal.subject AS subject,
  principal.client_id AS client_id,
  {{fn:array_join}}(principal.groups, ' ') AS groups,
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
  timings.total_ms AS total_ms,
  record_sha256`;

const SESSION_SELECT_COLUMNS = {
  ...PERIOD_COLUMNS,
  session_id: 'string',
  ended_at: 'string',
  'request.method': 'string',
  'request.path': 'string',
  'request.request_id': 'string',
  'request.source_ip': 'string',
  'principal.issuer': 'string',
  'principal.subject': 'string',
  'principal.client_id': 'string',
  'principal.groups': 'array<string>',
  'principal.token_id': 'string',
  'model.name': 'string',
  'model.provider': 'string',
  'model.upstream_model': 'string',
  'decision.outcome': 'string',
  'decision.status': 'bigint',
  'decision.reason': 'string',
  'decision.rule_id': 'string',
  'decision.policy_version': 'string',
  'input.kind': 'string',
  'input.items': 'bigint',
  'input.characters': 'bigint',
  'input.dimensions': 'bigint',
  'upstream.status': 'bigint',
  'usage.total_tokens': 'bigint',
  'output.vectors': 'bigint',
  'output.dimensions': 'bigint',
  'output.fingerprint': 'string',
  'timings.total_ms': 'double',
  record_sha256: 'string',
} as const;

/** What `usage-by-*` groups by: the key columns it selects (and groups and orders by). */
const USAGE_KEYS = {
  principal: { select: 'principal.issuer AS issuer,\n  principal.subject AS subject', n: 2, columns: { 'principal.issuer': 'string' } },
  model: { select: 'model.name AS model', n: 1, columns: {} },
  rule: { select: 'decision.rule_id AS rule_id', n: 1, columns: { 'decision.rule_id': 'string' } },
  day: { select: 'dt AS day', n: 1, columns: {} },
} as const;

/**
 * `usage-by-<key>` (`embedgate usage --by <key>`): embedding requests, how many were allowed and
 * how many refused by per-principal rate limits or quotas (429 `rate_limit_*` / `quota_*`), the
 * input items of allowed requests and the tokens the upstream reported, per principal, model,
 * rule or UTC day.
 */
function usageQuery(by: keyof typeof USAGE_KEYS): AuditQuery {
  const key = USAGE_KEYS[by];
  const groups = Array.from({ length: key.n }, (_, i) => i + 1).join(', ');
  return {
    name: `usage-by-${by}`,
    title: `Usage (requests, items, tokens) by ${by}`,
    description:
      `Embedding requests per ${by === 'day' ? 'UTC day' : by}: requests, allowed, throttled (refused by per-principal rate ` +
      'limits or quotas), input items of allowed requests and tokens reported by the upstream. Optionally only one ' +
      'principal, issuer or model.',
    params: [SINCE, UNTIL, ONLY_PRINCIPAL, ONLY_ISSUER, ONLY_MODEL],
    columns: {
      ...PERIOD_COLUMNS,
      ...FILTER_COLUMNS.principal,
      ...FILTER_COLUMNS.issuer,
      ...FILTER_COLUMNS.model,
      ...key.columns,
      'decision.outcome': 'string',
      'decision.status': 'bigint',
      'decision.reason': 'string',
      'input.items': 'bigint',
      'usage.total_tokens': 'bigint',
    },
    sql: `SELECT ${key.select},
  count(*) AS requests,
  count_if(decision.outcome = 'allow') AS allowed,
  count_if(decision.status = 429 AND (starts_with(decision.reason, 'rate_limit_') OR starts_with(decision.reason, 'quota_'))) AS throttled,
  coalesce(sum(CASE WHEN decision.outcome = 'allow' THEN input.items END), 0) AS items,
  coalesce(sum(usage.total_tokens), 0) AS tokens
FROM {{database}}.{{table}}
WHERE ${PERIOD_FILTER}
  AND model.name IS NOT NULL
  AND ${FILTER.principal}
  AND ${FILTER.issuer}
  AND ${FILTER.model}
GROUP BY ${groups}
ORDER BY ${groups}`,
  };
}

export const AUDIT_QUERIES: readonly AuditQuery[] = [
  {
    name: 'calls-by-principal-and-model',
    title: 'Who called which model, per day',
    description:
      'Requests that named a model, per UTC day, principal (issuer, subject, client id) and model, ' +
      'with how many were allowed, denied, invalid or failed. Unauthenticated requests appear ' +
      'with an empty principal. Optionally only one principal, issuer or model.',
    params: [SINCE, UNTIL, ONLY_PRINCIPAL, ONLY_ISSUER, ONLY_MODEL],
    columns: {
      ...PERIOD_COLUMNS,
      ...FILTER_COLUMNS.principal,
      ...FILTER_COLUMNS.issuer,
      ...FILTER_COLUMNS.model,
      'principal.client_id': 'string',
      'decision.outcome': 'string',
    },
    sql: `SELECT dt AS day,
  principal.issuer AS issuer,
  principal.subject AS subject,
  principal.client_id AS client_id,
  model.name AS model,
  count(*) AS requests,
  count_if(decision.outcome = 'allow') AS allowed,
  count_if(decision.outcome = 'held') AS held,
  count_if(decision.outcome = 'deny') AS denied,
  count_if(decision.outcome = 'invalid') AS invalid,
  count_if(decision.outcome = 'error') AS failed
FROM {{database}}.{{table}}
WHERE ${PERIOD_FILTER}
  AND model.name IS NOT NULL
  AND ${FILTER.principal}
  AND ${FILTER.issuer}
  AND ${FILTER.model}
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5`,
  },
  {
    name: 'denied-by-principal-and-reason',
    title: 'Denied attempts, by principal and reason',
    description:
      'Requests refused with 401 or 403, per principal, reason code, deciding rule and status, ' +
      'with the first and last attempt and how many source addresses they came from. Requests ' +
      'without a verifiable token have an empty principal; their reason says why. Optionally ' +
      'only one principal, issuer or model.',
    params: [SINCE, UNTIL, ONLY_PRINCIPAL, ONLY_ISSUER, ONLY_MODEL],
    columns: {
      ...PERIOD_COLUMNS,
      ...FILTER_COLUMNS.principal,
      ...FILTER_COLUMNS.issuer,
      ...FILTER_COLUMNS.model,
      'principal.client_id': 'string',
      'decision.outcome': 'string',
      'decision.reason': 'string',
      'decision.rule_id': 'string',
      'decision.status': 'bigint',
      'request.source_ip': 'string',
    },
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
  AND ${FILTER.principal}
  AND ${FILTER.issuer}
  AND ${FILTER.model}
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY attempts DESC, 1, 2, 3, 4`,
  },
  {
    name: 'masking-findings-by-principal-and-type',
    title: 'Masking findings, by principal and entity type',
    description:
      'How many sensitive values of each entity type masking found in the inputs of each principal, ' +
      'in how many sessions, and how many of those sessions were refused for a blocked type. ' +
      'Counts only: records never hold the values. Optionally only one principal, issuer or model.',
    params: [SINCE, UNTIL, ONLY_PRINCIPAL, ONLY_ISSUER, ONLY_MODEL],
    columns: {
      ...PERIOD_COLUMNS,
      ...FILTER_COLUMNS.principal,
      ...FILTER_COLUMNS.issuer,
      ...FILTER_COLUMNS.model,
      session_id: 'string',
      'masking.counts': 'array<struct<type:string,count:bigint>>',
      'decision.reason': 'string',
    },
    sql: `SELECT principal.issuer AS issuer,
  principal.subject AS subject,
  found.type AS entity_type,
  sum(found.count) AS values_found,
  count(DISTINCT session_id) AS sessions,
  count(DISTINCT CASE WHEN decision.reason = 'masking_blocked' THEN session_id END) AS sessions_blocked
FROM {{database}}.{{table}}
CROSS JOIN UNNEST(masking.counts) AS counted(found)
WHERE ${PERIOD_FILTER}
  AND ${FILTER.principal}
  AND ${FILTER.issuer}
  AND ${FILTER.model}
GROUP BY 1, 2, 3
ORDER BY values_found DESC, 1, 2, 3`,
  },
  {
    name: 'sessions-with-pseudonym',
    title: 'Sessions that carried a pseudonym (lineage for erasure requests)',
    description:
      'Every session whose input had a value pseudonymized to this token: compute the token of the ' +
      "person's value with the pseudonym key (the same HMAC the gateway uses), then find where it " +
      'went: who sent it, to which model, when. Records keep the tokens, never the values.',
    params: [
      SINCE,
      UNTIL,
      {
        name: 'pseudonym',
        kind: AuditParamKind.STRING,
        description: 'The pseudonym token, e.g. `<EMAIL_3f9a1c2e>`.',
        example: '<EMAIL_3f9a1c2e>',
      },
    ],
    columns: {
      ...PERIOD_COLUMNS,
      session_id: 'string',
      'principal.issuer': 'string',
      'principal.subject': 'string',
      'model.name': 'string',
      'decision.outcome': 'string',
      'masking.findings': FINDINGS_TYPE,
    },
    sql: `SELECT session_id,
  started_at,
  principal.issuer AS issuer,
  principal.subject AS subject,
  model.name AS model,
  decision.outcome AS outcome,
  found.item AS item,
  found.type AS entity_type
FROM {{database}}.{{table}}
CROSS JOIN UNNEST(masking.findings) AS item_findings(found)
WHERE ${PERIOD_FILTER}
  AND {{fn:array_contains}}(found.pseudonyms, {{pseudonym}})
ORDER BY started_at, session_id, item`,
  },
  {
    name: 'sessions-of-principal',
    title: 'Every session of one principal',
    description:
      'Every record of one principal (subject) in the period, oldest first: route, groups, model, ' +
      "decision, input counts, upstream status, usage, the output fingerprint and the record's " +
      'seal. The issuer (its URL or configured id) and the model narrow it down.',
    params: [SINCE, UNTIL, PRINCIPAL, ONLY_ISSUER, ONLY_MODEL],
    columns: { ...SESSION_SELECT_COLUMNS, ...FILTER_COLUMNS.issuer },
    sql: `${SESSION_SELECT}
FROM {{database}}.{{table}}
WHERE ${PERIOD_FILTER}
  AND principal.subject = {{principal}}
  AND ${FILTER.issuer}
  AND ${FILTER.model}
ORDER BY started_at, session_id`,
  },
  {
    name: 'session-by-id',
    title: 'One session, by its id',
    description:
      'The record of one session, by the id a response carried in `x-embedgate-session-id` ' +
      '(or a log line), within the period it happened in.',
    params: [
      SINCE,
      UNTIL,
      {
        name: 'session_id',
        kind: AuditParamKind.STRING,
        description: 'The session id (`x-embedgate-session-id`).',
        example: '0190f5d2-7c4e-7a1b-8c3d-2e4f6a8b0c1d',
      },
    ],
    columns: SESSION_SELECT_COLUMNS,
    sql: `${SESSION_SELECT}
FROM {{database}}.{{table}}
WHERE ${PERIOD_FILTER}
  AND session_id = {{session_id}}`,
  },
  {
    name: 'approval-chain',
    title: 'The full approval chain of a request',
    description:
      'Every record of one approval, in order: the held request (`requested`, 202), each reviewer ' +
      'decision (`decided`) and refused decision attempt (`refused`: self-approval, not a reviewer, ' +
      'decided already), status checks (`viewed`), the forwarded re-send (`used`), refused re-sends ' +
      'and replays (`refused`), and the expiry by the workflow (`expired`). Within the period it ' +
      'happened in; the approval id is the one the 202 answer carried (`approval_id`).',
    params: [
      SINCE,
      UNTIL,
      {
        name: 'approval_id',
        kind: AuditParamKind.STRING,
        description: 'The approval id (`approval_id` of the 202 answer).',
        example: '0190f5d2-7c4e-7a1b-8c3d-2e4f6a8b0c1e',
      },
    ],
    columns: {
      ...PERIOD_COLUMNS,
      session_id: 'string',
      'approval.id': 'string',
      'approval.step': 'string',
      'approval.status': 'string',
      'principal.issuer': 'string',
      'principal.subject': 'string',
      'approval.decision': 'string',
      'approval.reviewer.subject': 'string',
      'decision.status': 'bigint',
      'decision.reason': 'string',
      'decision.rule_id': 'string',
      'model.name': 'string',
      'approval.payload_sha256': 'string',
      'approval.triggers': 'array<string>',
      'approval.via_grant': 'boolean',
      'request.method': 'string',
      'request.path': 'string',
    },
    sql: `SELECT started_at,
  session_id,
  approval.step AS step,
  approval.status AS approval_status,
  principal.issuer AS issuer,
  principal.subject AS subject,
  approval.decision AS decision,
  approval.reviewer.subject AS reviewer,
  decision.status AS status,
  decision.reason AS reason,
  decision.rule_id AS rule_id,
  model.name AS model,
  approval.payload_sha256 AS payload_sha256,
  {{fn:array_join}}(approval.triggers, ',') AS triggers,
  approval.via_grant AS via_grant,
  request.method AS method,
  request.path AS path
FROM {{database}}.{{table}}
WHERE ${PERIOD_FILTER}
  AND approval.id = {{approval_id}}
ORDER BY started_at, session_id`,
  },
  {
    name: 'upstream-errors-by-model',
    title: 'Upstream errors, by model and reason',
    description:
      'Requests that failed because of the upstream provider (reason codes `upstream_*`: 5xx, ' +
      'timeouts, network errors, rate limits, refused keys, invalid answers), per model, reason ' +
      'and upstream status, with attempts and latency. For operators. Optionally one model.',
    params: [SINCE, UNTIL, ONLY_MODEL],
    columns: {
      ...PERIOD_COLUMNS,
      ...FILTER_COLUMNS.model,
      'model.provider': 'string',
      'model.upstream_model': 'string',
      'decision.reason': 'string',
      'decision.status': 'bigint',
      'upstream.status': 'bigint',
      'upstream.attempts': 'bigint',
      'upstream.latency_ms': 'double',
    },
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
  AND ${FILTER.model}
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY failures DESC, 1, 4`,
  },
  ...(['principal', 'model', 'rule', 'day'] as const).map(usageQuery),
];

/** The query with this name; throws, listing the names, if there is none. */
export function auditQuery(name: string): AuditQuery {
  const q = AUDIT_QUERIES.find((x) => x.name === name);
  if (!q) throw new Error(`Unknown audit query "${name}". Known queries: ${AUDIT_QUERIES.map((x) => x.name).join(', ')}.`);
  return q;
}

export interface RenderOptions {
  /** Glue database name (rendered as a quoted identifier); the DuckDB runner's schema. */
  readonly database: string;
  /** Glue table name (rendered as a quoted identifier); the DuckDB runner's view. */
  readonly table: string;
  /** One value per parameter of the query: strings (timestamps may also be given as `Date`). */
  readonly params: Readonly<Record<string, unknown>>;
}

const PLACEHOLDER = /\{\{(?:fn:([a-z_]+)|([a-z_]+)(?:\.(dt|hr))?)\}\}/g;

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
  const sql = query.sql.replace(PLACEHOLDER, (whole, fn: string | undefined, name: string, part: string | undefined) => {
    if (fn !== undefined) {
      const spelled = spelling.functions[fn];
      if (spelled === undefined) throw new Error(`Audit query "${query.name}" uses ${whole}, which the ${dialect} dialect does not spell.`);
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
  });
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
