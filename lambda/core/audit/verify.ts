/**
 * Verification of an archive against its digests (`embedgate audit verify`):
 *
 * - digests against each other: each names the previous one's key and the SHA-256 of its bytes,
 *   starts where it ended, and is the next key under `digests/` (nothing inserted or removed);
 * - digests against their signatures, made by one of the trusted public keys;
 * - records against digests: every listed record is there with the same bytes (missing, changed);
 *   every record in a digested period is listed (inserted); every record's content matches its
 *   own seal `record_sha256` and its key (changed, misplaced).
 *
 * Records newer than the last digest are reported as not digested yet (not a problem).
 */
import type { KeyObject } from 'node:crypto';
import { recordKey, recordSha256, type SessionRecord } from '../record';
import { decodeRecordObject, objectLayout, recordPartition } from './batch';
import { mapLimit } from '../util/concurrency';
import {
  compareKeys,
  digestKey,
  DIGESTS_PREFIX,
  floorHour,
  HOUR_MS,
  isDigestKey,
  parseDigest,
  partitionOf,
  partitionPrefix,
  publicKeySha256,
  RECORDS_PREFIX,
  sha256Tagged,
  signatureValid,
  type DigestDocument,
  type DigestEntry,
} from './digest';
import type { ArchiveObjects } from './ports';

export type ProblemKind =
  /** A digest lists the record; the archive does not have it. */
  | 'missing_record'
  /** The record's bytes differ from its digest entry, or its content from its own seal. */
  | 'changed_record'
  /** The record is in a period the digests cover, but in no digest. */
  | 'inserted_record'
  /** The record's key does not match its session id and start time. */
  | 'misplaced_record'
  /** A digest does not link to the one before it (hash, key, period), or one is missing. */
  | 'broken_chain'
  /** A digest's signature is invalid, or made by a key that is not trusted. */
  | 'bad_signature'
  /** A digest cannot be read or parsed, is misnamed, or something else sits under `digests/`. */
  | 'bad_digest'
  /** Two digests list the same record. */
  | 'duplicate_entry'
  /** A journaled record is not in the archive, past the compactor's grace period (issue 16). */
  | 'unarchived_record'
  /** Two different records in the archive carry one session id. */
  | 'duplicate_record';

export interface Problem {
  readonly kind: ProblemKind;
  /** The record or digest key concerned. */
  readonly key: string;
  readonly message: string;
}

export interface VerifyOptions {
  readonly store: ArchiveObjects;
  /** The public keys digests may be signed with (several across a key rotation). */
  readonly publicKeys: readonly KeyObject[];
  /** Check records of the hours from this instant (epoch ms, rounded down to the hour). */
  readonly from?: number;
  /** ... up to this instant, exclusive (rounded up to the hour). */
  readonly to?: number;
  /** Objects read at once. @default 16 */
  readonly concurrency?: number;
  /**
   * The write-ahead journal (the DynamoDB table, `embedgate dev`'s journal directory): every
   * journaled record of the window must be in the archive with the same seal. Absent: not checked.
   */
  readonly journal?: {
    readonly location: string;
    readonly entries: AsyncIterable<JournalEntry> | Iterable<JournalEntry>;
  };
  /** A journaled record younger than this is not archived yet, not lost (the compactor's lag), ms. @default 900000 (15 min) */
  readonly journalGraceMs?: number;
  /** Epoch ms, for the grace period. @default Date.now() */
  readonly now?: number;
}

/** A journaled record as verification sees it. */
export interface JournalEntry {
  readonly session_id: string;
  readonly record_sha256: string;
  readonly started_at: string;
  /**
   * An intent (journaled while the request's upstream call ran), not a record: its session must
   * have a record in the archive (its final record, or the intent itself once completed); until
   * then it is a warning, since completion waits for the journal to expire the intent.
   */
  readonly intent?: boolean;
}

export interface VerifyReport {
  /** True when there is no problem (warnings allowed). */
  readonly ok: boolean;
  readonly location: string;
  readonly window: { readonly from: string | null; readonly to: string | null };
  readonly digests: {
    readonly checked: number;
    /** Start of the first digest checked. */
    readonly coveredFrom: string | null;
    /** End of the last digest: records of later hours are not digested yet. */
    readonly coveredUntil: string | null;
  };
  /** Objects under `sessions/` checked (a batch object is one), digested, not digested yet; records in them. */
  readonly records: { readonly checked: number; readonly digested: number; readonly undigested: number; readonly records: number };
  /** The journal check, when a journal was given: entries of the window, archived, not archived yet (within the grace period). */
  readonly journal: { readonly location: string; readonly checked: number; readonly archived: number; readonly pending: number } | null;
  readonly problems: readonly Problem[];
  /** Not failures: records not digested yet, records written before records were sealed. */
  readonly warnings: readonly Problem[];
}

