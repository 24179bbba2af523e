/**
 * DynamoDbApprovalStore with the real DynamoDBClient against dynalite: item layout and TTL,
 * create-once, compare-and-set updates, listing, grants.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetItemCommand, PutItemCommand, ScanCommand, type BatchGetItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { approvalExpiresAt, approvalItem, DynamoDbApprovalStore } from '../../../lambda/adapters/aws/dynamodb-approvals';
import type { Approval, ApprovalGrant } from '../../../lambda/core/ports';
import { startDynalite } from '../../support/aws-standins';
import { dynamoDbClientOf } from '../../support/dynamodb';
import type { StandIn } from '../../support/aws-standins';
import { createApprovalTable, pendingApproval, REQUESTER, T0 } from '../../support/approval-items';

const DAY_MS = 86_400_000;

let dynamo: StandIn;
let client: DynamoDBClient;
/** Commands the client sent, in order. */
let sent: { command: string; input: Record<string, unknown> }[] = [];
let table: string;
let store: DynamoDbApprovalStore;

beforeAll(async () => {
  dynamo = await startDynalite();
  client = dynamoDbClientOf(dynamo.endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ command: String(context.commandName), input: structuredClone(args.input) as Record<string, unknown> });
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
});
beforeEach(async () => {
  table = await createApprovalTable(client);
  store = new DynamoDbApprovalStore(client, { tableName: table, sleep: async () => undefined });
  sent = [];
});
afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

const rawItem = async (pk: string) => (await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } } }))).Item;
const next = (a: Approval, over: Partial<Approval>): Approval => ({ ...a, ...over, revision: a.revision + 1 });

