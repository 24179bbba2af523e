/**
 * The batched archive layout (issue 16): journaled records reach the archive in batches, one
 * gzip-compressed JSON Lines object per batch and hour partition:
 *
 *   sessions/dt=YYYY-MM-DD/hr=HH/batch-<first session id>-<16 hex>.jsonl.gz
 *
 * Records in a batch are sorted by session id (UUIDv7: time order), one canonical `JSON.stringify`
 * line each, exactly the bytes the one-object-per-request layout wrote per object. The name's hex
 * is the start of SHA-256 over the batch's record seals in order, so a retried batch (a redelivered
 * stream batch, a journal replayed after a crash) lands on the same key and is recognised as
 * already archived instead of being written twice. Objects of the older layout
 * (`sessions/dt=/hr=/<session id>.json`, one record) stay valid and are read alongside.
 *
 * Pure apart from node:zlib and node:crypto; `compactor.ts` writes batches through `ArchiveObjects`.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { recordKey, type SessionRecord } from '../record';

export const BATCH_SUFFIX = '.jsonl.gz';
/** Content type of a batch object (JSON Lines, gzip-compressed; Athena's JSON SerDe reads `.gz` by its name). */
export const BATCH_CONTENT_TYPE = 'application/x-ndjson';
/** Content encoding of a batch object. */
export const BATCH_CONTENT_ENCODING = 'gzip';

const SINGLE = /^sessions\/dt=\d{4}-\d{2}-\d{2}\/hr=\d{2}\/[^/]+\.json$/;
const BATCH = /^sessions\/dt=\d{4}-\d{2}-\d{2}\/hr=\d{2}\/batch-[^/]+\.jsonl\.gz$/;

/** The layout a key belongs to: one record per object, a batch, or neither. */
export function objectLayout(key: string): 'single' | 'batch' | null {
  if (BATCH.test(key)) return 'batch';
  if (SINGLE.test(key)) return 'single';
  return null;
}

/** `sessions/dt=YYYY-MM-DD/hr=HH/` of a record: the partition its hour belongs to. */
export function recordPartition(record: Pick<SessionRecord, 'session_id' | 'started_at'>): string {
  const key = recordKey(record);
  return key.slice(0, key.lastIndexOf('/') + 1);
}

/** One batch object to write: its key, its bytes, and the records in it (sorted). */
export interface EncodedBatch {
  readonly key: string;
  readonly body: Uint8Array;
  readonly records: readonly SessionRecord[];
}

/**
 * Group records by hour partition and encode one batch object per partition. Records with the
 * same session id and seal are kept once (a record journaled twice by a retried write is one
 * record); two different records with one session id are both kept (verify reports them).
 */
export function encodeBatches(records: Iterable<SessionRecord>): EncodedBatch[] {
  const byPartition = new Map<string, Map<string, SessionRecord>>();
  for (const r of records) {
    const p = recordPartition(r);
    let m = byPartition.get(p);
    if (!m) byPartition.set(p, (m = new Map()));
    m.set(`${r.session_id}\n${r.record_sha256}`, r);
  }
  const out: EncodedBatch[] = [];
  for (const [partition, m] of [...byPartition.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const sorted = [...m.values()].sort(bySessionThenSeal);
    out.push({ key: batchKey(partition, sorted), body: encodeBatch(sorted), records: sorted });
  }
  return out;
}

/** Key of a batch of `records` (sorted, all of `partition`). */
export function batchKey(partition: string, records: readonly SessionRecord[]): string {
  if (records.length === 0) throw new Error('a batch needs at least one record');
  const h = createHash('sha256');
  for (const r of records) h.update(`${r.record_sha256}\n`);
  return `${partition}batch-${records[0]!.session_id}-${h.digest('hex').slice(0, 16)}${BATCH_SUFFIX}`;
}

/** The bytes of a batch: gzip of one JSON line per record. */
export function encodeBatch(records: readonly SessionRecord[]): Uint8Array {
  return gzipSync(Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join(''), 'utf8'), { level: 6 });
}

/** A record object's content could not be read as records. */
export class RecordObjectError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'RecordObjectError';
  }
}

/**
 * The records in a stored object, as parsed JSON values (not checked beyond being objects):
 * one for the one-object-per-request layout, every line of a batch. Throws
 * {@link RecordObjectError} when the bytes are not what the key's layout says.
 */
export function decodeRecordObject(key: string, bytes: Uint8Array): Array<Partial<SessionRecord>> {
  const layout = objectLayout(key);
  if (layout === null) throw new RecordObjectError(key, 'not a record object key');
  let text: string;
  if (layout === 'batch') {
    try {
      text = gunzipSync(bytes).toString('utf8');
    } catch (e) {
      throw new RecordObjectError(key, `not gzip: ${(e as Error).message}`);
    }
  } else {
    text = Buffer.from(bytes).toString('utf8');
  }
  const lines = layout === 'batch' ? text.split('\n') : [text];
  if (layout === 'batch') {
    if (lines[lines.length - 1] !== '') throw new RecordObjectError(key, 'the last line is not terminated (a truncated batch)');
    lines.pop();
    if (lines.length === 0) throw new RecordObjectError(key, 'an empty batch');
  }
  return lines.map((line, i) => {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new RecordObjectError(key, `${layout === 'batch' ? `line ${i + 1}: ` : ''}not JSON: ${(e as Error).message}`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw new RecordObjectError(key, `${layout === 'batch' ? `line ${i + 1}: ` : ''}not a JSON object`);
    return v as Partial<SessionRecord>;
  });
}

function bySessionThenSeal(a: SessionRecord, b: SessionRecord): number {
  if (a.session_id !== b.session_id) return a.session_id < b.session_id ? -1 : 1;
  return a.record_sha256 < b.record_sha256 ? -1 : a.record_sha256 > b.record_sha256 ? 1 : 0;
}
