import { BatchGetItemCommand, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import type { BatchGetItemCommandOutput, GetItemCommandOutput, PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { APPROVAL_STATUSES, newestFirst } from '../../core/approvals/rules';
import type { Approval, ApprovalCap, ApprovalGrant, ApprovalStatus, ApprovalStore, PrincipalRef } from '../../core/ports';

/** Options of {@link DynamoDbApprovalStore}. */
export interface DynamoDbApprovalStoreOptions {
  readonly tableName: string;
  /** Waits between retries (tests). @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * The global secondary index `list` queries: partition key `status`, sort key `createdAt`, all
 * attributes projected. Only approval items carry `status`, so grants, pointers and pending lists
 * are not in it.
 */
export const APPROVAL_STATUS_INDEX = 'by-status';

/** Attribute names of approval and grant items. `expiresAt` is the table's TTL attribute. */
export const APPROVAL_ATTRIBUTES = {
  partitionKey: 'pk',
  /** The whole `Approval` (or `ApprovalGrant`) as JSON: the only attribute read back. */
  document: 'doc',
  /** Approvals: the compare-and-set counter, copied from the document. */
  revision: 'revision',
  /** Approvals: the status, copied from the document (the partition key of the status index `list` queries). */
  status: 'status',
  /** Approvals: creation time, epoch ms (the sort key of the status index). */
  createdAt: 'createdAt',
  /** Pending lists: a random token replaced on every write (the compare-and-set condition). */
  version: 'version',
  /** Grants: end of the grant, epoch ms. */
  until: 'until',
  /** Epoch seconds: DynamoDB TTL deletes the item some time after (30 days past its last use). */
  expiresAt: 'expiresAt',
} as const;

const A = APPROVAL_ATTRIBUTES;
const APPROVAL_PREFIX = 'approval#';
const GRANT_PREFIX = 'grant#';
const REQUESTED_PREFIX = 'requested#';
/** How long an item outlives its last deadline before TTL may delete it (records keep the chain for good). */
const RETAIN_AFTER_MS = 30 * 86_400_000;

/** The partition key of an approval. */
export const approvalKey = (id: string): string => `${APPROVAL_PREFIX}${id}`;

/** The partition key of a grant: issuer, subject, model and rule, JSON-encoded so no separator can collide. */
export const grantKey = (requester: PrincipalRef, model: string, ruleId: string): string =>
  `${GRANT_PREFIX}${JSON.stringify([requester.issuer, requester.subject, model, ruleId])}`;

const PENDING_PREFIX = 'pending#';
/** How often `create` reads the pending list again after another writer changed it first (with backoff). */
const RESERVE_ATTEMPTS = 10;
/** How often unprocessed BatchGetItem keys are asked again (with backoff) before `create` gives up. */
const UNPROCESSED_ROUNDS = 8;
/**
 * How long a reserved place whose approval is not (yet) stored still counts: the reservation is
 * written before the approval, so a concurrent hold must see it. No Lambda invocation lasts longer
 * than 15 minutes, so past that the approval will never be stored (a failure in between), and the
 * place counts for nothing.
 */
const RESERVATION_GRACE_MS = 15 * 60_000;

/** Exponential backoff with full jitter: up to 10, 20, 40 ... ms, at most 640 ms. */
const backoffMs = (attempt: number): number => Math.random() * 10 * 2 ** Math.min(attempt - 1, 6);

/** The partition key of a requester's list of pending approvals of one rule (the cap's reservation item). */
export const pendingListKey = (requester: PrincipalRef, ruleId: string): string =>
  `${PENDING_PREFIX}${JSON.stringify([requester.issuer, requester.subject, ruleId])}`;

/** One entry of a pending list: an approval, its decision deadline and when its place was taken (epoch ms). */
interface PendingEntry {
  readonly id: string;
  readonly decideBy: number;
  readonly reservedAt: number;
}

/** The partition key of the pointer to the approval last created for a requester, rule and payload hash. */
export const requestedKey = (requester: PrincipalRef, ruleId: string, payloadSha256: string): string =>
  `${REQUESTED_PREFIX}${JSON.stringify([requester.issuer, requester.subject, ruleId, payloadSha256])}`;

/** TTL of an approval item, epoch seconds: 30 days after the latest of its deadlines. */
export function approvalExpiresAt(a: Approval): number {
  const last = Math.max(a.expiresAt, a.useBy ?? 0, a.grantUntil ?? 0);
  return Math.ceil((last + RETAIN_AFTER_MS) / 1000);
}

/**
 * Approvals and time-boxed grants in one DynamoDB table (partition key `pk`): `approval#<id>`
 * items hold the whole approval as JSON in `doc`, with `revision`, `status` and `createdAt`
 * copied to top-level attributes for conditions and filters; `grant#<json>` items hold a grant.
 * Every item carries the TTL attribute `expiresAt`, 30 days after its last deadline.
 *
 * `pending#<json>` items list each requester's pending approvals of a rule with their deadlines:
 * `create` reserves a place there (a compare-and-set on the list's revision) before it stores a
 * pending approval, which is how the cap on pending approvals holds under concurrency.
 *
 * `update` is a compare-and-set on `revision`; reads are strongly consistent. `list` queries the
 * status index newest first (one Query per status asked for; the index follows writes within
 * moments, eventually consistent).
 * Errors other than a lost compare-and-set propagate.
 */
export class DynamoDbApprovalStore implements ApprovalStore {
  private readonly table: string;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: DynamoDBClient,
    opts: DynamoDbApprovalStoreOptions,
  ) {
    this.table = opts.tableName;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async create(approval: Approval, cap?: ApprovalCap): Promise<boolean> {
    // A pending approval takes its place in its requester's pending list first (a compare-and-set
    // on the list item), then the re-send pointer, then the approval: whatever fails after the
    // reservation leaves at most an entry (or a pointer) naming an approval that does not exist,
    // which holds its place for RESERVATION_GRACE_MS and is then dropped by the next reservation.
    if (approval.status === 'pending' && !(await this.reserve(approval, cap))) return false;
    // The pointer a re-sent held request finds (last writer wins; it expires with the approval).
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          [A.partitionKey]: { S: requestedKey(approval.requester, approval.ruleId, approval.payloadSha256) },
          [A.document]: { S: JSON.stringify({ approvalId: approval.id }) },
          [A.expiresAt]: { N: String(Math.ceil(approval.expiresAt / 1000)) },
        },
      }),
    );
    const lost = await this.putApproval(approval, {
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': A.partitionKey },
    });
    if (lost === undefined) return true;
    // The SDK retried a write that had been applied (its first answer was lost): the very same
    // approval is there, so it was created. Anything else is another approval with this id.
    const there = await this.get(approval.id);
    if (there && JSON.stringify(there) === JSON.stringify(approval)) return true;
    throw new Error(`approval ${approval.id} already exists`, { cause: lost });
  }

  /**
   * Write the approval's item if `condition` holds: undefined when written, the conditional-check
   * failure when the condition did not hold. Other errors propagate.
   */
  private async putApproval(
    approval: Approval,
    condition: Pick<PutItemCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>,
  ): Promise<unknown> {
    try {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: approvalItem(approval), ...condition }));
      return undefined;
    } catch (e) {
      if (lostCondition(e)) return e;
      throw e;
    }
  }

  /**
   * Take a place in the requester's pending list of this rule: read the list (consistently),
   * keep the entries whose deadline has not passed and whose approval is still pending
   * (consistent BatchGetItem), refuse when `cap.maxPending` remain, else write the list back with
   * the new entry, conditional on its version. Concurrent holds of one requester and rule
   * serialise on that condition: the loser waits a random moment and reads again. An approval
   * never returns to pending, so what one attempt learns (not pending, not stored past the grace)
   * holds for the next ones, which read only the entries they have not seen.
   */
  private async reserve(approval: Approval, cap: ApprovalCap | undefined): Promise<boolean> {
    const key = pendingListKey(approval.requester, approval.ruleId);
    const now = cap?.now ?? approval.createdAt;
    const known = new Map<string, boolean>(); // approval id -> still counts
    for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
      if (attempt > 0) await this.sleep(backoffMs(attempt));
      const out = await this.getItem(key);
      const version = out.Item?.[A.version]?.S ?? null;
      const listed = out.Item ? ((parseDocument(out.Item) as { entries: PendingEntry[] }).entries ?? []) : [];
      const candidates = listed.filter((e) => e.decideBy > now && e.id !== approval.id && known.get(e.id) !== false);
      await this.learn(
        candidates.filter((e) => !known.has(e.id)),
        now,
        known,
      );
      const live = candidates.filter((e) => known.get(e.id));
      if (cap && live.length >= cap.maxPending) return false;
      const entries = [...live, { id: approval.id, decideBy: approval.expiresAt, reservedAt: now }];
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: {
              [A.partitionKey]: { S: key },
              [A.document]: { S: JSON.stringify({ entries }) },
              // A random version, not a counter: a list deleted by TTL and made again never repeats one.
              [A.version]: { S: randomUUID() },
              [A.expiresAt]: { N: String(Math.ceil((Math.max(...entries.map((e) => e.decideBy)) + RETAIN_AFTER_MS) / 1000)) },
            },
            ...(version === null
              ? { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': A.partitionKey } }
              : {
                  ConditionExpression: '#version = :expected',
                  ExpressionAttributeNames: { '#version': A.version },
                  ExpressionAttributeValues: { ':expected': { S: version } },
                }),
          }),
        );
        return true;
      } catch (e) {
        if (!lostCondition(e)) throw e;
      }
    }
    throw new Error(`approval ${approval.id}: the pending list of its requester kept changing (${RESERVE_ATTEMPTS} attempts)`);
  }

  /**
   * Whether each entry still counts: its approval is pending, or not stored yet but reserved
   * within the grace period. Consistent BatchGetItem, 100 keys per call, calls in parallel; keys
   * DynamoDB leaves unprocessed are asked again after a backoff, and an entry never read counts.
   */
  private async learn(entries: readonly PendingEntry[], now: number, known: Map<string, boolean>): Promise<void> {
    const chunks: PendingEntry[][] = [];
    for (let i = 0; i < entries.length; i += 100) chunks.push(entries.slice(i, i + 100));
    await Promise.all(
      chunks.map(async (chunk) => {
        const status = new Map<string, string | undefined>();
        let keys: Record<string, AttributeValue>[] | undefined = chunk.map((e) => ({ [A.partitionKey]: { S: approvalKey(e.id) } }));
        for (let round = 0; keys && keys.length > 0; round++) {
          if (round >= UNPROCESSED_ROUNDS)
            throw new Error(`BatchGetItem left keys unprocessed ${UNPROCESSED_ROUNDS} times: DynamoDB is throttling`);
          if (round > 0) await this.sleep(backoffMs(round));
          const out: BatchGetItemCommandOutput = await this.client.send(
            new BatchGetItemCommand({
              RequestItems: {
                [this.table]: {
                  Keys: keys,
                  ConsistentRead: true,
                  ProjectionExpression: '#pk, #status',
                  ExpressionAttributeNames: { '#pk': A.partitionKey, '#status': A.status },
                },
              },
            }),
          );
          for (const item of out.Responses?.[this.table] ?? [])
            status.set(item[A.partitionKey]!.S!.slice(APPROVAL_PREFIX.length), item[A.status]?.S);
          keys = out.UnprocessedKeys?.[this.table]?.Keys;
        }
        for (const e of chunk)
          known.set(e.id, status.has(e.id) ? status.get(e.id) === 'pending' : now - e.reservedAt < RESERVATION_GRACE_MS);
      }),
    );
  }

  async findRequested(requester: PrincipalRef, ruleId: string, payloadSha256: string): Promise<string | null> {
    const out = await this.getItem(requestedKey(requester, ruleId, payloadSha256));
    const doc = out.Item?.[A.document]?.S;
    if (!doc) return null;
    const id = (JSON.parse(doc) as { approvalId?: unknown }).approvalId;
    return typeof id === 'string' ? id : null;
  }

  async get(id: string): Promise<Approval | null> {
    const out = await this.getItem(approvalKey(id));
    return out.Item ? parseApproval(out.Item) : null;
  }

  /** The item with partition key `key`, read strongly consistently. */
  private getItem(key: string): Promise<GetItemCommandOutput> {
    return this.client.send(new GetItemCommand({ TableName: this.table, Key: { [A.partitionKey]: { S: key } }, ConsistentRead: true }));
  }

  async update(next: Approval, expectedRevision: number): Promise<boolean> {
    if (next.revision !== expectedRevision + 1) {
      throw new Error(
        `approval ${next.id}: an update from revision ${expectedRevision} must carry revision ${expectedRevision + 1}, not ${next.revision}`,
      );
    }
    const lost = await this.putApproval(next, {
      // Fails on a missing item too: update never creates.
      ConditionExpression: '#revision = :expected',
      ExpressionAttributeNames: { '#revision': A.revision },
      ExpressionAttributeValues: { ':expected': { N: String(expectedRevision) } },
    });
    return lost === undefined;
  }

  async list(filter: { readonly status?: ApprovalStatus; readonly limit: number }): Promise<Approval[]> {
    const limit = Math.max(0, filter.limit);
    if (limit === 0) return [];
    const found = (
      await Promise.all((filter.status ? [filter.status] : APPROVAL_STATUSES).map((status) => this.newestOf(status, limit)))
    ).flat();
    return found.sort(newestFirst).slice(0, limit);
  }

  /** The newest `limit` approvals of one status, from the status index (pages until enough). */
  private async newestOf(status: ApprovalStatus, limit: number): Promise<Approval[]> {
    const found: Approval[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: APPROVAL_STATUS_INDEX,
          KeyConditionExpression: '#status = :status',
          ExpressionAttributeNames: { '#status': A.status },
          ExpressionAttributeValues: { ':status': { S: status } },
          ScanIndexForward: false,
          Limit: Math.min(limit - found.length, 1000),
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) found.push(parseApproval(item));
      start = page.LastEvaluatedKey;
    } while (start !== undefined && found.length < limit);
    return found;
  }

  /** Record a grant, or extend one; a grant is never shortened (the later `until` stays). */
  async putGrant(grant: ApprovalGrant): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            [A.partitionKey]: { S: grantKey(grant.requester, grant.model, grant.ruleId) },
            [A.document]: { S: JSON.stringify(grant) },
            [A.until]: { N: String(grant.until) },
            [A.expiresAt]: { N: String(Math.ceil((grant.until + RETAIN_AFTER_MS) / 1000)) },
          },
          ConditionExpression: 'attribute_not_exists(#pk) OR #until <= :until',
          ExpressionAttributeNames: { '#pk': A.partitionKey, '#until': A.until },
          ExpressionAttributeValues: { ':until': { N: String(grant.until) } },
        }),
      );
    } catch (e) {
      // A grant that lasts longer is already there.
      if (!lostCondition(e)) throw e;
    }
  }

  async findGrant(requester: PrincipalRef, model: string, ruleId: string): Promise<ApprovalGrant | null> {
    const out = await this.getItem(grantKey(requester, model, ruleId));
    return out.Item ? (parseDocument(out.Item) as ApprovalGrant) : null;
  }
}

