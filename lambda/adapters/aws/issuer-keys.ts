/**
 * Issuers' signing keys without egress: the key mirror (lambda/handlers/key-mirror.ts, a function
 * outside the VPC) writes each trusted issuer's OIDC discovery document and JWKS into a DynamoDB
 * table, one item per URL; the proxy, inside the VPC, reads them through the DynamoDB gateway
 * endpoint with {@link dynamoDbKeySetFetch}, a fetch-shaped function the token verifier uses in
 * place of the network (the `KeySetFetch` port). Nothing else changes in verification: the same
 * documents, the same checks (issuer match, https `jwks_uri`, algorithms, kids), the same caches.
 *
 * Fails closed: a URL the table does not hold answers 404, a table that cannot be read rejects
 * (the verifier then answers 401 `jwks_unavailable`, or keeps its last good keys for a while).
 *
 * On an unknown `kid` the proxy asks for a refresh now ({@link dynamoDbKeyRefreshRequest}): a
 * small conditional item the table's stream delivers to the mirror (shared/issuer-keys-table.ts).
 */
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

import type { KeyRefreshRequest, KeySetFetch } from '../../core/ports';
import { ISSUER_KEYS_TABLE, refreshRequestKey } from '../../../shared/issuer-keys-table';

/** Attribute names of an item of the issuer-keys table. */
export const ISSUER_KEY_ATTRIBUTES = {
  /** Partition key: the exact URL the document was fetched from. */
  partitionKey: ISSUER_KEYS_TABLE.partitionKey,
  /** The document, as JSON text. */
  body: 'body',
  /** Epoch ms when the mirror fetched it. */
  fetchedAt: 'fetchedAt',
  /** The issuer it belongs to. */
  issuer: 'issuer',
} as const;

const A = ISSUER_KEY_ATTRIBUTES;

/** One mirrored document. */
export interface MirroredDocument {
  readonly url: string;
  readonly issuer: string;
  readonly body: string;
  readonly fetchedAt: number;
}

/** The proxy's side: a `KeySetFetch` over the table (strongly consistent reads). */
export function dynamoDbKeySetFetch(client: DynamoDBClient, tableName: string): KeySetFetch {
  return async (url, init) => {
    const out = await client.send(
      new GetItemCommand({ TableName: tableName, Key: { [A.partitionKey]: { S: url } }, ConsistentRead: true }),
      init?.signal ? { abortSignal: init.signal } : {},
    );
    const body = out.Item?.[A.body]?.S;
    if (body === undefined)
      return new Response('{"error":"not mirrored"}', { status: 404, headers: { 'content-type': 'application/json' } });
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
  };
}

/** The mirror's side: write one document (the newest wins; an older fetch never replaces a newer one). */
export async function putMirroredDocument(client: DynamoDBClient, tableName: string, d: MirroredDocument): Promise<boolean> {
  try {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          [A.partitionKey]: { S: d.url },
          [A.issuer]: { S: d.issuer },
          [A.body]: { S: d.body },
          [A.fetchedAt]: { N: String(d.fetchedAt) },
        },
        ConditionExpression: 'attribute_not_exists(#f) OR #f < :f',
        ExpressionAttributeNames: { '#f': A.fetchedAt },
        ExpressionAttributeValues: { ':f': { N: String(d.fetchedAt) } },
      }),
    );
    return true;
  } catch (e) {
    if ((e as { name?: string }).name === 'ConditionalCheckFailedException') return false;
    throw e;
  }
}

/**
 * The proxy's side of a refresh: writes the issuer's refresh request unless one was written less
 * than `intervalMs` ago (a conditional put: across all proxy instances, at most one per interval
 * reaches the stream, so forged kids cannot make the mirror fetch more often). The item holds
 * the issuer only (the mirror looks it up among its configured issuers; it never takes a URL from
 * the table) and expires by TTL. Resolves true when written, false when a recent one exists.
 */
export function dynamoDbKeyRefreshRequest(
  client: DynamoDBClient,
  tableName: string,
  o: { now: () => number; intervalMs?: number; ttlSeconds?: number } = { now: Date.now },
): KeyRefreshRequest {
  const T = ISSUER_KEYS_TABLE;
  return async (issuer) => {
    const now = o.now();
    try {
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            [T.partitionKey]: { S: refreshRequestKey(issuer) },
            [T.requestedAt]: { N: String(now) },
            [T.expiresAt]: { N: String(Math.floor(now / 1000) + (o.ttlSeconds ?? T.refreshTtlSeconds)) },
          },
          ConditionExpression: 'attribute_not_exists(#r) OR #r <= :cutoff',
          ExpressionAttributeNames: { '#r': T.requestedAt },
          ExpressionAttributeValues: { ':cutoff': { N: String(now - (o.intervalMs ?? T.refreshIntervalMs)) } },
        }),
      );
      return true;
    } catch (e) {
      if ((e as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw e;
    }
  };
}
