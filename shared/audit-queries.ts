/**
 * The named audit queries over the session archive, defined once as data (their renderers are in
 * shared/audit-sql.ts, re-exported here; their shared pieces in shared/audit-query-parts.ts).
 *
 * The `SessionArchive` construct turns each into an Athena named query (rendered with sample
 * values that are obvious to replace); the CLI (`embedgate audit query`) renders them with real
 * values and runs them on DuckDB over a local archive (or prints the Athena SQL). Pure
 * TypeScript: no AWS SDK, no CDK.
 *
 * SQL: Athena engine v3 (Trino) over the Glue table of schema v1 (see
 * `shared/glue-columns.ts` and docs/session-record.md), written so that DuckDB runs it too.
 * What the two engines spell differently is named by a `{{fn:<name>}}` placeholder and spelled
 * per dialect in `DIALECTS`, the one place for dialect differences. The rest sticks to what both
 * understand (struct field access `a.b`, `count_if`, `starts_with`, `min`/`max` over strings,
 * `IS [NOT] NULL` on structs, `CAST(NULL AS VARCHAR)`), and compares timestamps as ISO-8601
 * strings: every record's `started_at` is written by `Date.prototype.toISOString()`
 * (`YYYY-MM-DDTHH:mm:ss.sssZ`, UTC), so a bound normalised to that exact form orders the same
 * way as the instant. No timestamp function (`from_iso8601_timestamp` in Trino, casts in DuckDB)
 * is needed. Both engines sort NULLs last in ascending order (the DuckDB runner pins it).
 *
 * The placeholders, how they are filled, and time windows (half-open: `since` inclusive, `until`
 * exclusive): see shared/audit-sql.ts.
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
import {
  byPrincipalIssuerModel,
  FILTER,
  FILTER_COLUMNS,
  ONLY_ISSUER,
  ONLY_MODEL,
  PERIOD_COLUMNS,
  PERIOD_FILTER,
  PRINCIPAL,
  SESSION_SELECT,
  SESSION_SELECT_COLUMNS,
  SINCE,
  UNTIL,
} from './audit-query-parts';
import { AuditParamKind, FINDINGS_TYPE, type AuditQuery } from './audit-sql';
import { SESSION_COLUMNS } from './glue-columns';

export * from './audit-sql';

/** The period and the optional principal, issuer and model filters most queries share. */
const STANDARD = byPrincipalIssuerModel();

/** Which session, who, which model and how it ended: the first columns of the queries that list sessions by content. */
const SESSION_OUTCOME = `session_id,
  started_at,
  principal.issuer AS issuer,
  principal.subject AS subject,
  model.name AS model,
  decision.outcome AS outcome`;

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
    params: STANDARD.params,
    columns: {
      ...STANDARD.columns,
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
  AND ${STANDARD.where}
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
    params: STANDARD.params,
    columns: {
      ...STANDARD.columns,
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
  AND ${STANDARD.where}
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
    params: STANDARD.params,
    columns: {
      ...STANDARD.columns,
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
  AND ${STANDARD.where}
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
    params: STANDARD.params,
    columns: {
      ...STANDARD.columns,
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
  AND ${STANDARD.where}
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
    sql: `SELECT ${SESSION_OUTCOME},
  found.item AS item,
  found.type AS entity_type
FROM {{database}}.{{table}}
CROSS JOIN UNNEST(masking.findings) AS item_findings(found)
WHERE ${PERIOD_FILTER}
  AND {{fn:array_contains}}(found.pseudonyms, {{pseudonym}})
ORDER BY started_at, session_id, item`,
  },
  {
    name: 'sessions-with-text-matching',
    title: 'Sessions whose kept input text matches a pattern (investigations)',
    description:
      'Every session whose kept input (`input.text`: the items as they left for the model, masked) has an ' +
      'item matching a regular expression anywhere in it, with how many items matched and the start of the ' +
      "first match's item. The pattern is a regular expression in the syntax both engines share (RE2 in " +
      'DuckDB, Java in Athena): literals, classes, `|`, `(?i)` for case-insensitive. Sessions whose ' +
      'input was not kept (`input.kept` omitted or none) never match. Optionally one principal, issuer or model.',
    params: byPrincipalIssuerModel({
      name: 'pattern',
      kind: AuditParamKind.STRING,
      description: 'A regular expression matched anywhere in each kept item, e.g. `(?i)quarterly results`.',
      example: '(?i)project falcon',
    }).params,
    columns: {
      ...STANDARD.columns,
      session_id: 'string',
      'input.text': 'array<string>',
      'decision.outcome': 'string',
    },
    sql: `SELECT ${SESSION_OUTCOME},
  count(*) AS matching_items,
  min(substr(item_text, 1, 120)) AS example
FROM {{database}}.{{table}}
CROSS JOIN UNNEST(input.text) AS kept_items(item_text)
WHERE ${PERIOD_FILTER}
  AND {{fn:regexp_like}}(item_text, {{pattern}})
  AND ${STANDARD.where}
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY started_at, session_id`,
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

/**
 * Whole records of a period, for `embedgate audit replay --athena` (not a named query: a tool's,
 * not a reader's): every top-level column as JSON text (`{{json:...}}`), oldest first. A field a
 * record does not have (an older record) comes back as null.
 */
export const REPLAY_RECORDS_QUERY: AuditQuery = {
  name: 'replay-records',
  title: 'Session records of a period, as JSON per column (audit replay)',
  description: 'Every record of the period, each top-level column as JSON text, oldest first.',
  params: [SINCE, UNTIL],
  columns: { ...PERIOD_COLUMNS, session_id: 'string' },
  sql: `SELECT ${SESSION_COLUMNS.map((c) => `{{json:${c.name}}} AS "${c.name}"`).join(',\n  ')}
FROM {{database}}.{{table}}
WHERE ${PERIOD_FILTER}
ORDER BY started_at, session_id`,
};

/** The query with this name; throws, listing the names, if there is none. */
export function auditQuery(name: string): AuditQuery {
  const q = AUDIT_QUERIES.find((x) => x.name === name);
  if (!q) throw new Error(`Unknown audit query "${name}". Known queries: ${AUDIT_QUERIES.map((x) => x.name).join(', ')}.`);
  return q;
}
