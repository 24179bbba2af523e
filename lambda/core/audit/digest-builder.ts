/**
 * Builds the next digest of an archive: finds the latest digest (the chain's head), lists the
 * records of the hours since it ended (and of a lookback window before, for late records), reads
 * and hashes them, signs the document and creates it write-once under `digests/`.
 *
 * Runs hourly in AWS (the `digest` Lambda) and on demand locally (`embedgate audit digest`).
 * One digest per run; an archive that is behind (a stopped schedule, a first run) is caught up
 * `maxPeriod` at a time.
 */
import type { Clock } from '../ports';
import {
  buildDigest,
  compareKeys,
  digestKey,
  DIGESTS_PREFIX,
  floorHour,
  HOUR_MS,
  isDigestKey,
  parseDigest,
  partitionOf,
  partitionPrefix,
  recentDigestsNeeded,
  RECORDS_PREFIX,
  selectObjects,
  serializeDigest,
  signingPayload,
  type DigestDocument,
  type StoredDigest,
} from './digest';
import type { ArchiveObject, ArchiveObjects, DigestSigner } from './ports';
import { mapLimit } from '../util/concurrency';

export interface DigestRunOptions {
  readonly store: ArchiveObjects;
  readonly signer: DigestSigner;
  readonly clock: Clock;
  /**
   * How long after an hour ends before it is digested: records of an hour can still arrive a
   * little after it (a request in flight, the edge recorder's log delivery). 0 digests every
   * complete hour at once.
   */
  readonly settleMs: number;
  /** How far before the period late records are looked for (rounded up to whole hours). */
  readonly lookbackMs: number;
  /** Longest period one digest covers (whole hours); undefined = up to the last settled hour. */
  readonly maxPeriodMs?: number;
  /** Objects read at once. @default 16 */
  readonly concurrency?: number;
}

export type DigestRunResult =
  | { readonly written: true; readonly key: string; readonly doc: DigestDocument }
  | { readonly written: false; readonly reason: string; readonly coveredUntil: string | null };

/** Build and store the next digest, if a settled hour is not covered yet. */
export async function runDigest(o: DigestRunOptions): Promise<DigestRunResult> {
  const { store, clock } = o;
  const now = clock.now();
  const head = await latestDigest(store, now);
  let start: number;
  if (head) {
    start = Date.parse(head.doc.period.end);
  } else {
    const first = await firstRecord(store);
    if (!first) return { written: false, reason: 'the archive has no records yet', coveredUntil: null };
    start = partitionOf(first.key)!;
  }
  let end = floorHour(now - o.settleMs);
  if (o.maxPeriodMs !== undefined) end = Math.min(end, start + Math.max(HOUR_MS, floorHour(o.maxPeriodMs)));
  const coveredUntil = head ? head.doc.period.end : null;
  if (end <= start) {
    return { written: false, reason: `no settled hour to digest: covered until ${new Date(start).toISOString()}`, coveredUntil };
  }

  const recent = head ? await recentDigests(store, head) : [];
  const listedAt = clock.now();
  const lookback = Math.ceil(o.lookbackMs / HOUR_MS) * HOUR_MS;
  const from = head ? Math.min(Date.parse(head.doc.period.start), start - lookback) : start;
  const listed: ArchiveObject[] = [];
  const stopAt = partitionPrefix(end);
  for await (const obj of store.list(RECORDS_PREFIX, { startAfter: partitionPrefix(from) })) {
    if (compareKeys(obj.key, stopAt) >= 0) break;
    listed.push(obj);
  }
  const selection = selectObjects(
    listed,
    start,
    end,
    recent.map((d) => d.doc),
  );
  const read = (objs: readonly ArchiveObject[]) =>
    mapLimit(objs, o.concurrency ?? 16, async (object) => {
      const bytes = await store.get(object.key);
      // Listed a moment ago and never deleted: absent now means someone removed it.
      if (!bytes) throw new Error(`${object.key} was listed but cannot be read`);
      return { object, bytes };
    });
  const signing = await o.signer.describe();
  const unsigned = buildDigest({
    start,
    end,
    listedAt,
    createdAt: clock.now(),
    previous: head ?? null,
    records: await read(selection.records),
    late: await read(selection.late),
    signing,
  });
  const signature = Buffer.from(await o.signer.sign(signingPayload(unsigned))).toString('base64');
  const doc: DigestDocument = { ...unsigned, signature };
  const key = digestKey(end);
  await store.create(key, serializeDigest(doc), 'application/json');
  return { written: true, key, doc };
}

/** Run until every settled hour is covered (locally: `embedgate audit digest`). */
export async function runDigestsUntilCurrent(o: DigestRunOptions, maxRuns = 1000): Promise<DigestRunResult[]> {
  const out: DigestRunResult[] = [];
  for (let i = 0; i < maxRuns; i++) {
    const r = await runDigest(o);
    out.push(r);
    if (!r.written) break;
  }
  return out;
}

/** The chain's head: the digest with the greatest key (keys sort by the period's last hour). */
export async function latestDigest(store: ArchiveObjects, now: number): Promise<StoredDigest | null> {
  // Most runs find the head among the last few days' keys: list only those, and everything if not.
  let last = await lastKey(store, DIGESTS_PREFIX, digestKey(floorHour(now) - 72 * HOUR_MS));
  last ??= await lastKey(store, DIGESTS_PREFIX);
  return last ? readDigest(store, last) : null;
}

/** A digest by key, parsed; throws when it is absent or malformed (the chain cannot be extended). */
export async function readDigest(store: ArchiveObjects, key: string): Promise<StoredDigest> {
  const bytes = await store.get(key);
  if (!bytes) throw new Error(`digest ${key} cannot be read`);
  try {
    return { key, bytes, doc: parseDigest(bytes) };
  } catch (e) {
    throw new Error(`digest ${key} is malformed: ${(e as Error).message}; run "embedgate audit verify"`, { cause: e });
  }
}

/** The previous digest and the ones built within the late margin before it (usually just one). */
async function recentDigests(store: ArchiveObjects, head: StoredDigest): Promise<StoredDigest[]> {
  const out = [head];
  let cur = head;
  while (cur.doc.previous) {
    const older = await readDigest(store, cur.doc.previous.key);
    if (!recentDigestsNeeded(head.doc, older.doc)) break;
    out.push(older);
    cur = older;
  }
  return out;
}

async function firstRecord(store: ArchiveObjects): Promise<ArchiveObject | undefined> {
  for await (const o of store.list(RECORDS_PREFIX)) {
    if (partitionOf(o.key) !== null) return o;
  }
  return undefined;
}

async function lastKey(store: ArchiveObjects, prefix: string, startAfter?: string): Promise<string | undefined> {
  let last: string | undefined;
  for await (const o of store.list(prefix, startAfter ? { startAfter } : {})) {
    if (isDigestKey(o.key)) last = o.key;
  }
  return last;
}
