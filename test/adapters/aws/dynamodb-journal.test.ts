/**
 * The DynamoDB write-ahead journal (issue 16) with the real DynamoDBClient against dynalite, and the
 * compactor handler fed with the stream events that table would deliver.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DynamoDbJournal, journalItem, recordOfJournalItem, INTENT_KEY_SUFFIX } from '../../../lambda/adapters/aws/dynamodb-journal';
import { DirectoryObjects } from '../../../lambda/adapters/local/archive-objects';
import { isArchiveConflict } from '../../../lambda/core/errors';
import { createCompactorHandler, type JournalStreamEvent } from '../../../lambda/handlers/compactor';
import { exportRecords } from '../../../cli/audit-export';
import { startDynalite, type StandIn } from '../../support/aws-standins';
import { dynamoDbClientOf, createKeyedTable } from '../../support/dynamodb';
import { sid, testRecord } from '../../support/records';

let dynamo: StandIn;
let client: DynamoDBClient;
let table: string;
let n = 0;
const T0 = Date.parse('2026-03-01T05:00:00.000Z');

beforeAll(async () => {
  dynamo = await startDynalite();
  client = dynamoDbClientOf(dynamo.endpoint);
});
beforeEach(async () => {
  table = `journal-${++n}`;
  await createKeyedTable(client, table, 'session_id');
});
afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

describe('DynamoDbJournal', () => {
  it('writes the documented item: gzip record, seal, start, TTL 7 days on', async () => {
    const r = testRecord(sid(1));
    const j = new DynamoDbJournal(client, { tableName: table, now: () => T0 });
    await j.put(r);
    const item = (await client.send(new GetItemCommand({ TableName: table, Key: { session_id: { S: r.session_id } } }))).Item!;
    expect(item.record_sha256).toEqual({ S: r.record_sha256 });
    expect(item.started_at).toEqual({ S: r.started_at });
    expect(item.expires_at).toEqual({ N: String(T0 / 1000 + 7 * 86_400) });
    expect(recordOfJournalItem(item as never)).toEqual(r);
  });

  it('a different record under a journaled session id is refused (write-once)', async () => {
    const j = new DynamoDbJournal(client, { tableName: table });
    await j.put(testRecord(sid(1)));
    const e = await j.put(testRecord(sid(1), '2026-03-01T05:06:08.000Z')).catch((x: unknown) => x);
    expect(isArchiveConflict(e)).toBe(true);
  });

  it('the same record again (an SDK retry of an applied write) is a success, not a conflict', async () => {
    const j = new DynamoDbJournal(client, { tableName: table });
    const r = testRecord(sid(1));
    await j.put(r);
    await expect(j.put(r)).resolves.toEqual({ key: expect.stringContaining(r.session_id) });
  });

  it('rejects when DynamoDB cannot take the record (the gateway then fails closed)', async () => {
    const j = new DynamoDbJournal(client, { tableName: 'no-such-table' });
    await expect(j.put(testRecord(sid(1)))).rejects.toThrow();
  });

  it('lists every journaled seal for verification', async () => {
    const j = new DynamoDbJournal(client, { tableName: table });
    const recs = [1, 2, 3].map((i) => testRecord(sid(i)));
    for (const r of recs) await j.put(r);
    const seen = [];
    for await (const e of j.entries()) seen.push(e);
    expect(seen.sort((a, b) => (a.session_id < b.session_id ? -1 : 1))).toEqual(
      recs.map((r) => ({ session_id: r.session_id, record_sha256: r.record_sha256, started_at: r.started_at })),
    );
  });

  it('fails on a retention under a day', () => {
    expect(() => new DynamoDbJournal(client, { tableName: table, retentionSeconds: 60 })).toThrow(/at least 86400/);
  });
});

describe('compactor handler', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'embedgate-compactor-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const streamEvent = (records: ReturnType<typeof testRecord>[], extra: JournalStreamEvent['Records'] = []): JournalStreamEvent => ({
    Records: [
      ...records.map((r, i) => {
        const item = journalItem(r, 0);
        // A Lambda event carries B as base64 text.
        const image = Object.fromEntries(
          Object.entries(item).map(([k, v]) => [k, v.B ? { B: Buffer.from(v.B).toString('base64') } : (v as { S?: string })]),
        );
        return { eventName: 'INSERT', dynamodb: { NewImage: image, SequenceNumber: String(i) } };
      }),
      ...extra,
    ],
  });
  const log = { info: jest.fn(), error: jest.fn() };

  it('archives a stream batch as one object per hour; a redelivered batch writes nothing new; TTL removals are ignored', async () => {
    const objects = new DirectoryObjects(dir);
    const handler = createCompactorHandler(objects, log);
    const recs = [testRecord(sid(1)), testRecord(sid(2)), testRecord(sid(3), '2026-03-01T06:00:01.000Z')];
    const ev = streamEvent(recs, [{ eventName: 'REMOVE', dynamodb: {} }]);
    const first = await handler(ev);
    expect(first.written).toHaveLength(2);
    const again = await handler(ev);
    expect(again.written).toEqual([]);
    expect(again.existing).toEqual(first.written);
    expect(await exportRecords(objects)).toEqual(recs);
  });

  it('a record whose seal does not match is archived as journaled and logged (verify reports it)', async () => {
    const handler = createCompactorHandler(new DirectoryObjects(dir), log);
    const r = { ...testRecord(sid(1)), decision: { ...testRecord(sid(1)).decision, status: 200 } };
    await handler(streamEvent([r]));
    expect(log.error).toHaveBeenCalledWith(
      'journaled record does not match its seal',
      expect.objectContaining({ sessionId: r.session_id }),
    );
  });

  it('fails the invocation when the bucket refuses the batch (Lambda retries, then the on-failure destination)', async () => {
    const failing = {
      location: 'x',
      list: async function* () {},
      get: async () => null,
      create: () => Promise.reject(new Error('AccessDenied')),
    };
    await expect(createCompactorHandler(failing, log)(streamEvent([testRecord(sid(1))]))).rejects.toThrow('AccessDenied');
  });
});

describe('intents: journaled while the upstream call runs, completed when no final record follows', () => {
  const intentOf = (n: number) => testRecord(sid(n), '2026-03-01T05:06:07.000Z', 504);
  const finalOf = (n: number) => testRecord(sid(n), '2026-03-01T05:06:07.000Z', 200);
  const getItem = async (key: string) =>
    (await client.send(new GetItemCommand({ TableName: table, Key: { session_id: { S: key } } }))).Item;
  /** The stream image of an item as a Lambda event carries it (B as base64 text). */
  const imageOf = (item: Record<string, AttributeValue>) =>
    Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v.B ? { B: Buffer.from(v.B).toString('base64') } : (v as { S?: string })]));
  const log = { info: jest.fn(), error: jest.fn() };
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'embedgate-intents-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('an intent is its own item (kind intent, TTL the grace period on) beside the final record; verification sees both, the intent marked', async () => {
    const j = new DynamoDbJournal(client, { tableName: table, now: () => T0 });
    await j.putIntent(intentOf(1));
    await j.put(finalOf(1));
    const intent = (await getItem(sid(1) + INTENT_KEY_SUFFIX))!;
    expect(intent.kind).toEqual({ S: 'intent' });
    expect(intent.expires_at).toEqual({ N: String(T0 / 1000 + 1200) });
    expect(recordOfJournalItem(intent as never)).toEqual(intentOf(1));
    expect(recordOfJournalItem((await getItem(sid(1))) as never)).toEqual(finalOf(1));
    const seen = [];
    for await (const e of j.entries()) seen.push(e);
    expect(seen.sort((a, b) => Number(a.intent ?? false) - Number(b.intent ?? false))).toEqual([
      { session_id: sid(1), record_sha256: finalOf(1).record_sha256, started_at: finalOf(1).started_at },
      { session_id: sid(1), record_sha256: intentOf(1).record_sha256, started_at: intentOf(1).started_at, intent: true },
    ]);
    await expect(j.putIntent(intentOf(1))).resolves.toBeUndefined(); // an SDK retry of the applied write
  });

  it('fails on an intent grace period shorter than a Lambda invocation can run', () => {
    expect(() => new DynamoDbJournal(client, { tableName: table, intentGraceSeconds: 600 })).toThrow(/at least 900/);
  });

  it('an intent item passed off as a final record (or a final as an intent) is refused', () => {
    const item = journalItem(intentOf(1), 0);
    expect(() => recordOfJournalItem({ ...item, kind: { S: 'intent' } } as never)).toThrow(/not the item/);
    expect(() => recordOfJournalItem({ ...item, kind: { S: 'other' } } as never)).toThrow(/unknown kind/);
  });

  it('the compactor archives no intent; the TTL removal of an intent without a final record journals it as the record, once', async () => {
    const j = new DynamoDbJournal(client, { tableName: table });
    const objects = new DirectoryObjects(dir);
    const handler = createCompactorHandler(objects, log, j);
    await j.putIntent(intentOf(1));
    await j.putIntent(intentOf(2));
    await j.put(finalOf(2));
    const i1 = (await getItem(sid(1) + INTENT_KEY_SUFFIX))!;
    const i2 = (await getItem(sid(2) + INTENT_KEY_SUFFIX))!;
    // The inserts: the intents are not archived, the final record is.
    const inserted = await handler({
      Records: [i1, i2, (await getItem(sid(2)))!].map((it) => ({ eventName: 'INSERT', dynamodb: { NewImage: imageOf(it) } })),
    });
    expect(inserted).toMatchObject({ records: 1, intentsCompleted: 0 });
    expect(await exportRecords(objects)).toEqual([finalOf(2)]);
    // The TTL removals: intent 2 had its final record; intent 1 did not (its function died).
    const removed = { Records: [i1, i2].map((it) => ({ eventName: 'REMOVE', dynamodb: { OldImage: imageOf(it) } })) };
    expect(await handler(removed)).toMatchObject({ intentsCompleted: 1, records: 0 });
    expect(recordOfJournalItem((await getItem(sid(1))) as never)).toEqual(intentOf(1));
    expect(recordOfJournalItem((await getItem(sid(2))) as never)).toEqual(finalOf(2));
    // A redelivered removal completes nothing twice.
    expect(await handler(removed)).toMatchObject({ intentsCompleted: 0 });
    // The completion comes back through the stream as an insert and is archived: one record per session.
    await handler({ Records: [{ eventName: 'INSERT', dynamodb: { NewImage: imageOf((await getItem(sid(1)))!) } }] });
    expect(await exportRecords(objects)).toEqual([intentOf(1), finalOf(2)]);
  });

  it('a final record that lands while the intent is being completed wins; the completion is dropped, not a second record', async () => {
    const j = new DynamoDbJournal(client, { tableName: table });
    jest.spyOn(j, 'hasRecord').mockImplementationOnce(async () => {
      await j.put(finalOf(1)); // the final record lands between the look-up and the completion
      return false;
    });
    expect(await j.completeIntent(intentOf(1))).toBe('had_record');
    expect(recordOfJournalItem((await getItem(sid(1))) as never)).toEqual(finalOf(1));
  });

  it('an expired intent with no journal to complete it in fails the batch (retried, never dropped)', async () => {
    const j = new DynamoDbJournal(client, { tableName: table });
    await j.putIntent(intentOf(1));
    const i1 = (await getItem(sid(1) + INTENT_KEY_SUFFIX))!;
    const handler = createCompactorHandler(new DirectoryObjects(dir), log);
    await expect(handler({ Records: [{ eventName: 'REMOVE', dynamodb: { OldImage: imageOf(i1) } }] })).rejects.toThrow(/expired intent/);
  });
});
