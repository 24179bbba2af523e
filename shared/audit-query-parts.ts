/**
 * The pieces the named audit queries (shared/audit-queries.ts) share: their parameters, the period
 * filter every query uses, the optional filters, the columns of one session, each with the
 * columns it reads.
 */
import { AuditParamKind, type AuditQueryParam } from './audit-sql';

export const SINCE: AuditQueryParam = {
  name: 'since',
  kind: AuditParamKind.TIMESTAMP,
  description: 'Start of the period, inclusive (UTC date or ISO-8601 instant).',
  example: '2026-01-01',
};

export const UNTIL: AuditQueryParam = {
  name: 'until',
  kind: AuditParamKind.TIMESTAMP,
  description: 'End of the period, exclusive (UTC date or ISO-8601 instant).',
  example: '2026-02-01',
  exclusive: true,
};

export const PRINCIPAL: AuditQueryParam = {
  name: 'principal',
  kind: AuditParamKind.STRING,
  description: "The principal's subject (`sub` claim).",
  example: 'batch-indexer',
};
export const ONLY_PRINCIPAL: AuditQueryParam = {
  ...PRINCIPAL,
  description: 'Only this principal (its subject, `sub` claim).',
  optional: true,
};
export const ONLY_ISSUER: AuditQueryParam = {
  name: 'issuer',
  kind: AuditParamKind.STRING,
  description: 'Only principals of this issuer (its URL or configured id).',
  example: 'https://idp.example.com',
  optional: true,
};
export const ONLY_MODEL: AuditQueryParam = {
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
export const PERIOD_FILTER = `dt >= {{since.dt}} AND dt <= {{until.dt}}
  AND (dt > {{since.dt}} OR hr >= {{since.hr}})
  AND (dt < {{until.dt}} OR hr <= {{until.hr}})
  AND started_at >= {{since}} AND started_at < {{until}}`;

export const PERIOD_COLUMNS = { dt: 'string', hr: 'string', started_at: 'string' } as const;

/** Optional filters: NULL (not given) matches every row. */
export const FILTER = {
  principal: '({{principal}} IS NULL OR principal.subject = {{principal}})',
  issuer: '({{issuer}} IS NULL OR principal.issuer = {{issuer}} OR principal.issuer_id = {{issuer}})',
  model: '({{model}} IS NULL OR model.name = {{model}})',
};
export const FILTER_COLUMNS = {
  principal: { 'principal.subject': 'string' },
  issuer: { 'principal.issuer': 'string', 'principal.issuer_id': 'string' },
  model: { 'model.name': 'string' },
} as const;

/**
 * The three optional filters most queries take together (principal, issuer, model): their
 * parameters (after the period's, or after `between`), the columns they read with the period's,
 * and their conditions, to follow `WHERE ${PERIOD_FILTER}`.
 */
export function byPrincipalIssuerModel(...between: AuditQueryParam[]) {
  return {
    params: [SINCE, UNTIL, ...between, ONLY_PRINCIPAL, ONLY_ISSUER, ONLY_MODEL],
    columns: { ...PERIOD_COLUMNS, ...FILTER_COLUMNS.principal, ...FILTER_COLUMNS.issuer, ...FILTER_COLUMNS.model },
    where: `${FILTER.principal}
  AND ${FILTER.issuer}
  AND ${FILTER.model}`,
  };
}

/** The columns of one session, as `sessions-of-principal` and `session-by-id` list them. */
export const SESSION_SELECT = `SELECT session_id,
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

export const SESSION_SELECT_COLUMNS = {
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