describe('approvals', () => {
  it('stores the documented item: the whole approval in doc, revision, status, createdAt, and the TTL 30 days after its last deadline', async () => {
    const a = pendingApproval('0190a1b2-0000-7000-8000-000000000001');
    await store.create(a);
    expect(await rawItem(`approval#${a.id}`)).toEqual({
      pk: { S: `approval#${a.id}` },
      doc: { S: JSON.stringify(a) },
      revision: { N: '0' },
      status: { S: 'pending' },
      createdAt: { N: String(T0) },
      expiresAt: { N: String((T0 + 3_600_000 + 30 * DAY_MS) / 1000) },
    });
    await expect(store.get(a.id)).resolves.toEqual(a);
  });

  it('the TTL follows the latest deadline: decision, use or grant, rounded up to a second', () => {
    const a = pendingApproval('x');
    expect(approvalExpiresAt(a)).toBe((a.expiresAt + 30 * DAY_MS) / 1000);
    expect(approvalExpiresAt({ ...a, useBy: a.expiresAt + 900_500 })).toBe((a.expiresAt + 901_000 + 30 * DAY_MS) / 1000);
    expect(approvalExpiresAt({ ...a, useBy: a.expiresAt - 1, grantUntil: a.expiresAt + 7 * DAY_MS })).toBe(
      (a.expiresAt + 37 * DAY_MS) / 1000,
    );
  });

  it('an update moves the TTL and the status with the document', async () => {
    const a = pendingApproval('a1');
    await store.create(a);
    const approved = next(a, { status: 'approved', decidedAt: T0 + 60_000, useBy: T0 + 2 * 3_600_000 });
    await expect(store.update(approved, 0)).resolves.toBe(true);
    const item = await rawItem('approval#a1');
    expect(item).toMatchObject({
      revision: { N: '1' },
      status: { S: 'approved' },
      expiresAt: { N: String((T0 + 2 * 3_600_000 + 30 * DAY_MS) / 1000) },
    });
    await expect(store.get('a1')).resolves.toEqual(approved);
  });

  it('create refuses an id that exists, and leaves the stored approval alone', async () => {
    const a = pendingApproval('dup');
    await store.create(a);
    await expect(store.create({ ...a, model: 'other' })).rejects.toThrow(/approval dup already exists/);
    await expect(store.get('dup')).resolves.toEqual(a);
    // Each create: the place in the pending list (compare-and-set), the requested# pointer, the approval (create-once).
    expect(
      sent
        .filter((s) => s.command === 'PutItemCommand')
        .map((s) => [
          String(s.input.Item && (s.input.Item as Record<string, { S?: string }>).pk!.S).split('#')[0],
          s.input.ConditionExpression,
        ]),
    ).toEqual([
      ['pending', 'attribute_not_exists(#pk)'],
      ['requested', undefined],
      ['approval', 'attribute_not_exists(#pk)'],
      ['pending', '#version = :expected'],
      ['requested', undefined],
      ['approval', 'attribute_not_exists(#pk)'],
    ]);
  });

  it('get reads strongly consistently and answers null for an unknown id', async () => {
    await expect(store.get('nope')).resolves.toBeNull();
    expect(sent).toEqual([
      { command: 'GetItemCommand', input: expect.objectContaining({ ConsistentRead: true, Key: { pk: { S: 'approval#nope' } } }) },
    ]);
  });

  it('compare-and-set: of two writers holding revision 0, only the first wins; the loser resolves false and changes nothing', async () => {
    const a = pendingApproval('cas');
    await store.create(a);
    const other = new DynamoDbApprovalStore(client, { tableName: table });
    const [one, two] = [await store.get('cas'), await other.get('cas')];
    const approve = next(one!, { status: 'approved', decidedAt: T0 + 1 });
    const deny = next(two!, { status: 'denied', decidedAt: T0 + 2 });
    await expect(store.update(approve, 0)).resolves.toBe(true);
    await expect(other.update(deny, 0)).resolves.toBe(false);
    await expect(store.get('cas')).resolves.toEqual(approve);
    // The loser re-reads and retries from revision 1.
    const fresh = await other.get('cas');
    await expect(other.update(next(fresh!, { status: 'used', usedAt: T0 + 3 }), 1)).resolves.toBe(true);
    await expect(store.get('cas')).resolves.toMatchObject({ revision: 2, status: 'used' });
  });

  it('concurrent updates from the same revision: exactly one succeeds', async () => {
    const a = pendingApproval('race');
    await store.create(a);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.update(next(a, { preview: `writer ${i}` }), 0)));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results.indexOf(true);
    await expect(store.get('race')).resolves.toMatchObject({ revision: 1, preview: `writer ${winner}` });
  });

  it('update never creates a missing approval', async () => {
    await expect(store.update(next(pendingApproval('ghost'), {}), 0)).resolves.toBe(false);
    await expect(store.get('ghost')).resolves.toBeNull();
  });

  it('update refuses a next revision that is not expected + 1 (a caller bug), without writing', async () => {
    const a = pendingApproval('skip');
    await store.create(a);
    sent = [];
    await expect(store.update({ ...a, revision: 5 }, 0)).rejects.toThrow(/must carry revision 1, not 5/);
    expect(sent).toEqual([]);
  });

  it('other errors propagate (a missing table is not a lost race)', async () => {
    const lost = new DynamoDbApprovalStore(client, { tableName: 'no-such-table' });
    await expect(lost.update(next(pendingApproval('x'), {}), 0)).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(lost.get('x')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('a malformed item is an error, not "no approval"', async () => {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: 'approval#bad' }, doc: { S: JSON.stringify(pendingApproval('other')) }, revision: { N: '0' } },
      }),
    );
    await expect(store.get('bad')).rejects.toThrow(/malformed/);
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'approval#nodoc' }, revision: { N: '0' } } }));
    await expect(store.get('nodoc')).rejects.toThrow(/no "doc" attribute/);
  });
});

describe('findRequested', () => {
  it('finds the approval last created for a requester, rule and payload hash; the pointer expires with the approval and is never listed', async () => {
    const a = pendingApproval('0190a1b2-0000-7000-8000-0000000000a1', { payloadSha256: 'sha256:feed' });
    await store.create(a);
    await expect(store.findRequested(a.requester, a.ruleId, 'sha256:feed')).resolves.toBe(a.id);
    await expect(store.findRequested(a.requester, a.ruleId, 'sha256:other')).resolves.toBeNull();
    await expect(store.findRequested({ ...a.requester, subject: 'someone-else' }, a.ruleId, 'sha256:feed')).resolves.toBeNull();
    const b = pendingApproval('0190a1b2-0000-7000-8000-0000000000a2', { payloadSha256: 'sha256:feed' });
    await store.create(b);
    await expect(store.findRequested(a.requester, a.ruleId, 'sha256:feed')).resolves.toBe(b.id);
    const pointer = await rawItem(`requested#${JSON.stringify([a.requester.issuer, a.requester.subject, a.ruleId, 'sha256:feed'])}`);
    expect(pointer?.expiresAt).toEqual({ N: String(Math.ceil(b.expiresAt / 1000)) });
    expect((await store.list({ limit: 100 })).every((x) => typeof x.id === 'string' && x.requester !== undefined)).toBe(true);
  });
});

