/**
 * DynamoDbRevocationList with the real DynamoDBClient against dynalite: the shared behaviour
 * table, the item layout, one BatchGetItem per lookup, caching, and failing closed.
 */
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { BatchGetItemCommandInput, BatchGetItemCommandOutput } from '@aws-sdk/client-dynamodb';
import { DynamoDbRevocationList } from '../../../lambda/adapters/aws/dynamodb-revocations';
import type { DynamoDbRevocationListOptions } from '../../../lambda/adapters/aws/dynamodb-revocations';
import { GatewayError } from '../../../lambda/core/errors';
import { deadEndpoint, startDynalite } from '../../support/aws-standins';
import { dynamoDbClientOf, createKeyedTable } from '../../support/dynamodb';
import type { StandIn } from '../../support/aws-standins';
import { describeRevocationList, ISSUER, OTHER_ISSUER, revocation, T0 } from '../../support/revocation-cases';

let dynamo: StandIn;
let deadPort: number;
let client: DynamoDBClient;
/** Commands the client sent (name and input), in order. */
let sent: { command: string; input: unknown }[];
/** While true, every request goes to a port nothing listens on (a real connection failure). */
let outage: boolean;
/** Applied to BatchGetItem outputs (to simulate throttling's UnprocessedKeys); identity by default. */
let rewriteBatchGet: ((input: BatchGetItemCommandInput, output: BatchGetItemCommandOutput) => BatchGetItemCommandOutput) | undefined;

beforeAll(async () => {
  dynamo = await startDynalite();
  deadPort = Number(new URL(await deadEndpoint()).port);
  client = dynamoDbClientOf(dynamo.endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ command: String(context.commandName), input: structuredClone(args.input) });
      const out = await next(args);
      if (context.commandName === 'BatchGetItemCommand' && rewriteBatchGet) {
        return { ...out, output: rewriteBatchGet(args.input as BatchGetItemCommandInput, out.output as BatchGetItemCommandOutput) };
      }
      return out;
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  client.middlewareStack.add(
    (next) => async (args) => {
      if (outage) (args.request as { port?: number }).port = deadPort;
      return next(args);
    },
    { step: 'build', name: 'simulateOutage' },
  );
});
beforeEach(() => {
  sent = [];
  outage = false;
  rewriteBatchGet = undefined;
});
afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

let tables = 0;
async function createTable(): Promise<string> {
  const name = `revocations-${++tables}`;
  await createKeyedTable(client, name, 'pk');
  return name;
}

describeRevocationList(
  'DynamoDbRevocationList',
  async (now) => new DynamoDbRevocationList(client, { tableName: await createTable(), now }),
);

