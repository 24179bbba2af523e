/**
 * DynamoDbLimitStore with the real DynamoDBClient against dynalite: exactness of the conditional
 * updates under concurrency (50 against 20), windows rolling over, principals independent, the
 * in-flight lease map (exact, released, expired leases pruned), what a refusal takes back, the
 * item layout and its TTL.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { loadConfig, type GatewayConfigInput } from '../../../shared/config';
import { DynamoDbLimitStore, usageItemKey } from '../../../lambda/adapters/aws/dynamodb-limits';
import { leaseKey, RateLimiter, scopeKey, windowKey, type LimitsRequest } from '../../../lambda/core/limits/stage';
import { startDynalite, type StandIn } from '../../support/aws-standins';
import { dynamoDbClientOf, createKeyedTable } from '../../support/dynamodb';

const T0 = Date.parse('2026-11-29T10:00:15.000Z');
const ALICE = { issuer: 'https://idp.example.com', subject: 'svc-alice', clientId: null };
const BOB = { ...ALICE, subject: 'svc-bob' };

let dynamo: StandIn;
let client: DynamoDBClient;
let tables = 0;
let table: string;
/** UpdateItem/GetItem/PutItem calls sent, by command. */
let sent: string[] = [];

beforeAll(async () => {
  dynamo = await startDynalite();
  client = dynamoDbClientOf(dynamo.endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
});
beforeEach(async () => {
  table = `usage-${++tables}`;
  await createKeyedTable(client, table, 'pk');
  sent = [];
});
afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

function setup(rateLimits: Record<string, unknown>) {
  const config = loadConfig({
    issuers: [{ id: 'corp', issuer: ALICE.issuer, audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
    models: [{ name: 'small', provider: 'local', dimensions: 8 }],
    policy: { rules: [{ id: 'all', effect: 'allow', rateLimits }] },
  } as GatewayConfigInput);
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  const store = new DynamoDbLimitStore(client, { tableName: table });
  const rl = new RateLimiter({ config, store, clock });
  let n = 0;
  const req = (over: Partial<LimitsRequest> = {}): LimitsRequest => ({
    principal: ALICE,
    ruleId: 'all',
    model: 'small',
    items: 1,
    estimatedTokens: 10,
    sessionId: `s-${n++}`,
    ...over,
  });
  return { rl, clock, store, req };
}

const admitAll = async (rl: RateLimiter, reqs: LimitsRequest[]) => {
  const r = await Promise.allSettled(reqs.map((x) => rl.admit(x)));
  return {
    admitted: r.filter((x) => x.status === 'fulfilled'),
    refused: r.filter((x) => x.status === 'rejected') as PromiseRejectedResult[],
  };
};
const item = async (key: string) =>
  (await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: usageItemKey(key) } } }))).Item;
const scope = (p = ALICE) =>
  scopeKey({ principal: p, ruleId: 'all', model: 'small', items: 0, estimatedTokens: 0, sessionId: '' }, undefined);
const minuteKey = (t: number, p = ALICE) => windowKey(scope(p), 60_000, Math.floor(t / 60_000));