describe('create with a cap on pending approvals', () => {
  const id = (n: number) => `0190a1b2-0000-7000-8000-${String(n).padStart(12, '0')}`;
  const LIST = `pending#${JSON.stringify([REQUESTER.issuer, REQUESTER.subject, 'rag-export'])}`;
  const cap = (maxPending: number, now = T0) => ({ maxPending, now });
  const entries = async () => (JSON.parse((await rawItem(LIST))!.doc!.S!) as { entries: { id: string; decideBy: number }[] }).entries;

  it("a pending approval takes a place in its requester's list of the rule: the documented item", async () => {
    const a = pendingApproval(id(1));
    await expect(store.create(a, cap(10))).resolves.toBe(true);
    expect(await rawItem(LIST)).toEqual({
      pk: { S: LIST },
      doc: { S: JSON.stringify({ entries: [{ id: a.id, decideBy: a.expiresAt, reservedAt: T0 }] }) },
      version: { S: expect.stringMatching(/^[0-9a-f-]{36}$/) },
      expiresAt: { N: String((a.expiresAt + 30 * DAY_MS) / 1000) },
    });
    // Never listed as an approval.
    expect((await store.list({ limit: 100 })).map((x) => x.id)).toEqual([a.id]);
  });

  it('at the cap, create resolves false and stores nothing: no approval, no pointer, the list unchanged', async () => {
    await store.create(pendingApproval(id(1)), cap(2));
    await store.create(pendingApproval(id(2), { createdAt: T0 + 1 }), cap(2));
    const before = await rawItem(LIST);
    const c = pendingApproval(id(3), { payloadSha256: 'sha256:third' });
    await expect(store.create(c, cap(2))).resolves.toBe(false);
    await expect(store.get(c.id)).resolves.toBeNull();
    await expect(store.findRequested(c.requester, c.ruleId, 'sha256:third')).resolves.toBeNull();
    expect(await rawItem(LIST)).toEqual(before);
  });

  it('decided approvals and approvals past their deadline free their place, and leave the list', async () => {
    const a = pendingApproval(id(1));
    const b = pendingApproval(id(2), { expiresAt: T0 + 60_000 });
    await store.create(a, cap(2));
    await store.create(b, cap(2));
    await expect(store.create(pendingApproval(id(3)), cap(2))).resolves.toBe(false);
    await store.update(next(a, { status: 'denied', decidedAt: T0 + 5 }), 0);
    await expect(store.create(pendingApproval(id(3)), cap(2, T0 + 10))).resolves.toBe(true);
    expect((await entries()).map((e) => e.id)).toEqual([b.id, id(3)]);
    // b's deadline passes: its place is free without any decision.
    await expect(store.create(pendingApproval(id(4)), cap(2, T0 + 60_000))).resolves.toBe(true);
    expect((await entries()).map((e) => e.id)).toEqual([id(3), id(4)]);
  });

  it('holds under concurrency: of 8 concurrent creates under a cap of 3, exactly 3 are stored and 5 refused', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, n) => store.create(pendingApproval(id(10 + n), { payloadSha256: `sha256:${n}` }), cap(3))),
    );
    expect(results.filter((r) => r === true)).toHaveLength(3);
    expect(results.filter((r) => r === false)).toHaveLength(5);
    expect((await store.list({ limit: 100 })).filter((a) => a.status === 'pending')).toHaveLength(3);
    expect(await entries()).toHaveLength(3);
  });

  it('concurrent creates under the cap all succeed (losers of the compare-and-set read again)', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, n) => store.create(pendingApproval(id(20 + n), { payloadSha256: `sha256:${n}` }), cap(10))),
    );
    expect(results).toEqual(Array(8).fill(true));
    expect(await entries()).toHaveLength(8);
  });

  it('an approval created again with the very same document (an SDK retry of an applied write) is created; another with its id is not', async () => {
    const a = pendingApproval(id(30));
    await store.create(a, cap(5));
    await expect(store.create(a, cap(5))).resolves.toBe(true);
    await expect(store.create({ ...a, model: 'other' }, cap(5))).rejects.toThrow(/already exists/);
    expect((await entries()).map((e) => e.id)).toEqual([a.id]);
  });

  it('counts per requester (issuer and subject) and rule; separators in names cannot collide', async () => {
    await store.create(pendingApproval(id(1)), cap(1));
    await expect(store.create(pendingApproval(id(2)), cap(1))).resolves.toBe(false);
    await expect(store.create(pendingApproval(id(3), { ruleId: 'other-rule' }), cap(1))).resolves.toBe(true);
    await expect(store.create(pendingApproval(id(4), { requester: { ...REQUESTER, subject: 'svc-other' } }), cap(1))).resolves.toBe(true);
    await expect(
      store.create(pendingApproval(id(5), { requester: { ...REQUESTER, issuer: 'https://other.example.com' } }), cap(1)),
    ).resolves.toBe(true);
    await expect(store.create(pendingApproval(id(6), { requester: { ...REQUESTER, clientId: 'another-client' } }), cap(1))).resolves.toBe(
      false,
    );
    await store.create(pendingApproval(id(7), { requester: { ...REQUESTER, subject: 'a","b' }, ruleId: 'c' }), cap(1));
    await expect(
      store.create(pendingApproval(id(8), { requester: { ...REQUESTER, subject: 'a' }, ruleId: 'b","c' }), cap(1)),
    ).resolves.toBe(true);
  });

  it('a place whose approval is not stored holds for 15 minutes (longer than any Lambda invocation), then counts for nothing', async () => {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: LIST },
          doc: { S: JSON.stringify({ entries: [{ id: id(99), decideBy: T0 + 3_600_000, reservedAt: T0 }] }) },
          version: { S: 'v1' },
        },
      }),
    );
    await expect(store.create(pendingApproval(id(1)), cap(1, T0 + 15 * 60_000 - 1))).resolves.toBe(false);
    await expect(store.create(pendingApproval(id(1)), cap(1, T0 + 15 * 60_000))).resolves.toBe(true);
    expect((await entries()).map((e) => e.id)).toEqual([id(1)]);
  });

  it('without a cap a pending approval is still listed (a later capped create counts it); other statuses are not', async () => {
    await store.create(pendingApproval(id(1)));
    await store.create(pendingApproval(id(2), { status: 'approved', decidedAt: T0, useBy: T0 + 900_000 }));
    expect((await entries()).map((e) => e.id)).toEqual([id(1)]);
    await expect(store.create(pendingApproval(id(3)), cap(1))).resolves.toBe(false);
  });

  /** A list of `n` pending approvals of REQUESTER's rag-export, written directly, reserved long ago. */
  const seedList = async (n: number) => {
    const listed = [];
    for (let k = 0; k < n; k++) {
      const a = pendingApproval(id(1000 + k));
      await client.send(new PutItemCommand({ TableName: table, Item: approvalItem(a) }));
      listed.push({ id: a.id, decideBy: a.expiresAt, reservedAt: T0 - DAY_MS });
    }
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: LIST }, doc: { S: JSON.stringify({ entries: listed }) }, version: { S: 'v0' } },
      }),
    );
  };

  it('reads the statuses with consistent BatchGetItems of at most 100 keys: 150 pending approvals fill a cap of 150', async () => {
    await seedList(150);
    sent = [];
    await expect(store.create(pendingApproval(id(1)), cap(150))).resolves.toBe(false);
    const batches = sent.filter((c) => c.command === 'BatchGetItemCommand');
    expect(
      batches.map((c) => (c.input.RequestItems as Record<string, { Keys: unknown[]; ConsistentRead: boolean }>)[table]!.Keys.length).sort(),
    ).toEqual([100, 50]);
    expect(batches.every((c) => (c.input.RequestItems as Record<string, { ConsistentRead: boolean }>)[table]!.ConsistentRead)).toBe(true);
    await expect(store.create(pendingApproval(id(1)), cap(151))).resolves.toBe(true);
  });

  it('keys DynamoDB leaves unprocessed are asked again and still count; if they never come, create fails (refuses nothing silently)', async () => {
    await seedList(3);
    let unprocessed = 1;
    const throttling = dynamoDbClientOf(dynamo.endpoint);
    throttling.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'BatchGetItemCommand' && unprocessed-- > 0) {
          const input = args.input as { RequestItems: Record<string, { Keys: unknown[] }> };
          (result.output as BatchGetItemCommandOutput).Responses = { [table]: [] };
          (result.output as BatchGetItemCommandOutput).UnprocessedKeys = input.RequestItems as BatchGetItemCommandOutput['UnprocessedKeys'];
        }
        return result;
      },
      { step: 'initialize', name: 'throttleBatchGet' },
    );
    const s2 = new DynamoDbApprovalStore(throttling, { tableName: table, sleep: async () => undefined });
    try {
      await expect(s2.create(pendingApproval(id(1)), cap(3))).resolves.toBe(false);
      unprocessed = Infinity;
      await expect(s2.create(pendingApproval(id(1)), cap(3))).rejects.toThrow(/unprocessed/);
      await expect(s2.create(pendingApproval(id(1)), cap(4))).rejects.toThrow(/unprocessed/);
      await expect(store.get(id(1))).resolves.toBeNull();
    } finally {
      throttling.destroy();
    }
  });
});