interface Loaded {
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly doc: DigestDocument;
}

export async function verifyArchive(o: VerifyOptions): Promise<VerifyReport> {
  const { store } = o;
  const concurrency = o.concurrency ?? 16;
  const fromHour = o.from === undefined ? undefined : floorHour(o.from);
  const toHour = o.to === undefined ? undefined : Math.ceil(o.to / HOUR_MS) * HOUR_MS;
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const problem = (kind: ProblemKind, key: string, message: string) => problems.push({ kind, key, message });

  // 1. Every digest key; those that end after `from` are checked (later ones may list late records of the window).
  const allKeys: string[] = [];
  for await (const obj of store.list(DIGESTS_PREFIX)) {
    if (isDigestKey(obj.key)) allKeys.push(obj.key);
    else problem('bad_digest', obj.key, 'an object under digests/ that is not a digest');
  }
  const selected = allKeys.filter((k) => fromHour === undefined || keyEnd(k) > fromHour);
  const read = await mapLimit(selected, concurrency, async (key) => ({ key, bytes: await store.get(key) }));
  const loaded: Loaded[] = [];
  for (const { key, bytes } of read) {
    if (!bytes) {
      problem('bad_digest', key, 'listed, but cannot be read');
      continue;
    }
    try {
      const doc = parseDigest(bytes);
      if (digestKey(Date.parse(doc.period.end)) !== key) {
        problem(
          'bad_digest',
          key,
          `covers ${doc.period.start} to ${doc.period.end}, so it should be named ${digestKey(Date.parse(doc.period.end))}`,
        );
      }
      loaded.push({ key, bytes, doc });
    } catch (e) {
      problem('bad_digest', key, `malformed: ${(e as Error).message}`);
    }
  }

  // 2. The chain, and 3. the signatures.
  await checkChain(store, allKeys, selected, loaded, problem);
  const trusted = new Map(o.publicKeys.map((k) => [publicKeySha256(k), k]));
  for (const d of loaded) {
    const key = trusted.get(d.doc.signing.public_key_sha256);
    if (!key) {
      problem(
        'bad_signature',
        d.key,
        `signed with key ${d.doc.signing.key_id} (public key ${d.doc.signing.public_key_sha256}), which is not among the trusted public keys`,
      );
    } else if (!signatureValid(d.doc, key)) {
      problem(
        'bad_signature',
        d.key,
        `the signature does not verify with the public key ${d.doc.signing.public_key_sha256}: the digest was altered or not signed by that key`,
      );
    }
  }

  // 4. Entries of the digests.
  const entries = new Map<string, { digest: string; entry: DigestEntry }>();
  for (const d of loaded) {
    for (const entry of [...d.doc.records, ...d.doc.late]) {
      const seen = entries.get(entry.key);
      if (seen) problem('duplicate_entry', entry.key, `listed by ${seen.digest} and by ${d.key}`);
      else entries.set(entry.key, { digest: d.key, entry });
    }
  }
  const inWindow = (key: string) => {
    const p = partitionOf(key);
    return p === null
      ? fromHour === undefined && toHour === undefined
      : (fromHour === undefined || p >= fromHour) && (toHour === undefined || p < toHour);
  };
  const first = loaded[0];
  const last = loaded[loaded.length - 1];
  const coveredFrom = first ? Date.parse(first.doc.period.start) : undefined;
  const coveredUntil = last ? Date.parse(last.doc.period.end) : undefined;

  /** Seals of the records read from the archive, by session id. */
  const archived = new Map<string, Set<string>>();

  // 5. Records the digests list: present, same bytes, consistent content.
  const listedInWindow = [...entries.entries()].filter(([k]) => inWindow(k)).sort(([a], [b]) => compareKeys(a, b));
  await mapLimit(listedInWindow, concurrency, async ([key, { digest, entry }]) => {
    const bytes = await store.get(key);
    if (!bytes) {
      problem('missing_record', key, `listed in ${digest}, but absent from the archive`);
      return;
    }
    const actual = sha256Tagged(bytes);
    if (actual !== entry.object_sha256) {
      problem('changed_record', key, `its bytes hash to ${actual}, ${digest} recorded ${entry.object_sha256}`);
      // Still what the archive holds for the journal check (reported there as changed, not as absent).
      checkContent(key, bytes, () => undefined, [], archived);
      return;
    }
    checkContent(key, bytes, problem, warnings, archived);
  });

  // 6. Records in the archive: each one in a digest, or newer than the last digest.
  let checked = 0;
  let undigested = 0;
  const unlisted: string[] = [];
  const stopAt = toHour === undefined ? undefined : partitionPrefix(toHour);
  for await (const obj of store.list(RECORDS_PREFIX, fromHour === undefined ? {} : { startAfter: partitionPrefix(fromHour) })) {
    if (stopAt !== undefined && compareKeys(obj.key, stopAt) >= 0) break;
    if (!inWindow(obj.key)) continue;
    checked++;
    if (!entries.has(obj.key)) unlisted.push(obj.key);
  }
  await mapLimit(unlisted, concurrency, async (key) => {
    const p = partitionOf(key);
    if (p !== null && (coveredUntil === undefined || p >= coveredUntil)) {
      undigested++;
      warnings.push({ kind: 'inserted_record', key, message: 'not digested yet: newer than the last digest' });
    } else if (p === null) {
      problem(
        'inserted_record',
        key,
        'an object under sessions/ outside the record layouts (sessions/dt=YYYY-MM-DD/hr=HH/<id>.json, .../batch-<id>-<hash>.jsonl.gz)',
      );
      return;
    } else {
      const where =
        coveredFrom !== undefined && p < coveredFrom && first?.doc.previous === null
          ? `its hour is before the first digest (${first.doc.period.start})`
          : 'its hour is covered by the digests, which do not list it';
      problem('inserted_record', key, `in no digest: ${where}`);
    }
    const bytes = await store.get(key);
    if (bytes) checkContent(key, bytes, problem, warnings, archived);
  });

  // 7. The journal: every journaled record of the window reached the archive, unchanged.
  let journal: VerifyReport['journal'] = null;
  if (o.journal) {
    const now = o.now ?? Date.now();
    const grace = o.journalGraceMs ?? 15 * 60_000;
    let jChecked = 0;
    let jArchived = 0;
    let jPending = 0;
    for await (const e of o.journal.entries) {
      const t = Date.parse(e.started_at);
      if ((fromHour !== undefined && t < fromHour) || (toHour !== undefined && t >= toHour)) continue;
      if (e.intent) {
        if (!archived.has(e.session_id))
          warnings.push({
            kind: 'unarchived_record',
            key: `journal ${e.session_id}#intent`,
            message: `an intent of ${e.started_at} whose request has no record yet (its function ended during the upstream call, or its record is not archived yet); the intent becomes its record when the journal expires it`,
          });
        continue;
      }
      jChecked++;
      const seals = archived.get(e.session_id);
      const where = `journal ${e.session_id}`;
      if (seals?.has(e.record_sha256)) jArchived++;
      else if (seals) problem('changed_record', where, `archived with seal ${[...seals].join(', ')}, journaled with ${e.record_sha256}`);
      else if (now - t < grace) {
        jPending++;
        warnings.push({ kind: 'unarchived_record', key: where, message: 'journaled, not archived yet (within the grace period)' });
      } else problem('unarchived_record', where, `journaled at ${e.started_at} with seal ${e.record_sha256}, absent from the archive`);
    }
    journal = { location: o.journal.location, checked: jChecked, archived: jArchived, pending: jPending };
  }
  for (const [id, seals] of archived) {
    if (seals.size > 1) problem('duplicate_record', `session ${id}`, `${seals.size} different records carry this session id`);
  }

  const sortByKey = (a: Problem, b: Problem) => compareKeys(a.key, b.key) || a.kind.localeCompare(b.kind);
  return {
    ok: problems.length === 0,
    location: store.location,
    window: { from: fromHour === undefined ? null : iso(fromHour), to: toHour === undefined ? null : iso(toHour) },
    digests: {
      checked: loaded.length,
      coveredFrom: coveredFrom === undefined ? null : iso(coveredFrom),
      coveredUntil: coveredUntil === undefined ? null : iso(coveredUntil),
    },
    records: { checked, digested: listedInWindow.length, undigested, records: [...archived.values()].reduce((n, v) => n + v.size, 0) },
    journal,
    problems: problems.sort(sortByKey),
    warnings: warnings.sort(sortByKey),
  };
}

