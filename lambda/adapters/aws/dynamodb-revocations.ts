import { BatchGetItemCommand, DeleteItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unavailable } from '../../core/errors';
import type { Revocation, RevocationList } from '../../core/ports';
import {
  applicableRevocationKeys,
  firstActiveRevocation,
  isRevocationActive,
  parseRevocationKey,
  revocationKey,
  validateRevocation,
} from '../../core/revocation';
import type { RevocationKind, RevocationSubject } from '../../core/revocation';

/** Options of {@link DynamoDbRevocationList}. */
export interface DynamoDbRevocationListOptions {
  readonly tableName: string;
  /** How long an answer (revoked or not) for one key is reused without asking DynamoDB, ms. @default 15000 */
  readonly cacheTtlMs?: number;
  /** Most keys kept in the cache; the least recently used go first. @default 10000 */
  readonly maxCacheEntries?: number;
  /**
   * How old a cached "not revoked" answer may be and still stand in while DynamoDB fails, ms.
   * A cached revocation always stands in (denying is the safe direction). @default 300000
   */
  readonly maxStaleMs?: number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
  /** Wait between BatchGetItem rounds for unprocessed keys. @default a `setTimeout` timer */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Attribute names of a revocation item. `expiresAt` is the table's TTL attribute. */
export const REVOCATION_ATTRIBUTES = {
  partitionKey: 'pk',
  reason: 'reason',
  /** End of the revocation, epoch ms (exact; what `find` checks). */
  until: 'until',
  /** End of the revocation, epoch seconds (rounded up): DynamoDB TTL deletes the item some time after. */
  expiresAt: 'expiresAt',
  createdAt: 'createdAt',
  createdBy: 'createdBy',
} as const;

const A = REVOCATION_ATTRIBUTES;
const UNPROCESSED_ROUNDS = 3;

interface CacheEntry {
  readonly revocation: Revocation | null;
  readonly fetchedAt: number;
}

/**
 * The runtime deny list in one DynamoDB table (partition key `pk`, see `lambda/core/revocation.ts`
 * for the key layout). `find` reads every key that could revoke a principal with one
 * BatchGetItem (eventually consistent), ignores revocations whose `until` has passed (TTL
 * deletion lags), and caches the answer per key, revoked or not, for `cacheTtlMs`.
 *
 * Fails closed: when DynamoDB cannot be read, `find` rejects with a 503 `GatewayError`, unless
 * the cache can answer (a cached revocation that applies, or "not revoked" answers for every key
 * no older than `maxStaleMs`).
 *
 * `put`, `delete` and `list` are for operators (the CLI); they are not cached and propagate errors.
 */
export class DynamoDbRevocationList implements RevocationList {
  private readonly table: string;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly maxStaleMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Insertion order = recency order (a hit is re-inserted), so the first key is the least recently used. */
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly client: DynamoDBClient,
    opts: DynamoDbRevocationListOptions,
  ) {
    this.table = opts.tableName;
    this.ttlMs = opts.cacheTtlMs ?? 15_000;
    this.maxEntries = Math.max(1, opts.maxCacheEntries ?? 10_000);
    this.maxStaleMs = Math.max(this.ttlMs, opts.maxStaleMs ?? 300_000);
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** The first revocation in force for this principal (token, subject, client), or null. */
  async find(p: RevocationSubject): Promise<Revocation | null> {
    const keys = applicableRevocationKeys(p);
    const now = this.now();
    const found = new Map<string, Revocation | null>();
    const missing: string[] = [];
    for (const k of keys) {
      const e = this.cached(k, now, this.ttlMs);
      if (e) found.set(k, e.revocation);
      else missing.push(k);
    }
    if (missing.length > 0) {
      let fetched: Map<string, Revocation>;
      try {
        fetched = await this.batchGet(missing);
      } catch (cause) {
        return this.answerDuringOutage(keys, cause);
      }
      const at = this.now();
      for (const k of missing) {
        const revocation = fetched.get(k) ?? null;
        found.set(k, revocation);
        this.remember(k, { revocation, fetchedAt: at });
      }
    }
    return firstActiveRevocation(keys, found, this.now());
  }

  /** Add or replace a revocation (one item per kind, issuer and value). */
  async put(revocation: Revocation): Promise<void> {
    const key = validateRevocation(revocation);
    await this.client.send(new PutItemCommand({ TableName: this.table, Item: toItem(key, revocation) }));
    this.cache.delete(key);
  }

  /** Remove a revocation; resolves true when there was one. */
  async delete(kind: RevocationKind, value: string, issuer: string | null): Promise<boolean> {
    const key = revocationKey(kind, issuer, value);
    const out = await this.client.send(
      new DeleteItemCommand({ TableName: this.table, Key: { [A.partitionKey]: { S: key } }, ReturnValues: 'ALL_OLD' }),
    );
    this.cache.delete(key);
    return out.Attributes !== undefined;
  }

  /** Every revocation in the table (a full Scan), expired ones included, in key order. */
  async list(): Promise<Revocation[]> {
    const out: { key: string; revocation: Revocation }[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(new ScanCommand({ TableName: this.table, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) {
        const revocation = fromItem(item);
        if (revocation) out.push({ key: item[A.partitionKey]!.S!, revocation });
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((e) => e.revocation);
  }

  private async batchGet(keys: readonly string[]): Promise<Map<string, Revocation>> {
    const found = new Map<string, Revocation>();
    let pending: Record<string, AttributeValue>[] = keys.map((k) => ({ [A.partitionKey]: { S: k } }));
    for (let round = 0; pending.length > 0; round++) {
      if (round >= UNPROCESSED_ROUNDS)
        throw new Error(`DynamoDB left ${pending.length} revocation keys unprocessed after ${UNPROCESSED_ROUNDS} rounds`);
      if (round > 0) await this.sleep(20 * 2 ** (round - 1));
      const out = await this.client.send(new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: pending } } }));
      for (const item of out.Responses?.[this.table] ?? []) {
        const revocation = fromItem(item);
        if (revocation) found.set(item[A.partitionKey]!.S!, revocation);
      }
      pending = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
    }
    return found;
  }

  private answerDuringOutage(keys: readonly string[], cause: unknown): Revocation | null {
    const now = this.now();
    // A known revocation that applies denies: the safe direction needs no fresh read.
    for (const k of keys) {
      const r = this.cached(k, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY)?.revocation;
      if (r && isRevocationActive(r, now)) return r;
    }
    if (keys.every((k) => this.cached(k, now, this.maxStaleMs) !== undefined)) return null;
    throw unavailable('The revocation list is unavailable; retry later.', 'revocation_list_unavailable', { retryAfter: 1, cause });
  }

  /** The cache entry of `key` if it is younger than `maxAgeMs` at `now` (marking it recently used). */
  private cached(key: string, now: number, maxAgeMs: number): CacheEntry | undefined {
    const e = this.cache.get(key);
    if (e === undefined || now - e.fetchedAt >= maxAgeMs) return undefined;
    this.cache.delete(key);
    this.cache.set(key, e);
    return e;
  }

  private remember(key: string, entry: CacheEntry): void {
    this.cache.delete(key);
    this.cache.set(key, entry);
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
  }

  /** Number of keys in the cache (for tests and metrics). */
  get cacheSize(): number {
    return this.cache.size;
  }
}

/** The DynamoDB item of a revocation whose key is `key`. */
export function toItem(key: string, r: Revocation): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    [A.partitionKey]: { S: key },
    [A.createdAt]: { N: String(r.createdAt) },
  };
  if (r.reason !== null) item[A.reason] = { S: r.reason };
  if (r.createdBy !== null) item[A.createdBy] = { S: r.createdBy };
  if (r.until !== null) {
    item[A.until] = { N: String(r.until) };
    item[A.expiresAt] = { N: String(Math.ceil(r.until / 1000)) };
  }
  return item;
}

/** The revocation an item holds; undefined when the item is not a well-formed revocation. */
export function fromItem(item: Record<string, AttributeValue>): Revocation | undefined {
  const key = item[A.partitionKey]?.S;
  const parts = key === undefined ? undefined : parseRevocationKey(key);
  if (!parts) return undefined;
  const num = (name: string): number | null => {
    const n = item[name]?.N;
    return n === undefined ? null : Number(n);
  };
  const until = num(A.until) ?? (num(A.expiresAt) === null ? null : num(A.expiresAt)! * 1000);
  return {
    kind: parts.kind,
    value: parts.value,
    issuer: parts.issuer,
    reason: item[A.reason]?.S ?? null,
    until,
    createdAt: num(A.createdAt) ?? 0,
    createdBy: item[A.createdBy]?.S ?? null,
  };
}
