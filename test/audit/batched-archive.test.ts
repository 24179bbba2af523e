/**
 * The batched layout end to end over a local archive (issue 16): records of the old layout (one
 * object per record, FileArchive) and of the new one (journal -> batch objects) side by side are
 * digested, verified (with the journal: every journaled record reached the archive unchanged),
 * exported and queried with DuckDB; attacks on batches and on the journal's promise are reported.
 */
import { mkdir, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { exportRecords } from '../../cli/audit-export';
import { runLocalQuery } from '../../cli/audit-duckdb';
import { DirectoryObjects } from '../../lambda/adapters/local/archive-objects';
import { FileArchive } from '../../lambda/adapters/local/file-archive';
import { FileJournal, readJournal } from '../../lambda/adapters/local/journal';
import { encodeBatches } from '../../lambda/core/audit/batch';
import { runDigest } from '../../lambda/core/audit/digest-builder';
import { verifyArchive, type VerifyReport } from '../../lambda/core/audit/verify';
import { recordKey, sealRecord } from '../../lambda/core/record';
import { defaultSigningKeyPath, LocalKeySigner } from '../../lambda/adapters/local/digest-key';
import { auditQuery } from '../../shared/audit-queries';
import { sid, testRecord } from '../support/records';
import { tempDir } from './archive-fixture';

const at = Date.parse;
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const oldRecs = [1, 2].map((n) => testRecord(sid(n), `2026-03-01T05:0${n}:00.000Z`, 200));
const newRecs = [3, 4, 5].map((n) => testRecord(sid(n), `2026-03-01T0${n === 5 ? 6 : 5}:1${n}:00.000Z`, 200));

/** An archive with both layouts and a digest of hours 05 and 06. */
async function mixedArchive(): Promise<string> {
  const dir = await tempDir('batched');
  dirs.push(dir);
  const single = new FileArchive(dir);
  for (const r of oldRecs) await single.put(r);
  const journal = await FileJournal.open(dir, { compactEveryMs: 60_000 });
  for (const r of newRecs) await journal.put(r);
  await journal.close();
  // Written "live": mtimes within their hour.
  for (const r of oldRecs) await utimes(join(dir, recordKey(r)), new Date(at(r.started_at) + 1000), new Date(at(r.started_at) + 1000));
  for (const b of encodeBatches(newRecs))
    await utimes(join(dir, b.key), new Date('2026-03-01T06:59:00Z'), new Date('2026-03-01T06:59:00Z'));
  const signer = await LocalKeySigner.open(defaultSigningKeyPath(dir));
  const d = await runDigest({
    store: new DirectoryObjects(dir),
    signer,
    clock: { now: () => at('2026-03-01T07:30:00.000Z') },
    settleMs: 15 * 60_000,
    lookbackMs: 6 * 3_600_000,
  });
  expect(d.written).toBe(true);
  return dir;
}

async function verifyDir(dir: string, now = at('2026-03-01T08:00:00.000Z')): Promise<VerifyReport> {
  const signer = await LocalKeySigner.open(defaultSigningKeyPath(dir));
  const j = await readJournal(dir);
  return verifyArchive({
    store: new DirectoryObjects(dir),
    publicKeys: [signer.publicKey],
    journal: { location: 'journal', entries: [...j.archived, ...j.pending] },
    now,
  });
}
const kinds = (r: VerifyReport) => r.problems.map((p) => `${p.kind} ${p.key}`);

it('both layouts: digested, verified complete against the journal, exported and queried alike', async () => {
  const dir = await mixedArchive();
  const report = await verifyDir(dir);
  expect(kinds(report)).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.records).toMatchObject({ checked: 4, digested: 4, records: 5 }); // 2 single objects + 2 batches
  expect(report.journal).toMatchObject({ checked: 3, archived: 3, pending: 0 });
  expect(await exportRecords(new DirectoryObjects(dir))).toEqual(
    [...oldRecs, ...newRecs].sort((a, b) => (a.started_at < b.started_at ? -1 : 1)),
  );
  expect(await exportRecords(new DirectoryObjects(dir), { since: at('2026-03-01T06:00:00Z') })).toEqual([newRecs[2]]);
  const q = await runLocalQuery(dir, auditQuery('session-by-id'), { session_id: sid(4), since: '2026-03-01', until: '2026-03-02' });
  expect(q.rows).toHaveLength(1);
  const old = await runLocalQuery(dir, auditQuery('session-by-id'), { session_id: sid(1), since: '2026-03-01', until: '2026-03-02' });
  expect(old.rows).toHaveLength(1); // the one-object-per-record layout, in the same view
});