describe('DynamoDbRevocationList on DynamoDB', () => {
  let t: number;
  let table: string;
  const make = (opts: Partial<DynamoDbRevocationListOptions> = {}): DynamoDbRevocationList =>
    new DynamoDbRevocationList(client, { tableName: table, now: () => t, sleep: async () => undefined, ...opts });
  const who = (over: Partial<{ issuer: string; subject: string; clientId: string | null; tokenId: string | null }> = {}) => ({
    issuer: ISSUER,
    subject: 'svc-a',
    clientId: 'client-1',
    tokenId: 'jti-1',
    ...over,
  });
  const batchGets = (): { command: string; input: unknown }[] => sent.filter((s) => s.command === 'BatchGetItemCommand');
  const requestedKeys = (i: number): string[] =>
    ((batchGets()[i]!.input as BatchGetItemCommandInput).RequestItems![table]!.Keys ?? []).map((k) => k.pk!.S!);

  beforeEach(async () => {
    t = T0;
    table = await createTable();
    sent = [];
  });

  it('stores the documented item: pk, reason, until (ms), expiresAt (s, TTL), createdAt, createdBy', async () => {
    await make().put(revocation('subject', 'svc-a', null, { until: T0 + 1500, reason: 'leaked', createdBy: 'alice' }));
    await make().put(revocation('token', 'jti-1', ISSUER, { reason: null, createdBy: null }));
    const sub = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'sub#*#svc-a' } } }));
    expect(sub.Item).toEqual({
      pk: { S: 'sub#*#svc-a' },
      reason: { S: 'leaked' },
      until: { N: String(T0 + 1500) },
      expiresAt: { N: String(Math.ceil((T0 + 1500) / 1000)) },
      createdAt: { N: String(T0 - 60_000) },
      createdBy: { S: 'alice' },
    });
    const jti = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: `jti#${ISSUER}#jti-1` } } }));
    expect(jti.Item).toEqual({ pk: { S: `jti#${ISSUER}#jti-1` }, createdAt: { N: String(T0 - 60_000) } });
  });

  it('reads an item that has only the TTL attribute (until taken from expiresAt)', async () => {
    await client.send(
      new PutItemCommand({
        TableName: table,
        Item: { pk: { S: `client#${ISSUER}#client-1` }, expiresAt: { N: String(T0 / 1000 + 10) }, createdAt: { N: '5' } },
      }),
    );
    await expect(make().find(who())).resolves.toEqual({
      kind: 'client',
      value: 'client-1',
      issuer: ISSUER,
      reason: null,
      until: T0 + 10_000,
      createdAt: 5,
      createdBy: null,
    });
    t = T0 + 10_000;
    await expect(make().find(who())).resolves.toBeNull();
  });

  it('one find = one BatchGetItem for exactly the applicable keys', async () => {
    await make().find(who());
    expect(sent.map((s) => s.command)).toEqual(['BatchGetItemCommand']);
    expect(requestedKeys(0)).toEqual([
      `jti#${ISSUER}#jti-1`,
      `sub#${ISSUER}#svc-a`,
      'sub#*#svc-a',
      `client#${ISSUER}#client-1`,
      'client#*#client-1',
    ]);
    sent = [];
    await make().find(who({ clientId: null, tokenId: null }));
    expect(requestedKeys(0)).toEqual([`sub#${ISSUER}#svc-a`, 'sub#*#svc-a']);
  });

  it('caches answers, revoked or not, for cacheTtlMs (15 s by default)', async () => {
    const list = make();
    const writer = make();
    await expect(list.find(who())).resolves.toBeNull();
    // Another instance revokes the subject: this one keeps its cached "not revoked" until the TTL.
    await writer.put(revocation('subject', 'svc-a', null));
    t += 14_999;
    await expect(list.find(who())).resolves.toBeNull();
    expect(batchGets()).toHaveLength(1);
    t += 1;
    await expect(list.find(who())).resolves.toMatchObject({ kind: 'subject', value: 'svc-a' });
    expect(batchGets()).toHaveLength(2);
    // And the positive answer is cached as well.
    await writer.delete('subject', 'svc-a', null);
    t += 10_000;
    await expect(list.find(who())).resolves.toMatchObject({ kind: 'subject' });
    expect(batchGets()).toHaveLength(2);
  });

  it('a new token of a cached principal fetches only its token key', async () => {
    const list = make();
    await list.find(who());
    await list.find(who({ tokenId: 'jti-2' }));
    expect(batchGets()).toHaveLength(2);
    expect(requestedKeys(1)).toEqual([`jti#${ISSUER}#jti-2`]);
  });

  it('a cached revocation still ends at its until', async () => {
    const list = make();
    await list.put(revocation('client', 'client-1', null, { until: T0 + 2000 }));
    await expect(list.find(who())).resolves.not.toBeNull();
    t += 2000;
    await expect(list.find(who())).resolves.toBeNull();
    expect(batchGets()).toHaveLength(1);
  });

  it('put and delete through the same instance take effect at once', async () => {
    const list = make();
    await expect(list.find(who())).resolves.toBeNull();
    await list.put(revocation('token', 'jti-1', ISSUER));
    await expect(list.find(who())).resolves.toMatchObject({ kind: 'token' });
    await list.delete('token', 'jti-1', ISSUER);
    await expect(list.find(who())).resolves.toBeNull();
  });

  it('keeps at most maxCacheEntries keys, dropping the least recently used', async () => {
    const list = make({ maxCacheEntries: 4 });
    const p = (subject: string) => who({ subject, clientId: null, tokenId: null }); // 2 keys each
    await list.find(p('a'));
    await list.find(p('b'));
    await list.find(p('a')); // a is now the most recently used
    await list.find(p('c')); // evicts b
    expect(list.cacheSize).toBe(4);
    expect(batchGets()).toHaveLength(3);
    await list.find(p('a'));
    expect(batchGets()).toHaveLength(3);
    await list.find(p('b'));
    expect(batchGets()).toHaveLength(4);
    expect(list.cacheSize).toBe(4);
  });

  describe('DynamoDB failing', () => {
    it('fails closed: rejects with a 503 GatewayError when nothing is cached', async () => {
      outage = true;
      const err = await make()
        .find(who())
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(GatewayError);
      expect(err).toMatchObject({ status: 503, code: 'revocation_list_unavailable', reason: 'revocation_list_unavailable' });
      expect((err as GatewayError).cause).toBeDefined();
    });

    it('rejects against an endpoint that was never up', async () => {
      const down = new DynamoDBClient({
        endpoint: await deadEndpoint(),
        region: 'us-east-1',
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
        maxAttempts: 1,
      });
      try {
        await expect(new DynamoDbRevocationList(down, { tableName: table }).find(who())).rejects.toMatchObject({ status: 503 });
      } finally {
        down.destroy();
      }
    });

    it('a cached "not revoked" answer survives an outage for maxStaleMs', async () => {
      const list = make({ maxStaleMs: 60_000 });
      await list.find(who());
      outage = true;
      t += 59_999;
      await expect(list.find(who())).resolves.toBeNull();
      expect(batchGets()).toHaveLength(2);
      t += 1;
      await expect(list.find(who())).rejects.toMatchObject({ status: 503 });
    });

    it('a cached revocation survives an outage whatever its age', async () => {
      const list = make({ maxStaleMs: 60_000 });
      await list.put(revocation('subject', 'svc-a', null));
      await list.find(who());
      outage = true;
      t += 3_600_000;
      await expect(list.find(who())).resolves.toMatchObject({ kind: 'subject', value: 'svc-a' });
      // Even for a token it has not seen: the cached subject revocation applies.
      await expect(list.find(who({ tokenId: 'jti-new' }))).resolves.toMatchObject({ kind: 'subject' });
    });

    it('a key never read (a new token) cannot be answered from the cache: rejects', async () => {
      const list = make();
      await list.find(who());
      outage = true;
      t += 20_000;
      await expect(list.find(who({ tokenId: 'jti-new' }))).rejects.toMatchObject({ status: 503 });
    });

    it('a table that does not exist rejects (ResourceNotFoundException)', async () => {
      await expect(make({ tableName: 'no-such-table' }).find(who())).rejects.toMatchObject({ status: 503 });
    });

    it('put, delete and list propagate DynamoDB errors', async () => {
      outage = true;
      await expect(make().put(revocation('subject', 'x', null))).rejects.toThrow();
      await expect(make().delete('subject', 'x', null)).rejects.toThrow();
      await expect(make().list()).rejects.toThrow();
    });
  });

  describe('UnprocessedKeys', () => {
    it('asks again for keys DynamoDB left unprocessed', async () => {
      await make().put(revocation('client', 'client-1', OTHER_ISSUER));
      await make().put(revocation('client', 'client-1', null));
      let first = true;
      rewriteBatchGet = (input, output) => {
        if (!first) return output;
        first = false;
        // Answer nothing and hand every key back, as DynamoDB does when throttled.
        return { ...output, Responses: { [table]: [] }, UnprocessedKeys: { [table]: { Keys: input.RequestItems![table]!.Keys } } };
      };
      const sleeps: number[] = [];
      const list = make({ sleep: async (ms) => void sleeps.push(ms) });
      await expect(list.find(who())).resolves.toMatchObject({ kind: 'client', issuer: null });
      expect(batchGets()).toHaveLength(2);
      expect(sleeps).toEqual([20]);
    });

    it('rejects (fails closed) when keys stay unprocessed', async () => {
      rewriteBatchGet = (input, output) => ({
        ...output,
        Responses: { [table]: [] },
        UnprocessedKeys: { [table]: { Keys: input.RequestItems![table]!.Keys } },
      });
      await expect(make().find(who())).rejects.toMatchObject({ status: 503, code: 'revocation_list_unavailable' });
      expect(batchGets()).toHaveLength(3);
    });
  });

  it('list pages through a Scan', async () => {
    const list = make();
    for (let i = 0; i < 30; i++)
      await list.put(revocation('subject', `svc-${String(i).padStart(2, '0')}`, null, { reason: 'x'.repeat(40_000) }));
    sent = [];
    const all = await list.list();
    expect(all.map((r) => r.value)).toEqual(Array.from({ length: 30 }, (_, i) => `svc-${String(i).padStart(2, '0')}`));
    expect(sent.filter((s) => s.command === 'ScanCommand').length).toBeGreaterThan(1);
  });
});
