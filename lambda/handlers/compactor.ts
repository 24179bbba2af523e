/**
 * The compactor function's core, without Lambda (issue 16): a batch of DynamoDB stream records of
 * the journal table in, batch objects in the Object Lock bucket out (one gzip JSON Lines object per
 * hour partition, `core/audit/compactor.ts`). Only inserts carry records; TTL removals are ignored.
 *
 * Fails the whole batch when it cannot archive it: Lambda retries it (bisecting on error), and sends
 * it to the on-failure destination when the retries run out; the journal item stays in the table
 * meanwhile, and `embedgate audit verify --journal-table` reports it as not archived. Logs counts
 * and keys, never record contents.
 *
 * Intents (`DynamoDbJournal.putIntent`, journaled while a request's upstream call runs) are not
 * archived: a request's final record is. When DynamoDB's TTL removes an intent (its grace period,
 * longer than any proxy invocation, is over), the stream delivers the removal (`REMOVE`, old image)
 * and the compactor journals the intent as the request's final record unless one is journaled
 * (`completeIntent`): the function died during the upstream call, and its one record says
 * `no_outcome`. That record comes back through the stream as an insert and is archived as any.
 */
import { compactRecords, type CompactResult } from '../core/audit/compactor';
import type { ArchiveObjects } from '../core/audit/ports';
import { recordSha256, type SessionRecord } from '../core/record';
import { isIntentItem, recordOfJournalItem } from '../adapters/aws/dynamodb-journal';

export interface CompactorLog {
  info(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

type StreamImage = Record<string, { B?: string; S?: string } | undefined>;

/** The part of a DynamoDB stream event the compactor reads. */
export interface JournalStreamEvent {
  readonly Records: ReadonlyArray<{
    readonly eventName?: string;
    readonly dynamodb?: { readonly NewImage?: StreamImage; readonly OldImage?: StreamImage; readonly SequenceNumber?: string };
  }>;
}

/** Completes intents whose grace period is over (`DynamoDbJournal`). */
export interface IntentCompleter {
  completeIntent(intent: SessionRecord): Promise<'completed' | 'had_record'>;
}

export interface CompactorResult extends CompactResult {
  /** Intents journaled as their request's final record (`no_outcome`) by this invocation. */
  readonly intentsCompleted: number;
}

export function createCompactorHandler(
  objects: ArchiveObjects,
  log: CompactorLog,
  intents?: IntentCompleter,
): (event: JournalStreamEvent) => Promise<CompactorResult> {
  return async (event) => {
    const records: SessionRecord[] = [];
    const expired: SessionRecord[] = [];
    for (const r of event.Records) {
      if (r.eventName === 'REMOVE' && r.dynamodb?.OldImage && isIntentItem(r.dynamodb.OldImage)) {
        expired.push(recordOfJournalItem(r.dynamodb.OldImage));
        continue;
      }
      if (r.eventName !== 'INSERT' || !r.dynamodb?.NewImage || isIntentItem(r.dynamodb.NewImage)) continue;
      const record = recordOfJournalItem(r.dynamodb.NewImage);
      // Archived as journaled, whatever it holds: verify reports a record whose seal does not match.
      if (recordSha256(record) !== record.record_sha256)
        log.error('journaled record does not match its seal', { sessionId: record.session_id, sequenceNumber: r.dynamodb.SequenceNumber });
      records.push(record);
    }
    let intentsCompleted = 0;
    if (expired.length > 0) {
      // Without a completer the batch fails (retried, then the on-failure queue): never dropped silently.
      if (!intents) throw new Error(`${expired.length} expired intent(s) and no journal to complete them in`);
      for (const intent of expired) {
        if ((await intents.completeIntent(intent)) !== 'completed') continue;
        intentsCompleted++;
        log.info('intent completed: the request had no outcome', { sessionId: intent.session_id });
      }
    }
    const result = await compactRecords(records, objects);
    log.info('journal batch archived', { ...result, streamRecords: event.Records.length, intentsCompleted });
    return { ...result, intentsCompleted };
  };
}
