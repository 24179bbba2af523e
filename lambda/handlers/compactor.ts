/**
 * The compactor function's core, without Lambda (issue 16): a batch of DynamoDB stream records of
 * the journal table in, batch objects in the Object Lock bucket out (one gzip JSON Lines object per
 * hour partition, `core/audit/compactor.ts`). Only inserts carry records; TTL removals are ignored.
 *
 * Fails the whole batch when it cannot archive it: Lambda retries it (bisecting on error), and sends
 * it to the on-failure destination when the retries run out; the journal item stays in the table
 * meanwhile, and `embedgate audit verify --journal-table` reports it as not archived. Logs counts
 * and keys, never record contents.
 */
import { compactRecords, type CompactResult } from '../core/audit/compactor';
import type { ArchiveObjects } from '../core/audit/ports';
import { recordSha256, type SessionRecord } from '../core/record';
import { recordOfJournalItem } from '../adapters/aws/dynamodb-journal';

export interface CompactorLog {
  info(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** The part of a DynamoDB stream event the compactor reads. */
export interface JournalStreamEvent {
  readonly Records: ReadonlyArray<{
    readonly eventName?: string;
    readonly dynamodb?: { readonly NewImage?: Record<string, { B?: string; S?: string } | undefined>; readonly SequenceNumber?: string };
  }>;
}

export function createCompactorHandler(objects: ArchiveObjects, log: CompactorLog): (event: JournalStreamEvent) => Promise<CompactResult> {
  return async (event) => {
    const records: SessionRecord[] = [];
    for (const r of event.Records) {
      if (r.eventName !== 'INSERT' || !r.dynamodb?.NewImage) continue;
      const record = recordOfJournalItem(r.dynamodb.NewImage);
      // Archived as journaled, whatever it holds: verify reports a record whose seal does not match.
      if (recordSha256(record) !== record.record_sha256)
        log.error('journaled record does not match its seal', { sessionId: record.session_id, sequenceNumber: r.dynamodb.SequenceNumber });
      records.push(record);
    }
    const result = await compactRecords(records, objects);
    log.info('journal batch archived', { ...result, streamRecords: event.Records.length });
    return result;
  };
}