it('a journaled record missing from the archive is reported (unarchived_record); within the grace period only warned', async () => {
  const dir = await mixedArchive();
  const [b5] = encodeBatches(newRecs.slice(0, 2));
  await unlink(join(dir, b5!.key)); // the batch of hour 05 is gone
  const report = await verifyDir(dir);
  expect(kinds(report)).toEqual(
    expect.arrayContaining([`missing_record ${b5!.key}`, `unarchived_record journal ${sid(3)}`, `unarchived_record journal ${sid(4)}`]),
  );
  const early = await verifyDir(dir, at('2026-03-01T05:20:00.000Z'));
  expect(early.warnings.map((w) => w.kind)).toContain('unarchived_record');
});

it('a batch rewritten with a changed record is caught by its digest and by the journal seal', async () => {
  const dir = await mixedArchive();
  const [b5] = encodeBatches(newRecs.slice(0, 2));
  const forged = sealRecord({ ...newRecs[0]!, decision: { ...newRecs[0]!.decision, status: 403 } });
  await rm(join(dir, b5!.key), { force: true });
  await writeFile(join(dir, b5!.key), gzipSync(`${JSON.stringify(forged)}\n${JSON.stringify(newRecs[1])}\n`));
  const report = await verifyDir(dir);
  expect(kinds(report)).toEqual(expect.arrayContaining([`changed_record ${b5!.key}`, `changed_record journal ${sid(3)}`]));
});

it('a record inside a batch (not digested yet) whose content no longer matches its seal is reported by position', async () => {
  const dir = await mixedArchive();
  const r = testRecord(sid(8), '2026-03-01T09:00:00.000Z');
  const key = `sessions/dt=2026-03-01/hr=09/batch-${sid(8)}-0000000000000000.jsonl.gz`;
  await mkdir(join(dir, 'sessions/dt=2026-03-01/hr=09'), { recursive: true });
  await writeFile(join(dir, key), gzipSync(`${JSON.stringify(r)}\n${JSON.stringify({ ...r, session_id: sid(9) })}\n`));
  const report = await verifyDir(dir);
  expect(kinds(report)).toEqual([`changed_record ${key}#2`]);
  expect(report.warnings.map((w) => w.key)).toContain(key); // not digested yet
});

it('a record placed in another hour’s batch is misplaced', async () => {
  const dir = await mixedArchive();
  const stray = testRecord(sid(9), '2026-03-01T09:00:00.000Z');
  const key = `sessions/dt=2026-03-01/hr=06/batch-${sid(9)}-0000000000000000.jsonl.gz`;
  await writeFile(join(dir, key), gzipSync(`${JSON.stringify(stray)}\n`));
  const report = await verifyDir(dir);
  expect(kinds(report)).toEqual(expect.arrayContaining([`misplaced_record ${key}#1`, `inserted_record ${key}`]));
});

it('two different records with one session id are reported', async () => {
  const dir = await mixedArchive();
  const twin = sealRecord({ ...newRecs[2]!, ended_at: '2026-03-01T06:15:01.000Z' });
  const key = `sessions/dt=2026-03-01/hr=06/batch-${sid(5)}-ffffffffffffffff.jsonl.gz`;
  await writeFile(join(dir, key), gzipSync(`${JSON.stringify(twin)}\n`));
  const report = await verifyDir(dir);
  expect(kinds(report)).toEqual(expect.arrayContaining([`duplicate_record session ${sid(5)}`]));
});

it('an intent whose request has a record passes verification; one without a record is warned about, not counted as archived', async () => {
  const dir = await mixedArchive();
  const signer = await LocalKeySigner.open(defaultSigningKeyPath(dir));
  const answered = { ...newRecs[0]!, intent: true };
  const dead = { ...testRecord(sid(9), '2026-03-01T05:19:00.000Z', 504), intent: true };
  const j = await readJournal(dir);
  const report = await verifyArchive({
    store: new DirectoryObjects(dir),
    publicKeys: [signer.publicKey],
    journal: { location: 'journal', entries: [...j.archived, ...j.pending, answered, dead] },
    now: at('2026-03-01T08:00:00.000Z'),
  });
  expect(kinds(report)).toEqual([]);
  expect(report.journal).toMatchObject({ checked: 3, archived: 3 });
  expect(report.warnings.map((w) => w.key)).toEqual([`journal ${sid(9)}#intent`]);
});
