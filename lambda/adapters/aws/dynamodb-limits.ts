/**
 * Per-principal counters in DynamoDB (the usage table, lib/usage-table.ts): fixed windows, one item
 * per principal scope and window, admitted by one conditional `UpdateItem` per window.
 *
 * Items (partition key `pk`):
 * - `rl#<scope>:<seconds>:<index>`: a window's counters (`requests`, `items`, `tokens`, numbers);
 *   `expiresAt` (TTL, epoch seconds) a day after the window ends.
 * - `rl#<scope>:inflight`: `leases`, a map of session id to lease end (epoch ms); `expiresAt` a day
 *   after the last lease taken.
 *
 * Exactness: each window's check and add is one conditional update (`ADD` only if every counter
 * stays within its limit), which DynamoDB serialises per item, so N concurrent requests against a
 * limit L admit exactly min(N, L) whatever the number of Lambda instances. The windows of one
 * request (second, minute, day) and its lease are updated in parallel (one round trip); when one
 * refuses, what the others added is taken back. That can never admit past a limit; a request
 * refused by one window holds its place in another for that one round trip only.
 */
import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AcquireResult, Lease, LimitStore, Refusal, WindowCount } from '../../core/limits/ports';
import { IN_FLIGHT } from '../../core/limits/stage';

export interface DynamoDbLimitStoreOptions {
  readonly tableName: string;
  /** Times a lease is tried again after another writer changed its item first. @default 8 */
  readonly leaseAttempts?: number;
}

/** Attribute names of usage items. */
export const USAGE_ATTRIBUTES = { partitionKey: 'pk', leases: 'leases', expiresAt: 'expiresAt' } as const;

/** The partition key of a window or lease key. */
export const usageItemKey = (key: string): string => `rl#${key}`;

/** How long an item outlives its window (or last lease) before TTL may delete it. */
const RETAIN_MS = 86_400_000;

const isConditionFailure = (e: unknown): boolean =>
  e instanceof ConditionalCheckFailedException || (e as { name?: string } | null)?.name === 'ConditionalCheckFailedException';

export class DynamoDbLimitStore implements LimitStore {
  private readonly table: string;
  private readonly leaseAttempts: number;

  constructor(
    private readonly client: DynamoDBClient,
    opts: DynamoDbLimitStoreOptions,
  ) {
    this.table = opts.tableName;
    this.leaseAttempts = opts.leaseAttempts ?? 8;
  }

  async acquire(windows: readonly WindowCount[], lease: Lease | null, now: number): Promise<AcquireResult> {
    for (const w of windows)
      for (const [name, add] of Object.entries(w.add))
        if (w.limits[name] !== undefined && add > w.limits[name]) return { ok: false, refused: { key: w.key, counter: name } };
    const tries: Promise<{ refused: Refusal | null; totals?: Record<string, number> }>[] = windows.map((w) => this.addWithin(w));
    if (lease) tries.push(this.takeLease(lease, now).then((ok) => ({ refused: ok ? null : { key: lease.key, counter: IN_FLIGHT } })));
    const settled = await Promise.allSettled(tries);
    const failed = settled.find((s) => s.status === 'rejected');
    const refusal = settled.find((s) => s.status === 'fulfilled' && s.value.refused !== null);
    if (failed || refusal) {
      // Take back what was added, then answer (a store error wins over a refusal: it says less).
      await Promise.all(
        settled.map((s, i) => {
          if (s.status !== 'fulfilled' || s.value.refused !== null) return undefined;
          if (i < windows.length) {
            const w = windows[i]!;
            return this.adjust([{ ...w, add: Object.fromEntries(Object.entries(w.add).map(([k, v]) => [k, -v])) }]);
          }
          return this.release(lease!);
        }),
      );
      if (failed) throw (failed as PromiseRejectedResult).reason;
      return { ok: false, refused: (refusal as PromiseFulfilledResult<{ refused: Refusal }>).value.refused };
    }
    const totals: Record<string, Record<string, number>> = {};
    windows.forEach((w, i) => (totals[w.key] = (settled[i] as PromiseFulfilledResult<{ totals: Record<string, number> }>).value.totals));
    return { ok: true, totals };
  }

