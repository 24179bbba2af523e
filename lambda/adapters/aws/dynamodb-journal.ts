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
  /** `intent` on an intent item (its partition key is the session id + {@link INTENT_KEY_SUFFIX}); absent on a final record. */
  kind: 'kind',
} as const;

/** The partition key of a session's intent item is its session id followed by this. */
export const INTENT_KEY_SUFFIX = '#intent';

/** Options of {@link DynamoDbJournal}. */
export interface DynamoDbJournalOptions {
  readonly tableName: string;
  /** How long a journal item is kept after its write, seconds (TTL). @default 7 days */
  readonly retentionSeconds?: number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * How long an intent item lives (TTL) before DynamoDB removes it; the removal reaches the
   * compactor through the stream, which completes the intent if no final record was journaled.
   * Must exceed the longest a proxy invocation can run (Lambda's limit is 15 minutes), seconds.
   * @default 1200 (20 minutes)
   */
  readonly intentGraceSeconds?: number;
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
  private readonly intentGraceSeconds: number;

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
    this.intentGraceSeconds = opts.intentGraceSeconds ?? 1200;
    if (!Number.isInteger(this.intentGraceSeconds) || this.intentGraceSeconds < 900)
      throw new Error(
        `DynamoDbJournal: intentGraceSeconds must be a whole number of at least 900 (Lambda's longest invocation), got ${opts.intentGraceSeconds}`,
      );
  }

  /**
   * Journal a request's intent while its upstream call runs (issue 16): one conditional PutItem of
   * the intent item (`<session id>#intent`, `kind: intent`), its TTL `intentGraceSeconds` on. When
   * DynamoDB's TTL removes it, the stream hands it to the compactor, which journals it as the
   * request's final record if none was (`completeIntent`): a request whose function died during
   * the upstream call still leaves exactly one record.
   */
  async putIntent(intent: SessionRecord): Promise<void> {
    const item = journalItem(intent, Math.ceil(this.now() / 1000) + this.intentGraceSeconds);
    item[JOURNAL_ATTRIBUTES.partitionKey] = { S: intent.session_id + INTENT_KEY_SUFFIX };
    item[JOURNAL_ATTRIBUTES.kind] = { S: 'intent' };
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#id)',
          ExpressionAttributeNames: { '#id': JOURNAL_ATTRIBUTES.partitionKey },
        }),
      );
    } catch (e) {
      // An SDK retry of an applied write finds its own item: the intent is journaled either way.
      if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') throw e;
    }
  }

  /** Whether a final record of `sessionId` is journaled (a consistent read). */
  async hasRecord(sessionId: string): Promise<boolean> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { [JOURNAL_ATTRIBUTES.partitionKey]: { S: sessionId } },
        ConsistentRead: true,
        ProjectionExpression: '#id',
        ExpressionAttributeNames: { '#id': JOURNAL_ATTRIBUTES.partitionKey },
      }),
    );
    return out.Item !== undefined;
  }

  /**
   * Complete an intent whose grace period is over: journal it as its request's final record unless
   * one is journaled (`had_record`). A final record journaled meanwhile wins the conditional write
   * (also `had_record`): either way the session has exactly one record.
   */
  async completeIntent(intent: SessionRecord): Promise<'completed' | 'had_record'> {
    if (await this.hasRecord(intent.session_id)) return 'had_record';
    try {
      await this.put(intent);
      return 'completed';
    } catch (e) {
      if (e instanceof ArchiveConflictError) return 'had_record';
      throw e;
    }
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

  /** The seal and start of every journaled record and intent (a Scan; `embedgate audit verify --journal-table`). */
  async *entries(): AsyncIterable<JournalEntry> {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          ProjectionExpression: '#id, #seal, #start, #kind',
          ExpressionAttributeNames: {
            '#id': JOURNAL_ATTRIBUTES.partitionKey,
            '#seal': JOURNAL_ATTRIBUTES.recordSha256,
            '#start': JOURNAL_ATTRIBUTES.startedAt,
            '#kind': JOURNAL_ATTRIBUTES.kind,
          },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const id = item[JOURNAL_ATTRIBUTES.partitionKey]?.S;
        const seal = item[JOURNAL_ATTRIBUTES.recordSha256]?.S;
        const startedAt = item[JOURNAL_ATTRIBUTES.startedAt]?.S;
        if (!id || !seal || !startedAt) continue;
        if (isIntentItem(item))
          yield { session_id: id.slice(0, -INTENT_KEY_SUFFIX.length), record_sha256: seal, started_at: startedAt, intent: true };
        else yield { session_id: id, record_sha256: seal, started_at: startedAt };
      }
      start = page.LastEvaluatedKey;
    } while (start);
  }
}

/** What verification needs of a journaled record (or, with `intent`, of an intent). */
export interface JournalEntry {
  readonly session_id: string;
  readonly record_sha256: string;
  readonly started_at: string;
  readonly intent?: true;
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
  const key = isIntentItem(item) ? record.session_id + INTENT_KEY_SUFFIX : record.session_id;
  if (key !== item[JOURNAL_ATTRIBUTES.partitionKey]?.S) throw new Error('journal item: the record is not the item’s session');
  return record;
}

/** Whether a journal item is an intent (see {@link DynamoDbJournal.putIntent}), not a final record. */
export function isIntentItem(item: Record<string, { S?: string } | undefined>): boolean {
  const kind = item[JOURNAL_ATTRIBUTES.kind]?.S;
  if (kind === undefined) return false;
  if (kind !== 'intent') throw new Error(`journal item: unknown kind ${JSON.stringify(kind.slice(0, 40))}`);
  return true;
}
