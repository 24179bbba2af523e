/**
 * Digest files: the archive's tamper evidence beyond Object Lock, modelled on CloudTrail's.
 *
 * A digest covers a period of whole UTC hours, `[period.start, period.end)`, the `dt`/`hr`
 * partitions of the records. It lists every record object of those partitions (key, size, the
 * SHA-256 of the stored bytes and the record's own seal `record_sha256`), plus "late" records:
 * objects of earlier partitions that reached the archive after the previous digest had listed
 * them. Each digest names the previous digest's key and the SHA-256 of its bytes (a chain, which
 * also makes the periods contiguous: a digest starts where the previous one ended), and is
 * signed (ECDSA P-256, SHA-256) over its canonical JSON without the `signature` field.
 *
 * Pure: no I/O. `digest-builder.ts` lists and reads the archive and signs; `verify.ts` checks.
 */
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { canonicalJson } from '../../../shared/canonical';
import { DIGEST_SIGNING_ALGORITHM, type ArchiveObject } from './ports';

export const DIGEST_SCHEMA = 'embedgate.digest.v1';
/** Key prefix of the records (see `recordKey`). */
export const RECORDS_PREFIX = 'sessions/';
/** Key prefix of the digests, in the same bucket or directory as the records. */
export const DIGESTS_PREFIX = 'digests/';
export const HOUR_MS = 3_600_000;
/**
 * Objects written this long before the previous digest's listing began may have been missed by
 * it (a write acknowledged after the listing started): they are checked again as late records.
 */
export const LATE_MARGIN_MS = 5 * 60_000;

/** One record object in a digest. */
export interface DigestEntry {
  readonly key: string;
  readonly size: number;
  /** `sha256:<hex>` over the object's bytes as stored (equals S3's ChecksumSHA256, in hex). */
  readonly object_sha256: string;
  /** The record's `record_sha256` as found in the object; null when the object is not a sealed record. */
  readonly record_sha256: string | null;
}

/** A record of an earlier partition that reached the archive after the previous digest listed it. */
export interface LateDigestEntry extends DigestEntry {
  /** When it was written (S3 LastModified, file mtime), ISO-8601. */
  readonly last_modified: string;
}

export interface DigestDocument {
  readonly schema: typeof DIGEST_SCHEMA;
  /** Whole UTC hours; `start` is the previous digest's `end`. */
  readonly period: { readonly start: string; readonly end: string };
  /** When the listing of the archive began, ISO-8601. */
  readonly listed_at: string;
  /** When the digest was built, ISO-8601. */
  readonly created_at: string;
  /** The previous digest, or null for the first one of the archive. */
  readonly previous: { readonly key: string; readonly sha256: string; readonly period_end: string } | null;
  readonly counts: { readonly records: number; readonly late: number; readonly bytes: number };
  /** Every record object of the period's partitions, by key. */
  readonly records: readonly DigestEntry[];
  /** Late records of earlier partitions, by key. */
  readonly late: readonly LateDigestEntry[];
  readonly signing: { readonly algorithm: typeof DIGEST_SIGNING_ALGORITHM; readonly key_id: string; readonly public_key_sha256: string };
  /** Base64 of the DER signature over `signingPayload(document)`. */
  readonly signature: string;
}

export type UnsignedDigest = Omit<DigestDocument, 'signature'>;

/** A digest read back: its key, its exact bytes and the parsed document. */
export interface StoredDigest {
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly doc: DigestDocument;
}

export const sha256Tagged = (data: string | Uint8Array): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

const PARTITION = /^sessions\/dt=(\d{4}-\d{2}-\d{2})\/hr=(\d{2})\//;

/** Start (epoch ms) of the hour partition a record key is in; null for a key outside the layout. */
export function partitionOf(key: string): number | null {
  const m = PARTITION.exec(key);
  if (!m) return null;
  const t = Date.parse(`${m[1]}T${m[2]}:00:00.000Z`);
  return Number.isNaN(t) || new Date(t).toISOString().slice(0, 13) !== `${m[1]}T${m[2]}` ? null : t;
}

/** `sessions/dt=YYYY-MM-DD/hr=HH/` of the hour starting at `hourStart`. */
export function partitionPrefix(hourStart: number): string {
  const iso = new Date(hourStart).toISOString();
  return `${RECORDS_PREFIX}dt=${iso.slice(0, 10)}/hr=${iso.slice(11, 13)}/`;
}

/** Key of the digest whose period ends at `periodEnd`: named after the last hour it covers. */
export function digestKey(periodEnd: number): string {
  const iso = new Date(periodEnd - HOUR_MS).toISOString();
  return `${DIGESTS_PREFIX}dt=${iso.slice(0, 10)}/hr=${iso.slice(11, 13)}.json`;
}

const DIGEST_KEY = /^digests\/dt=\d{4}-\d{2}-\d{2}\/hr=\d{2}\.json$/;

/** Whether a key has the form `digestKey` gives. */
export const isDigestKey = (key: string): boolean => DIGEST_KEY.test(key);