describe('windows on DynamoDB', () => {
  it('50 concurrent requests against 20 per minute: exactly 20 pass, one UpdateItem each when admitted', async () => {
    const { rl, req } = setup({ requestsPerMinute: 20 });
    const { admitted, refused } = await admitAll(
      rl,
      Array.from({ length: 50 }, () => req()),
    );
    expect(admitted).toHaveLength(20);
    expect(refused).toHaveLength(30);
    for (const r of refused) expect(r.reason).toMatchObject({ status: 429, reason: 'rate_limit_requests_per_minute' });
    expect(await item(minuteKey(T0))).toEqual({
      pk: { S: usageItemKey(minuteKey(T0)) },
      requests: { N: '20' },
      expiresAt: { N: String((Math.floor(T0 / 60_000) + 1) * 60 + 86_400) },
    });
    sent = [];
    const { rl: one, req: r1 } = setup({ requestsPerMinute: 20 });
    await one.admit(r1({ principal: BOB }));
    expect(sent).toEqual(['UpdateItemCommand']);
  });

  it('roll over: a new minute is a new item', async () => {
    const { rl, req, clock } = setup({ requestsPerMinute: 1 });
    await rl.admit(req());
    await expect(rl.admit(req())).rejects.toMatchObject({ status: 429, headers: { 'retry-after': '45' } });
    clock.t = T0 + 45_000;
    await expect(rl.admit(req())).resolves.not.toBeNull();
    expect((await item(minuteKey(T0 + 45_000)))?.requests).toEqual({ N: '1' });
  });

  it('two principals are independent', async () => {
    const { rl, req } = setup({ requestsPerMinute: 5 });
    const { admitted } = await admitAll(rl, [
      ...Array.from({ length: 8 }, () => req()),
      ...Array.from({ length: 8 }, () => req({ principal: BOB })),
    ]);
    expect(admitted).toHaveLength(10);
  });

  it('a request refused by one window takes back what it added to the others', async () => {
    const { rl, req } = setup({ requestsPerSecond: 1, requestsPerMinute: 10, tokensPerDay: 1000 });
    await rl.admit(req());
    await expect(rl.admit(req())).rejects.toMatchObject({ reason: 'rate_limit_requests_per_second' });
    expect((await item(minuteKey(T0)))?.requests).toEqual({ N: '1' });
    expect((await item(windowKey(scope(), 86_400_000, Math.floor(T0 / 86_400_000))))?.tokens).toEqual({ N: '10' });
  });

  it('tokens: the estimate is reserved, the upstream usage replaces it', async () => {
    const { rl, req } = setup({ tokensPerMinute: 100 });
    const a = (await rl.admit(req({ estimatedTokens: 60 })))!;
    await expect(rl.admit(req({ estimatedTokens: 50 }))).rejects.toMatchObject({ reason: 'rate_limit_tokens_per_minute' });
    await a.settle(25);
    expect((await item(minuteKey(T0)))?.tokens).toEqual({ N: '25' });
    await expect(rl.admit(req({ estimatedTokens: 75 }))).resolves.not.toBeNull();
  });
});

describe('in-flight leases on DynamoDB', () => {
  it('50 concurrent against maxInFlight 20: exactly 20 hold a place; released places are free again', async () => {
    const { rl, req } = setup({ maxInFlight: 20 });
    const { admitted, refused } = await admitAll(
      rl,
      Array.from({ length: 50 }, () => req()),
    );
    expect(admitted).toHaveLength(20);
    for (const r of refused) expect(r.reason).toMatchObject({ reason: 'rate_limit_in_flight' });
    expect(Object.keys((await item(leaseKey(scope())))!.leases!.M!)).toHaveLength(20);
    await Promise.all(
      admitted.slice(0, 5).map((a) => (a as PromiseFulfilledResult<{ settle(n: null): Promise<void> } | null>).value!.settle(null)),
    );
    const again = await admitAll(
      rl,
      Array.from({ length: 10 }, () => req()),
    );
    expect(again.admitted).toHaveLength(5);
  });

  it('leases of crashed instances expire and are removed when they stand in the way', async () => {
    const { rl, req, clock } = setup({ maxInFlight: 2 });
    await rl.admit(req({ sessionId: 'crashed-1' }));
    await rl.admit(req({ sessionId: 'crashed-2' }));
    await expect(rl.admit(req())).rejects.toMatchObject({ reason: 'rate_limit_in_flight' });
    clock.t += 60_001;
    await expect(rl.admit(req({ sessionId: 'fresh' }))).resolves.not.toBeNull();
    expect(Object.keys((await item(leaseKey(scope())))!.leases!.M!).sort()).toEqual(['fresh']);
  });

  it('release of a lease whose item is gone is a no-op (no empty item created)', async () => {
    const { store } = setup({});
    await store.release({ key: leaseKey(scope()), id: 'x' });
    expect(await item(leaseKey(scope()))).toBeUndefined();
  });
});

describe('store errors', () => {
  it('reject (the stage then fails closed or open): a missing table', async () => {
    const store = new DynamoDbLimitStore(client, { tableName: 'no-such-table' });
    await expect(
      store.acquire([{ key: 'k:60:1', endsAt: 60_000, add: { requests: 1 }, limits: { requests: 1 } }], null, 0),
    ).rejects.toThrow(/not found|non-existent/i);
  });
});