describe('list', () => {
  const seed = async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const a = pendingApproval(`0190-${i}`, { createdAt: T0 + i * 1000, status: i % 2 === 0 ? 'pending' : 'denied' });
      await store.create(a);
      ids.push(a.id);
    }
    await store.putGrant({ requester: REQUESTER, model: 'titan-v2', ruleId: 'r', approvalId: ids[0]!, until: T0 + 1 });
    return ids;
  };

  it('approvals only (not grants), newest first, at most limit', async () => {
    await seed();
    expect((await store.list({ limit: 10 })).map((a) => a.id)).toEqual(['0190-5', '0190-4', '0190-3', '0190-2', '0190-1', '0190-0']);
    expect((await store.list({ limit: 2 })).map((a) => a.id)).toEqual(['0190-5', '0190-4']);
    expect(await store.list({ limit: 0 })).toEqual([]);
  });

  it('of one status: one Query of the status index, newest first', async () => {
    await seed();
    sent = [];
    expect((await store.list({ status: 'pending', limit: 10 })).map((a) => a.id)).toEqual(['0190-4', '0190-2', '0190-0']);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.input).toMatchObject({
      IndexName: 'by-status',
      KeyConditionExpression: '#status = :status',
      ExpressionAttributeValues: { ':status': { S: 'pending' } },
      ScanIndexForward: false,
    });
    await expect(store.list({ status: 'expired', limit: 10 })).resolves.toEqual([]);
  });

  it('of every status: one Query per status, merged newest first', async () => {
    await seed();
    sent = [];
    expect((await store.list({ limit: 3 })).map((a) => a.id)).toEqual(['0190-5', '0190-4', '0190-3']);
    expect(sent.map((c) => (c.input.ExpressionAttributeValues as Record<string, { S: string }>)[':status']!.S).sort()).toEqual([
      'approved',
      'denied',
      'expired',
      'pending',
      'used',
    ]);
  });

  it('a status changed by an update moves the approval to the other status', async () => {
    const a = pendingApproval('0190-m');
    await store.create(a);
    await store.update(next(a, { status: 'denied', decidedAt: T0 + 1 }), 0);
    await expect(store.list({ status: 'pending', limit: 10 })).resolves.toEqual([]);
    expect((await store.list({ status: 'denied', limit: 10 })).map((x) => x.id)).toEqual(['0190-m']);
  });

  it('same millisecond: the later (greater) UUIDv7 id first', async () => {
    await store.create(pendingApproval('0190-a'));
    await store.create(pendingApproval('0190-b'));
    expect((await store.list({ limit: 5 })).map((a) => a.id)).toEqual(['0190-b', '0190-a']);
  });

  it('reads page after page until it has limit approvals, and no further', async () => {
    // A big preview makes each item ~100 KB, so a 1 MB page holds about ten of them.
    const preview = 'x'.repeat(100_000);
    for (let i = 0; i < 25; i++) await store.create(pendingApproval(`big-${String(i).padStart(2, '0')}`, { createdAt: T0 + i, preview }));
    sent = [];
    const all = await store.list({ status: 'pending', limit: 100 });
    expect(all.map((a) => a.id)).toEqual(Array.from({ length: 25 }, (_, i) => `big-${String(24 - i).padStart(2, '0')}`));
    expect(sent.filter((s) => s.command === 'QueryCommand').length).toBeGreaterThan(1);
    sent = [];
    expect((await store.list({ status: 'pending', limit: 3 })).map((a) => a.id)).toEqual(['big-24', 'big-23', 'big-22']);
    expect(sent).toHaveLength(1);
  });
});