  async adjust(windows: readonly Pick<WindowCount, 'key' | 'endsAt' | 'add'>[]): Promise<void> {
    await Promise.all(
      windows.map((w) => {
        const names: Record<string, string> = { '#exp': USAGE_ATTRIBUTES.expiresAt };
        const values: Record<string, AttributeValue> = { ':exp': { N: String(Math.ceil((w.endsAt + RETAIN_MS) / 1000)) } };
        const adds = Object.entries(w.add).map(([name, n], i) => {
          names[`#c${i}`] = name;
          values[`:a${i}`] = { N: String(n) };
          return `#c${i} :a${i}`;
        });
        return this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: { pk: { S: usageItemKey(w.key) } },
            UpdateExpression: `ADD ${adds.join(', ')} SET #exp = :exp`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        );
      }),
    );
  }

  async release(lease: Pick<Lease, 'key' | 'id'>): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: { S: usageItemKey(lease.key) } },
          UpdateExpression: 'REMOVE #l.#id',
          ConditionExpression: 'attribute_exists(#l)',
          ExpressionAttributeNames: { '#l': USAGE_ATTRIBUTES.leases, '#id': lease.id },
        }),
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
    }
  }

  /** One window's conditional add: every limited counter must stay within its limit. */
  private async addWithin(w: WindowCount): Promise<{ refused: Refusal | null; totals?: Record<string, number> }> {
    const names: Record<string, string> = { '#exp': USAGE_ATTRIBUTES.expiresAt };
    const values: Record<string, AttributeValue> = { ':exp': { N: String(Math.ceil((w.endsAt + RETAIN_MS) / 1000)) } };
    const adds: string[] = [];
    const conditions: string[] = [];
    Object.entries(w.add).forEach(([name, n], i) => {
      names[`#c${i}`] = name;
      values[`:a${i}`] = { N: String(n) };
      adds.push(`#c${i} :a${i}`);
      const limit = w.limits[name];
      if (limit !== undefined) {
        values[`:m${i}`] = { N: String(limit - n) };
        conditions.push(`(attribute_not_exists(#c${i}) OR #c${i} <= :m${i})`);
      }
    });
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: { S: usageItemKey(w.key) } },
          UpdateExpression: `ADD ${adds.join(', ')} SET #exp = :exp`,
          ...(conditions.length > 0 ? { ConditionExpression: conditions.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { refused: null, totals: counters(out.Attributes, Object.keys(w.add)) };
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      // Which counter refused: the one over its limit now (the first limited one if the race moved on).
      const item = await this.client.send(
        new GetItemCommand({ TableName: this.table, Key: { pk: { S: usageItemKey(w.key) } }, ConsistentRead: true }),
      );
      const now = counters(item.Item, Object.keys(w.add));
      const limited = Object.keys(w.limits).filter((k) => w.add[k] !== undefined);
      const over = limited.find((k) => (now[k] ?? 0) + w.add[k]! > w.limits[k]!) ?? limited[0]!;
      return { refused: { key: w.key, counter: over } };
    }
  }

  /**
   * Take a place in the scope's lease map if it holds fewer than `max` leases. Expired leases are
   * removed when they stand in the way; the map is created by the first lease. Every step is
   * conditional, so concurrent takers never exceed `max`.
   */
  private async takeLease(lease: Lease, now: number): Promise<boolean> {
    const key = { pk: { S: usageItemKey(lease.key) } };
    const exp = { N: String(Math.ceil((lease.expiresAt + RETAIN_MS) / 1000)) };
    for (let attempt = 0; attempt < this.leaseAttempts; attempt++) {
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: key,
            UpdateExpression: 'SET #l.#id = :until, #exp = :exp',
            ConditionExpression: 'attribute_exists(#l) AND size(#l) < :max',
            ExpressionAttributeNames: { '#l': USAGE_ATTRIBUTES.leases, '#id': lease.id, '#exp': USAGE_ATTRIBUTES.expiresAt },
            ExpressionAttributeValues: { ':until': { N: String(lease.expiresAt) }, ':max': { N: String(lease.max) }, ':exp': exp },
          }),
        );
        return true;
      } catch (e) {
        if (!isConditionFailure(e)) throw e;
      }
      const item = (await this.client.send(new GetItemCommand({ TableName: this.table, Key: key, ConsistentRead: true }))).Item;
      const leases = item?.[USAGE_ATTRIBUTES.leases]?.M;
      if (!leases) {
        try {
          await this.client.send(
            new PutItemCommand({
              TableName: this.table,
              Item: {
                ...key,
                [USAGE_ATTRIBUTES.leases]: { M: { [lease.id]: { N: String(lease.expiresAt) } } },
                [USAGE_ATTRIBUTES.expiresAt]: exp,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
          return true;
        } catch (e) {
          if (!isConditionFailure(e)) throw e;
          continue;
        }
      }
      const expired = Object.entries(leases).filter(([, v]) => Number(v.N) <= now);
      if (Object.keys(leases).length - expired.length >= lease.max) return false;
      if (expired.length === 0) continue; // a place was freed meanwhile: try again
      const names: Record<string, string> = { '#l': USAGE_ATTRIBUTES.leases };
      const values: Record<string, AttributeValue> = {};
      const removes = expired.slice(0, 50).map(([id, v], i) => {
        names[`#e${i}`] = id;
        values[`:e${i}`] = v;
        return i;
      });
      await this.client
        .send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: key,
            UpdateExpression: `REMOVE ${removes.map((i) => `#l.#e${i}`).join(', ')}`,
            ConditionExpression: removes.map((i) => `#l.#e${i} = :e${i}`).join(' AND '),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        )
        .catch((e: unknown) => {
          if (!isConditionFailure(e)) throw e;
        });
    }
    throw new Error(`the in-flight leases of one principal changed ${this.leaseAttempts} times while taking one; giving up`);
  }
}

/** The named number attributes of an item (0 when absent). */
function counters(item: Record<string, AttributeValue> | undefined, names: readonly string[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, Number(item?.[n]?.N ?? 0)]));
}
