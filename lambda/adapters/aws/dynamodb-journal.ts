import { gunzipSync, gzipSync } from 'node:zlib';
import { GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ArchiveConflictError } from '../../core/errors';
import type { Archive } from '../../core/ports';
import { recordKey, type SessionRecord } from '../../core/record';

/** Attribute names of a journal item. `session_id` is the partition key; `expires_at` the TTL attribute. */
export const JOURNAL_ATTRIBUTES = {
  partitionKey: 'session_id',
  /** gzip of the record's JSON line (the exact text the archive stores). */
  record: 'record',
  recordSha256: 'record_sha256',
  startedAt: 'started_at',
  /** Epoch seconds: DynamoDB TTL removes the item some time after (long after the compactor archived it). */
  expiresAt: 'expires_at',
} as const;

/** Options of {@link DynamoDbJournal}. */
export interface DynamoDbJournalOptions {
  readonly tableName: string;
  /** How long a journal item is kept after its write, seconds (TTL). @default 7 days */
  readonly retentionSeconds?: number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
}

/**
 * The write-ahead journal in AWS (issue 16), an {@link Archive}: `put` is one conditional PutItem
 * (`attribute_not_exists(session_id)`) of the gzip-compressed record, acknowledged by DynamoDB only
 * once it is durable in three availability zones, so the gateway's fail-closed promise holds with a
 * single-digit-millisecond write instead of an S3 PUT. The table's stream feeds the compactor
 * (`handlers/compactor.ts`), which writes the records in batches into the Object Lock bucket.
 *
 * A record already journaled under its session id is refused ({@link ArchiveConflictError}), unless
 * it is the same record (same seal): an SDK retry of a write DynamoDB had applied is a success.
 */
export class DynamoDbJournal implements Archive {
  private readonly tableName: string;
  private readonly retentionSeconds: number;
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBClient,
    opts: DynamoDbJournalOptions,
  ) {
    if (!opts.tableName) throw new Error('DynamoDbJournal: tableName is required');
    this.tableName = opts.tableName;
    this.retentionSeconds = opts.retentionSeconds ?? 7 * 86_400;
    if (!Number.isInteger(this.retentionSeconds) || this.retentionSeconds < 86_400)
      throw new Error(`DynamoDbJournal: retentionSeconds must be a whole number of at least 86400 (a day), got ${opts.retentionSeconds}`);
    this.now = opts.now ?? Date.now;
  }

  async put(record: SessionRecord): Promise<{ key: string }> {
    const key = recordKey(record);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: journalItem(record, Math.ceil(this.now() / 1000) + this.retentionSeconds),
          ConditionExpression: 'attribute_not_exists(#id)',
          ExpressionAttributeNames: { '#id': JOURNAL_ATTRIBUTES.partitionKey },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (e) {
      if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') throw e;
      // The item that was there (returned with the failure; read back where an endpoint does not return it).
      const old =
        (e as { Item?: Record<string, AttributeValue> }).Item ??
        (
          await this.client.send(
            new GetItemCommand({
              TableName: this.tableName,
              Key: { [JOURNAL_ATTRIBUTES.partitionKey]: { S: record.session_id } },
              ConsistentRead: true,
              ProjectionExpression: '#seal',
              ExpressionAttributeNames: { '#seal': JOURNAL_ATTRIBUTES.recordSha256 },
            }),
          )
        ).Item;
      if (old?.[JOURNAL_ATTRIBUTES.recordSha256]?.S === record.record_sha256) return { key };
      throw new ArchiveConflictError(key, { cause: e });
    }
    return { key };
  }

  /** The seal and start of every journaled record (a Scan; `embedgate audit verify --journal-table`). */
  async *entries(): AsyncIterable<JournalEntry> {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          ProjectionExpression: '#id, #seal, #start',
          ExpressionAttributeNames: {
            '#id': JOURNAL_ATTRIBUTES.partitionKey,
            '#seal': JOURNAL_ATTRIBUTES.recordSha256,
            '#start': JOURNAL_ATTRIBUTES.startedAt,
          },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const id = item[JOURNAL_ATTRIBUTES.partitionKey]?.S;
        const seal = item[JOURNAL_ATTRIBUTES.recordSha256]?.S;
        const startedAt = item[JOURNAL_ATTRIBUTES.startedAt]?.S;
        if (id && seal && startedAt) yield { session_id: id, record_sha256: seal, started_at: startedAt };
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }
}

/** What verification needs of a journaled record. */
export interface JournalEntry {
  readonly session_id: string;
  readonly record_sha256: string;
  readonly started_at: string;
}

/** The journal item of a record (exported so its attributes can be checked on their own). */
export function journalItem(record: SessionRecord, expiresAtSeconds: number): Record<string, AttributeValue> {
  return {
    [JOURNAL_ATTRIBUTES.partitionKey]: { S: record.session_id },
    [JOURNAL_ATTRIBUTES.record]: { B: gzipSync(Buffer.from(JSON.stringify(record), 'utf8'), { level: 1 }) },
    [JOURNAL_ATTRIBUTES.recordSha256]: { S: record.record_sha256 },
    [JOURNAL_ATTRIBUTES.startedAt]: { S: record.started_at },
    [JOURNAL_ATTRIBUTES.expiresAt]: { N: String(expiresAtSeconds) },
  };
}

/**
 * The record of a journal item as a DynamoDB stream delivers it (`NewImage`: `B` is base64 text in a
 * Lambda event, bytes through the SDK). Throws when the item is not a journal item.
 */
export function recordOfJournalItem(item: Record<string, { B?: Uint8Array | string; S?: string } | undefined>): SessionRecord {
  const b = item[JOURNAL_ATTRIBUTES.record]?.B;
  if (b === undefined) throw new Error('not a journal item: no record attribute');
  const bytes = typeof b === 'string' ? Buffer.from(b, 'base64') : b;
  const record = JSON.parse(gunzipSync(bytes).toString('utf8')) as SessionRecord;
  if (record.session_id !== item[JOURNAL_ATTRIBUTES.partitionKey]?.S) throw new Error('journal item: the record is not the item’s session');
  return record;
}