/** The DynamoDB item of an approval. */
export function approvalItem(a: Approval): Record<string, AttributeValue> {
  return {
    [A.partitionKey]: { S: approvalKey(a.id) },
    [A.document]: { S: JSON.stringify(a) },
    [A.revision]: { N: String(a.revision) },
    [A.status]: { S: a.status },
    [A.createdAt]: { N: String(a.createdAt) },
    [A.expiresAt]: { N: String(approvalExpiresAt(a)) },
  };
}

/** The approval an item holds; throws when the item is not one (a corrupt item is not "no approval"). */
export function parseApproval(item: Record<string, AttributeValue>): Approval {
  const a = parseDocument(item) as Approval;
  const key = item[A.partitionKey]?.S;
  if (typeof a?.id !== 'string' || key !== approvalKey(a.id) || a.revision !== Number(item[A.revision]?.N)) {
    throw new Error(`approval item ${JSON.stringify(key)} is malformed: its document does not match its key or revision`);
  }
  return a;
}

/** DynamoDB refused a write because its condition did not hold. */
function lostCondition(e: unknown): boolean {
  return e instanceof Error && e.name === 'ConditionalCheckFailedException';
}

function parseDocument(item: Record<string, AttributeValue>): unknown {
  const doc = item[A.document]?.S;
  if (doc === undefined) throw new Error(`item ${JSON.stringify(item[A.partitionKey]?.S)} has no "${A.document}" attribute`);
  return JSON.parse(doc) as unknown;
}
