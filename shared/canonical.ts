/**
 * Canonical JSON and SHA-256: what configuration versions, record fingerprints, approval payload
 * hashes and archive digests are computed with. No dependency but node:crypto, so the Lambda
 * bundles (the digest's above all) can use it without the configuration schema (zod).
 */
import { createHash } from 'node:crypto';

/**
 * RFC 8785-style canonical JSON: object keys sorted (by UTF-16 code units), no whitespace;
 * `undefined` members dropped, `undefined` array items (and holes) written as `null`. Other values
 * are written as `JSON.stringify` writes them, except that `toJSON` is not called. Written as loops
 * with string concatenation: every record seal computes it (see BENCHMARKS.md).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      out += (i === 0 ? '' : ',') + (v === undefined ? 'null' : canonicalJson(v));
    }
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += (out.length === 1 ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(v);
  }
  return `${out}}`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