export const floorHour = (t: number): number => Math.floor(t / HOUR_MS) * HOUR_MS;

/** The digest entry of a stored object: hashes of its bytes and the seal it carries. */
export function digestEntry(key: string, bytes: Uint8Array): DigestEntry {
  return { key, size: bytes.byteLength, object_sha256: sha256Tagged(bytes), record_sha256: sealOf(bytes) };
}

/** The `record_sha256` a stored record claims, or null when the bytes are not a sealed record. */
export function sealOf(bytes: Uint8Array): string | null {
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    const seal = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as { record_sha256?: unknown }).record_sha256 : undefined;
    return typeof seal === 'string' ? seal : null;
  } catch {
    return null;
  }
}

export interface DigestSelection {
  /** Objects of the period's own partitions. */
  readonly records: readonly ArchiveObject[];
  /** Objects of earlier partitions not covered by a recent digest, written after it began listing. */
  readonly late: readonly ArchiveObject[];
}

/**
 * Which listed objects a new digest of `[start, end)` covers.
 *
 * `recent` are the digests that may already list a late candidate: the previous digest and every
 * earlier one built less than `LATE_MARGIN_MS` before the previous one began listing (see
 * `recentDigestsNeeded`). An object of an earlier partition is late when it was written at or
 * after `previous.listed_at - LATE_MARGIN_MS` and none of `recent` lists it; anything written
 * before that was visible to the previous digest's listing, hence covered already (or outside the
 * lookback of every digest, which `verify` then reports).
 */
export function selectObjects(
  listed: Iterable<ArchiveObject>,
  start: number,
  end: number,
  recent: readonly DigestDocument[],
): DigestSelection {
  const previous = recent[0];
  const threshold = previous ? Date.parse(previous.listed_at) - LATE_MARGIN_MS : Infinity;
  const covered = new Set(recent.flatMap((d) => [...d.records, ...d.late].map((e) => e.key)));
  const records: ArchiveObject[] = [];
  const late: ArchiveObject[] = [];
  for (const o of listed) {
    const p = partitionOf(o.key);
    if (p === null || p >= end) continue;
    if (p >= start) records.push(o);
    else if (o.lastModified >= threshold && !covered.has(o.key)) late.push(o);
  }
  const byKey = (a: ArchiveObject, b: ArchiveObject) => compareKeys(a.key, b.key);
  return { records: records.sort(byKey), late: late.sort(byKey) };
}

/**
 * Whether the digest before `older` must be read too to know what the recent digests cover:
 * true while `older` was built within the late margin of the previous digest's listing.
 */
export function recentDigestsNeeded(previous: DigestDocument, older: DigestDocument): boolean {
  return Date.parse(older.created_at) >= Date.parse(previous.listed_at) - LATE_MARGIN_MS;
}

export interface BuildDigestInput {
  readonly start: number;
  readonly end: number;
  readonly listedAt: number;
  readonly createdAt: number;
  /** The previous digest (key, exact bytes, document), or null for the archive's first. */
  readonly previous: StoredDigest | null;
  /** The selected objects with their bytes (see `selectObjects`). */
  readonly records: readonly { readonly object: ArchiveObject; readonly bytes: Uint8Array }[];
  readonly late: readonly { readonly object: ArchiveObject; readonly bytes: Uint8Array }[];
  readonly signing: { readonly keyId: string; readonly publicKeySha256: string };
}

/** The unsigned digest document of a period: pure, deterministic for the same input. */
export function buildDigest(input: BuildDigestInput): UnsignedDigest {
  const { start, end, previous } = input;
  if (start % HOUR_MS !== 0 || end % HOUR_MS !== 0 || end <= start) {
    throw new Error(
      `a digest period is whole hours with start < end, got ${new Date(start).toISOString()} to ${new Date(end).toISOString()}`,
    );
  }
  if (previous && Date.parse(previous.doc.period.end) !== start) {
    throw new Error(`a digest starts where the previous one ended (${previous.doc.period.end}), not at ${new Date(start).toISOString()}`);
  }
  const records = [...input.records].sort((a, b) => compareKeys(a.object.key, b.object.key)).map((r) => digestEntry(r.object.key, r.bytes));
  const late = [...input.late]
    .sort((a, b) => compareKeys(a.object.key, b.object.key))
    .map((r) => ({ ...digestEntry(r.object.key, r.bytes), last_modified: new Date(r.object.lastModified).toISOString() }));
  return {
    schema: DIGEST_SCHEMA,
    period: { start: new Date(start).toISOString(), end: new Date(end).toISOString() },
    listed_at: new Date(input.listedAt).toISOString(),
    created_at: new Date(input.createdAt).toISOString(),
    previous: previous ? { key: previous.key, sha256: sha256Tagged(previous.bytes), period_end: previous.doc.period.end } : null,
    counts: { records: records.length, late: late.length, bytes: [...records, ...late].reduce((n, e) => n + e.size, 0) },
    records,
    late,
    signing: { algorithm: DIGEST_SIGNING_ALGORITHM, key_id: input.signing.keyId, public_key_sha256: input.signing.publicKeySha256 },
  };
}

