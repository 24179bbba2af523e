/** The write-ahead journal of `embedgate dev` (issue 16): group commit, compaction, recovery. */
import fs from 'node:fs';
import type * as fsPromises from 'node:fs/promises';
import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileJournal, JOURNAL_DIR, parseSegment, readJournal } from '../../../lambda/adapters/local/journal';
import { compactRecords } from '../../../lambda/core/audit/compactor';
import { isArchiveConflict } from '../../../lambda/core/errors';
import { readLocalArchive } from '../../../cli/archive-reader';
import { sid, testRecord } from '../../support/records';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'embedgate-journal-'));
});
afterEach(async () => {
  jest.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const segments = async () => (await readdir(join(dir, JOURNAL_DIR))).sort();

describe.each([
  ['group commit', false],
  ['inline', true],
])('%s', (_name, inline) => {
  it('acknowledges a record only once it is in the journal file, then compacts it into a batch object', async () => {
    const j = await FileJournal.open(dir, { writeInline: () => inline, compactEveryMs: 60_000 });
    const r = testRecord(sid(1));
    await j.put(r);
    const [seg] = await segments();
    expect(parseSegment(await readFile(join(dir, JOURNAL_DIR, seg!), 'utf8')).records).toEqual([r]);
    expect(await readLocalArchive(dir)).toEqual([r]); // pending in the journal, already readable
    await j.compact();
    expect(await segments()).toEqual(['000000000001.archived.jsonl', '000000000002.jsonl']);
    const files = (await readdir(join(dir, 'sessions'), { recursive: true })).filter((f) => f.endsWith('.gz'));
    expect(files).toHaveLength(1);
    expect(await readLocalArchive(dir)).toEqual([r]);
    await j.close();
  });

  it('refuses a second record with a session id it holds (as the S3 archive does)', async () => {
    const j = await FileJournal.open(dir, { writeInline: () => inline, compactEveryMs: 60_000 });
    await j.put(testRecord(sid(1)));
    const e = await j.put(testRecord(sid(1), '2026-03-01T05:06:08.000Z')).catch((x: unknown) => x);
    expect(isArchiveConflict(e)).toBe(true);
    await j.close();
  });
});

it('concurrent records share one fdatasync (group commit), and every one is acknowledged', async () => {
  const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
  const syncs = jest.spyOn(fs, 'fdatasync');
  await Promise.all(Array.from({ length: 50 }, (_, i) => j.put(testRecord(sid(i + 1)))));
  expect(syncs.mock.calls.length).toBeGreaterThanOrEqual(1);
  expect(syncs.mock.calls.length).toBeLessThanOrEqual(3);
  expect(j.pendingRecords()).toHaveLength(50);
  await j.close();
  expect((await readLocalArchive(dir)).map((r) => r.session_id)).toEqual(Array.from({ length: 50 }, (_, i) => sid(i + 1)));
});

it('a failed fdatasync rejects the records of that write (the gateway fails closed) and forgets them', async () => {
  const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
  jest.spyOn(fs, 'fdatasync').mockImplementationOnce((_fd, cb) => (cb as (e: Error) => void)(new Error('EIO')));
  await expect(j.put(testRecord(sid(1)))).rejects.toThrow('EIO');
  expect(j.pendingRecords()).toEqual([]);
  await j.put(testRecord(sid(1))); // the session id is free again: nothing was acknowledged
  await j.close();
});

it('recovery: segments a killed process left open are archived at the next start; a torn last line is skipped', async () => {
  const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
  const recs = [1, 2, 3].map((n) => testRecord(sid(n)));
  for (const r of recs) await j.put(r);
  // As if the process were killed here: no close, no compaction; then a write cut short.
  const [open] = await segments();
  await appendFile(join(dir, JOURNAL_DIR, open!), '{"schema":"embedgate.sess');
  const next = await FileJournal.open(dir, { compactEveryMs: 60_000 });
  expect(await segments()).toEqual(['000000000001.archived.jsonl', '000000000002.jsonl']);
  expect(await readLocalArchive(dir)).toEqual(recs);
  const { archived, pending } = await readJournal(dir);
  expect(archived).toEqual(recs);
  expect(pending).toEqual([]);
  await next.close();
  await j.close().catch(() => undefined);
});

it('recovery after a crash between the batch write and the segment rename writes nothing twice', async () => {
  const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
  await j.put(testRecord(sid(1)));
  const objects = j.objects;
  await compactRecords(j.pendingRecords(), objects); // archived, but the segment still open
  const again = await FileJournal.open(dir, { compactEveryMs: 60_000 });
  expect((await readdir(join(dir, 'sessions'), { recursive: true })).filter((f) => f.endsWith('.gz'))).toHaveLength(1);
  expect(await readLocalArchive(dir)).toHaveLength(1);
  await again.close();
});

it('a compaction that fails keeps the segment and retries it', async () => {
  const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
  await j.put(testRecord(sid(1)));
  const create = jest.spyOn(j.objects, 'create').mockRejectedValueOnce(new Error('disk full'));
  await expect(j.compact()).rejects.toThrow('disk full');
  expect(j.pendingRecords()).toHaveLength(1);
  await j.compact();
  expect(create).toHaveBeenCalledTimes(2);
  expect(j.pendingRecords()).toEqual([]);
  await j.close();
  expect(await readLocalArchive(dir)).toHaveLength(1);
});

it('a segment archived between the listing and its reading is read under its archived name (compaction running alongside a reader)', async () => {
  const j = await FileJournal.open(dir, { writeInline: () => true, compactEveryMs: 60_000 });
  const r = testRecord(sid(7));
  await j.put(r);
  const fsp = jest.requireActual<typeof fsPromises>('node:fs/promises');
  const realReaddir = fsp.readdir.bind(fsp);
  // The listing sees the open segment; the compactor renames it before the reader opens it.
  jest.spyOn(fsp, 'readdir').mockImplementationOnce((async (p: string) => {
    const names = (await realReaddir(p)) as string[];
    await fsp.rename(join(p, '000000000001.jsonl'), join(p, '000000000001.archived.jsonl'));
    return names;
  }) as never);
  expect(await readJournal(dir)).toEqual({ archived: [r], pending: [] });
  // Undo the stand-in rename so the journal closes over the files it wrote.
  await fsp.rename(join(dir, JOURNAL_DIR, '000000000001.archived.jsonl'), join(dir, JOURNAL_DIR, '000000000001.jsonl'));
  await j.close();
});