type Report = (kind: ProblemKind, key: string, message: string) => void;

async function checkChain(
  store: ArchiveObjects,
  allKeys: readonly string[],
  selected: readonly string[],
  loaded: readonly Loaded[],
  problem: Report,
): Promise<void> {
  const byKey = new Map(loaded.map((d) => [d.key, d]));
  for (const key of selected) {
    const d = byKey.get(key);
    if (!d) continue; // unreadable: reported; its successor's link is checked against its bytes below
    const i = allKeys.indexOf(key);
    const before = i > 0 ? allKeys[i - 1]! : undefined;
    const prev = d.doc.previous;
    if (prev === null) {
      if (before !== undefined) problem('broken_chain', key, `claims to be the first digest, but ${before} precedes it`);
      continue;
    }
    if (before === undefined) {
      problem('broken_chain', key, `links to ${prev.key}, which is not in the archive (the first digest there is ${key})`);
      continue;
    }
    if (prev.key !== before) {
      problem('broken_chain', key, `links to ${prev.key}, but the digest before it is ${before}`);
      continue;
    }
    const earlier = byKey.get(before);
    const bytes = earlier?.bytes ?? (await store.get(before));
    if (!bytes) {
      problem('broken_chain', key, `links to ${before}, which cannot be read`);
      continue;
    }
    if (sha256Tagged(bytes) !== prev.sha256) {
      problem(
        'broken_chain',
        key,
        `records ${prev.sha256} for ${before}, whose bytes hash to ${sha256Tagged(bytes)}: ${before} was altered or replaced`,
      );
      continue;
    }
    let earlierEnd = earlier?.doc.period.end;
    if (earlierEnd === undefined) {
      try {
        earlierEnd = parseDigest(bytes).period.end;
      } catch {
        earlierEnd = prev.period_end;
      }
    }
    if (prev.period_end !== earlierEnd || d.doc.period.start !== earlierEnd) {
      problem('broken_chain', key, `starts at ${d.doc.period.start}, but ${before} ends at ${earlierEnd}: the periods are not contiguous`);
    }
  }
}

