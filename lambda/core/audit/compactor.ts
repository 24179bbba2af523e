/**
 * The compactor: moves journaled records into the archive, one batch object per hour partition
 * (see `batch.ts`). The same code runs behind DynamoDB Streams in AWS (`handlers/compactor.ts`)
 * and behind the local journal of `embedgate dev` (`adapters/local/journal.ts`).
 *
 * Idempotent: a batch lands on a key derived from its records, objects are created write-once,
 * and an object found at that key with the same records counts as written. A retry after a crash
 * or a redelivery therefore never duplicates a batch nor fails on the one it wrote before.
 */
import type { SessionRecord } from '../record';
import { BATCH_CONTENT_TYPE, decodeRecordObject, encodeBatches } from './batch';
import { mapLimit } from '../util/concurrency';
import { ObjectExistsError, type ArchiveObjects } from './ports';

export interface CompactResult {
  /** Batch objects written now. */
  readonly written: readonly string[];
  /** Batch objects found already written by an earlier attempt. */
  readonly existing: readonly string[];
  /** Records in the batches (after dropping exact duplicates). */
  readonly records: number;
  /** Bytes written. */
  readonly bytes: number;
}

/** Write `records` as batch objects. Resolves once every batch is durable in `objects`; rejects otherwise. */
export async function compactRecords(
  records: Iterable<SessionRecord>,
  objects: ArchiveObjects,
  opts: { readonly concurrency?: number } = {},
): Promise<CompactResult> {
  const batches = encodeBatches(records);
  const written: string[] = [];
  const existing: string[] = [];
  let bytes = 0;
  await mapLimit(batches, opts.concurrency ?? 4, async (b) => {
    try {
      await objects.create(b.key, b.body, BATCH_CONTENT_TYPE);
      written.push(b.key);
      bytes += b.body.byteLength;
    } catch (e) {
      if (!(e instanceof ObjectExistsError) && (e as { name?: string }).name !== 'ObjectExistsError') throw e;
      const stored = await objects.get(b.key);
      const seals = stored ? decodeRecordObject(b.key, stored).map((r) => `${r.session_id}\n${r.record_sha256}`) : [];
      const ours = b.records.map((r) => `${r.session_id}\n${r.record_sha256}`);
      if (seals.length !== ours.length || seals.some((s, i) => s !== ours[i]))
        throw new Error(`${b.key} exists with other records than this batch's: refusing to treat the batch as archived`, { cause: e });
      existing.push(b.key);
    }
  });
  return { written: written.sort(), existing: existing.sort(), records: batches.reduce((n, b) => n + b.records.length, 0), bytes };
}
