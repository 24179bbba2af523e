/** Sealed session records for archive, journal and verification tests. */
import { RECORD_SCHEMA, sealRecord, type SessionRecord } from '../../lambda/core/record';

export const testRecord = (id: string, at = '2026-03-01T05:06:07.000Z', status = 401): SessionRecord =>
  sealRecord({
    schema: RECORD_SCHEMA,
    session_id: id,
    started_at: at,
    ended_at: at,
    request: { method: 'POST', path: '/v1/embeddings', request_id: null, source_ip: null, user_agent: null },
    principal: null,
    model: null,
    decision: { outcome: status === 200 ? 'allow' : 'deny', status, reason: 'missing_token', rule_id: null, policy_version: 'sha256:0' },
    input: { kind: null, items: 0, characters: 0, encoding_format: null, dimensions: null, request_bytes: 0, text: null },
    masking: null,
    upstream: null,
    usage: null,
    output: null,
    timings: { total_ms: 0, auth_ms: 0, upstream_ms: 0 },
    approval: null,
  });

/** A session id that sorts by `n` (UUIDv7-shaped). */
export const sid = (n: number) => `0190f000-0000-7000-8000-${String(n).padStart(12, '0')}`;