function checkContent(key: string, bytes: Uint8Array, problem: Report, warnings: Problem[], archived: Map<string, Set<string>>): void {
  let records: Array<Partial<SessionRecord>>;
  try {
    records = objectLayout(key) === null ? [parseOne(bytes)] : decodeRecordObject(key, bytes);
  } catch (e) {
    problem('changed_record', key, `not a JSON record: ${(e as Error).message}`);
    return;
  }
  const batch = objectLayout(key) === 'batch';
  records.forEach((record, i) => {
    const at = batch ? `${key}#${i + 1}` : key;
    if (typeof record.session_id !== 'string' || typeof record.started_at !== 'string') {
      problem('changed_record', at, 'has no session_id or started_at');
      return;
    }
    if (typeof record.record_sha256 !== 'string') {
      warnings.push({
        kind: 'changed_record',
        key: at,
        message: 'has no record_sha256 (written before records were sealed): only its bytes are checked',
      });
    } else {
      const seal = recordSha256(record as SessionRecord);
      if (seal !== record.record_sha256)
        problem('changed_record', at, `its content hashes to ${seal}, not to its record_sha256 ${record.record_sha256}`);
    }
    let seals = archived.get(record.session_id);
    if (!seals) archived.set(record.session_id, (seals = new Set()));
    seals.add(record.record_sha256 ?? `unsealed:${key}`);
    if (batch) {
      const partition = recordPartition(record as SessionRecord);
      if (!key.startsWith(partition))
        problem('misplaced_record', at, `session ${record.session_id} starts in ${partition}, not in this batch's partition`);
    } else {
      const expected = recordKey(record as SessionRecord);
      if (key !== expected) problem('misplaced_record', key, `its session id and start time belong at ${expected}`);
    }
  });
}

function parseOne(bytes: Uint8Array): Partial<SessionRecord> {
  const record = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<SessionRecord>;
  if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new Error('not an object');
  return record;
}

/** End (epoch ms) of the period of a digest key: the hour after the one it is named by. */
function keyEnd(key: string): number {
  const m = /dt=(\d{4}-\d{2}-\d{2})\/hr=(\d{2})\.json$/.exec(key)!;
  return Date.parse(`${m[1]}T${m[2]}:00:00.000Z`) + HOUR_MS;
}

const iso = (t: number) => new Date(t).toISOString();
