/**
 * The issuer-keys table adapter with the real DynamoDBClient against dynalite: the proxy's refresh
 * requests (conditional, rate-limited across instances, TTL, issuer only) next to the mirrored
 * documents they can never replace, and the proxy's reads.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamoDbKeyRefreshRequest, dynamoDbKeySetFetch, putMirroredDocument } from '../../../lambda/adapters/aws/issuer-keys';
import { ISSUER_KEYS_TABLE, issuerOfRefreshKey, refreshRequestKey } from '../../../shared/issuer-keys-table';
import { startDynalite, type StandIn } from '../../support/aws-standins';
import { dynamoDbClientOf, createKeyedTable } from '../../support/dynamodb';

const TABLE = 'issuer-keys';
const ISSUER = 'https://idp.example.com/oauth2/default';
const T0 = 1_893_456_000_000;
let dynamo: StandIn;
let client: DynamoDBClient;

beforeAll(async () => {
  dynamo = await startDynalite();
  client = dynamoDbClientOf(dynamo.endpoint);
  await createKeyedTable(client, TABLE, 'url');
});
afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

const item = async (url: string) => (await client.send(new GetItemCommand({ TableName: TABLE, Key: { url: { S: url } } }))).Item;

describe('refresh requests', () => {
  it('writes the issuer only (no URL to follow), with its time and a TTL', async () => {
    const request = dynamoDbKeyRefreshRequest(client, TABLE, { now: () => T0 });
    expect(await request(ISSUER)).toBe(true);
    expect(await item(`refresh#${ISSUER}`)).toEqual({
      url: { S: `refresh#${ISSUER}` },
      requestedAt: { N: String(T0) },
      expiresAt: { N: String(T0 / 1000 + ISSUER_KEYS_TABLE.refreshTtlSeconds) },
    });
  });

  it('at most one per interval across proxy instances (a conditional write): a flood of forged kids reaches the stream once', async () => {
    let now = T0 + 60_000;
    // Three "instances", each with its own client-side state: only the table's condition binds them.
    const instances = [0, 1, 2].map(() => dynamoDbKeyRefreshRequest(client, TABLE, { now: () => now }));
    const first = await Promise.all(instances.map((r) => r(ISSUER)));
    expect(first.filter(Boolean)).toHaveLength(1);
    now += ISSUER_KEYS_TABLE.refreshIntervalMs - 1;
    expect(await Promise.all(instances.map((r) => r(ISSUER)))).toEqual([false, false, false]);
    expect((await item(refreshRequestKey(ISSUER)))!.requestedAt!.N).toBe(String(T0 + 60_000));
    now += 1;
    expect(await instances[2]!(ISSUER)).toBe(true);
    expect((await item(refreshRequestKey(ISSUER)))!.requestedAt!.N).toBe(String(now));
  });

  it('each issuer has its own request', async () => {
    const request = dynamoDbKeyRefreshRequest(client, TABLE, { now: () => T0 + 120_000 });
    expect(await request('https://other.example.com')).toBe(true);
    expect(await item(refreshRequestKey('https://other.example.com'))).toBeDefined();
  });

  it('never touches a mirrored document, and the proxy never reads a request as a document', async () => {
    const jwksUrl = `${ISSUER}/v1/keys`;
    await putMirroredDocument(client, TABLE, { url: jwksUrl, issuer: ISSUER, body: '{"keys":[]}', fetchedAt: T0 });
    await dynamoDbKeyRefreshRequest(client, TABLE, { now: () => T0 + 500_000 })(ISSUER);
    expect((await item(jwksUrl))!.body!.S).toBe('{"keys":[]}');
    const read = dynamoDbKeySetFetch(client, TABLE);
    expect((await read(jwksUrl, {})).status).toBe(200);
    // The verifier only asks for URLs; a request's key (no body) answers 404 even if asked.
    expect((await read(refreshRequestKey(ISSUER), {})).status).toBe(404);
  });

  it('fails loudly when the table cannot be written (the verifier reports it and still answers)', async () => {
    const request = dynamoDbKeyRefreshRequest(client, 'no-such-table', { now: () => T0 });
    await expect(request(ISSUER)).rejects.toThrow(/non-existent table|not found/i);
  });

  it('keys: a URL is never a refresh request; the issuer comes back exactly', () => {
    expect(issuerOfRefreshKey(refreshRequestKey(ISSUER))).toBe(ISSUER);
    expect(issuerOfRefreshKey(`${ISSUER}/.well-known/openid-configuration`)).toBeUndefined();
    expect(issuerOfRefreshKey('https://refresh#x')).toBeUndefined();
  });
});
