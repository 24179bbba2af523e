/**
 * Canonical JSON and SHA-256: what configuration versions, record fingerprints, approval payload
 * hashes and archive digests are computed with. No dependency but node:crypto, so the Lambda
 * bundles (the digest's above all) can use it without the configuration schema (zod).
 */
import { createHash } from 'node:crypto';

/** RFC 8785-style canonical JSON: object keys sorted, no whitespace; `undefined` members dropped. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