describe('grants', () => {
  const grant = (over: Partial<ApprovalGrant> = {}): ApprovalGrant => ({
    requester: REQUESTER,
    model: 'titan-v2',
    ruleId: 'rag-export',
    approvalId: 'a1',
    until: T0 + 1_800_000,
    ...over,
  });

  it('stores the documented item: key of issuer, subject, model and rule; until; TTL 30 days after it', async () => {
    await store.putGrant(grant());
    const pk = `grant#${JSON.stringify([REQUESTER.issuer, REQUESTER.subject, 'titan-v2', 'rag-export'])}`;
    expect(await rawItem(pk)).toEqual({
      pk: { S: pk },
      doc: { S: JSON.stringify(grant()) },
      until: { N: String(T0 + 1_800_000) },
      expiresAt: { N: String((T0 + 1_800_000 + 30 * DAY_MS) / 1000) },
    });
  });

  it('findGrant reads it back consistently; another model, rule, subject or issuer has none', async () => {
    await store.putGrant(grant());
    sent = [];
    await expect(store.findGrant(REQUESTER, 'titan-v2', 'rag-export')).resolves.toEqual(grant());
    expect(sent[0]!.input).toMatchObject({ ConsistentRead: true });
    await expect(store.findGrant(REQUESTER, 'bge-m3', 'rag-export')).resolves.toBeNull();
    await expect(store.findGrant(REQUESTER, 'titan-v2', 'other')).resolves.toBeNull();
    await expect(store.findGrant({ ...REQUESTER, subject: 'svc-other' }, 'titan-v2', 'rag-export')).resolves.toBeNull();
    await expect(store.findGrant({ ...REQUESTER, issuer: 'https://other.example.com' }, 'titan-v2', 'rag-export')).resolves.toBeNull();
  });

  it('values with separators cannot collide: the key is a JSON array', async () => {
    await store.putGrant(grant({ requester: { ...REQUESTER, subject: 'a#b' }, model: 'c' }));
    await expect(store.findGrant({ ...REQUESTER, subject: 'a' }, 'b#c', 'rag-export')).resolves.toBeNull();
  });

  it('a later grant extends it; an earlier one never shortens it', async () => {
    await store.putGrant(grant({ approvalId: 'a1' }));
    await store.putGrant(grant({ approvalId: 'a2', until: T0 + 3_600_000 }));
    await expect(store.findGrant(REQUESTER, 'titan-v2', 'rag-export')).resolves.toMatchObject({ approvalId: 'a2', until: T0 + 3_600_000 });
    await store.putGrant(grant({ approvalId: 'a3', until: T0 + 60_000 }));
    await expect(store.findGrant(REQUESTER, 'titan-v2', 'rag-export')).resolves.toMatchObject({ approvalId: 'a2', until: T0 + 3_600_000 });
  });

  it('grants and approvals share the table without mixing', async () => {
    await store.putGrant(grant());
    await store.create(pendingApproval('a1'));
    const items = (await client.send(new ScanCommand({ TableName: table }))).Items ?? [];
    expect(items.map((i) => i.pk!.S!.split('#')[0]).sort()).toEqual(['approval', 'grant', 'pending', 'requested']);
  });
});