/** The bytes a digest's signature covers: canonical JSON of the document without `signature`. */
export function signingPayload(doc: UnsignedDigest | DigestDocument): Buffer {
  const { signature: _ignored, ...body } = doc as DigestDocument;
  return Buffer.from(canonicalJson(body), 'utf8');
}

/** The stored form of a signed digest: one line of JSON. */
export function serializeDigest(doc: DigestDocument): Uint8Array {
  return Buffer.from(`${JSON.stringify(doc)}\n`, 'utf8');
}

/** The fingerprint digests name their signing key by: `sha256:` over the DER SubjectPublicKeyInfo. */
export function publicKeySha256(key: KeyObject): string {
  return sha256Tagged(key.export({ type: 'spki', format: 'der' }));
}

/** A public key from PEM text or DER (SPKI) bytes, e.g. what KMS GetPublicKey returns. */
export function parsePublicKey(data: string | Uint8Array): KeyObject {
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
  if (text.includes('-----BEGIN')) return createPublicKey(text);
  return createPublicKey({ key: Buffer.from(data), format: 'der', type: 'spki' });
}

/** Whether `doc.signature` is a valid signature of `doc` by `key`. */
export function signatureValid(doc: DigestDocument, key: KeyObject): boolean {
  try {
    return verifySignature('sha256', signingPayload(doc), { key, dsaEncoding: 'der' }, Buffer.from(doc.signature, 'base64'));
  } catch {
    return false;
  }
}

/** Thrown by `parseDigest` for bytes that are not a digest document of this schema. */
export class DigestFormatError extends Error {}

/** Parse and shape-check a stored digest; throws {@link DigestFormatError} naming what is wrong. */
export function parseDigest(bytes: Uint8Array): DigestDocument {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new DigestFormatError(`not JSON: ${(e as Error).message}`);
  }
  const o = v as Record<string, unknown>;
  const fail = (what: string): never => {
    throw new DigestFormatError(what);
  };
  if (o === null || typeof o !== 'object' || Array.isArray(o)) fail('not a JSON object');
  if (o.schema !== DIGEST_SCHEMA) fail(`schema is ${JSON.stringify(o.schema)}, expected "${DIGEST_SCHEMA}"`);
  const period = o.period as Record<string, unknown> | undefined;
  if (!period || !isHour(period.start) || !isHour(period.end) || Date.parse(period.start as string) >= Date.parse(period.end as string)) {
    fail('period must be {start, end}, whole UTC hours, start before end');
  }
  if (!isInstant(o.listed_at) || !isInstant(o.created_at)) fail('listed_at and created_at must be ISO-8601 instants');
  const prev = o.previous as Record<string, unknown> | null | undefined;
  if (prev !== null && (typeof prev !== 'object' || typeof prev.key !== 'string' || !isSha(prev.sha256) || !isHour(prev.period_end))) {
    fail('previous must be null or {key, sha256, period_end}');
  }
  const entries = (name: 'records' | 'late') => {
    const list = o[name];
    if (!Array.isArray(list)) fail(`${name} must be an array`);
    for (const e of list as Record<string, unknown>[]) {
      if (
        e === null ||
        typeof e !== 'object' ||
        typeof e.key !== 'string' ||
        !Number.isInteger(e.size) ||
        !isSha(e.object_sha256) ||
        (e.record_sha256 !== null && !isSha(e.record_sha256)) ||
        (name === 'late' && !isInstant(e.last_modified))
      ) {
        fail(`${name} has a malformed entry: ${JSON.stringify(e).slice(0, 200)}`);
      }
    }
  };
  entries('records');
  entries('late');
  const counts = o.counts as Record<string, unknown> | undefined;
  if (!counts || !Number.isInteger(counts.records) || !Number.isInteger(counts.late) || !Number.isInteger(counts.bytes))
    fail('counts must be {records, late, bytes}');
  const signing = o.signing as Record<string, unknown> | undefined;
  if (
    !signing ||
    signing.algorithm !== DIGEST_SIGNING_ALGORITHM ||
    typeof signing.key_id !== 'string' ||
    !isSha(signing.public_key_sha256)
  ) {
    fail(`signing must be {algorithm: "${DIGEST_SIGNING_ALGORITHM}", key_id, public_key_sha256}`);
  }
  if (typeof o.signature !== 'string' || o.signature.length === 0) fail('signature must be a base64 string');
  return o as unknown as DigestDocument;
}

/** Byte order of UTF-8 keys (S3's listing order). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const isInstant = (v: unknown): boolean =>
  typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(v) && !Number.isNaN(Date.parse(v));
const isHour = (v: unknown): boolean => isInstant(v) && Date.parse(v as string) % HOUR_MS === 0;
const isSha = (v: unknown): boolean => typeof v === 'string' && /^sha256:[0-9a-f]{64}$/.test(v);
