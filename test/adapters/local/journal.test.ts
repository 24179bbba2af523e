/** The write-ahead journal of `embedgate dev` (issue 16): group commit, compaction, recovery. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
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

describe('intents (the request part, journaled while the upstream call runs)', () => {
  const intentOf = (n: number) => testRecord(sid(n), '2026-03-01T05:06:07.000Z', 504);
  const finalOf = (n: number) => testRecord(sid(n), '2026-03-01T05:06:07.000Z', 200);

  it('an intent followed by its final record leaves the final record only, in the journal and the archive', async () => {
    const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
    await j.putIntent(intentOf(1));
    expect(j.openIntentCount()).toBe(1);
    await j.put(finalOf(1));
    expect(j.openIntentCount()).toBe(0);
    const [seg] = await segments();
    const parsed = parseSegment(await readFile(join(dir, JOURNAL_DIR, seg!), 'utf8'));
    expect(parsed.intents).toEqual([intentOf(1)]);
    expect(parsed.records).toEqual([finalOf(1)]);
    expect(await readLocalArchive(dir)).toEqual([finalOf(1)]); // never the intent
    await j.close();
    expect(await readLocalArchive(dir)).toEqual([finalOf(1)]);
  });

  it('an intent is appended without an fdatasync of its own; the next record syncs it', async () => {
    const sync = jest.spyOn(fs, 'fdatasync');
    const syncInline = jest.spyOn(fs, 'fdatasyncSync');
    const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
    await Promise.all([j.putIntent(intentOf(1)), j.putIntent(intentOf(2)), j.putIntent(intentOf(3))]);
    expect(sync.mock.calls.length + syncInline.mock.calls.length).toBe(0);
    await j.put(finalOf(1));
    expect(sync.mock.calls.length + syncInline.mock.calls.length).toBe(1);
    await j.close();
  });

  it('an intent still waiting at compaction moves into the next segment, and its final record ends it there', async () => {
    const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
    await j.putIntent(intentOf(1));
    await j.put(finalOf(2));
    await j.compact();
    expect(await segments()).toEqual(['000000000001.archived.jsonl', '000000000002.jsonl']);
    expect(parseSegment(await readFile(join(dir, JOURNAL_DIR, '000000000002.jsonl'), 'utf8')).intents).toEqual([intentOf(1)]);
    await j.put(finalOf(1));
    await j.close();
    const all = await readLocalArchive(dir);
    expect(all.map((r) => [r.session_id, r.decision.status])).toEqual([
      [sid(1), 200],
      [sid(2), 200],
    ]);
  });

  it('an intent whose final record never comes is journaled as the request record after the grace period', async () => {
    let now = 1_000_000;
    const j = await FileJournal.open(dir, { compactEveryMs: 60_000, intentGraceMs: 5_000, now: () => now });
    await j.putIntent(intentOf(1));
    await j.compact();
    expect(await readLocalArchive(dir)).toEqual([]); // within the grace period: carried, not a record
    now += 5_001;
    await j.compact();
    expect(await readLocalArchive(dir)).toEqual([intentOf(1)]);
    expect(j.openIntentCount()).toBe(0);
    // The final record coming after all is a second record of the session: refused (the request fails closed).
    expect(isArchiveConflict(await j.put(finalOf(1)).catch((e: unknown) => e))).toBe(true);
    await j.close();
    expect(await readLocalArchive(dir)).toEqual([intentOf(1)]);
  });

  it('intents a killed process left open become their requests records at the next start; answered ones keep their final record', async () => {
    const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
    await j.putIntent(intentOf(1));
    await j.putIntent(intentOf(2));
    await j.put(finalOf(2));
    await j.compact(); // intent 1 carried into segment 2
    await j.putIntent(intentOf(3));
    // killed here: no close; segment 2 holds the carried intent 1 and intent 3
    const again = await FileJournal.open(dir, { compactEveryMs: 60_000 });
    const all = await readLocalArchive(dir);
    expect(all.map((r) => [r.session_id, r.decision.status])).toEqual([
      [sid(1), 504],
      [sid(2), 200],
      [sid(3), 504],
    ]);
    expect(all.filter((r) => r.session_id === sid(1))).toEqual([intentOf(1)]);
    await again.close();
    expect((await readLocalArchive(dir)).length).toBe(3);
  });

  it('closing completes the intents still open (nothing in this process will end them)', async () => {
    const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
    await j.putIntent(intentOf(1));
    await j.close();
    expect(await readLocalArchive(dir)).toEqual([intentOf(1)]);
  });

  it('a line that claims to be an intent but holds no object is torn, not a record', () => {
    const text = `${JSON.stringify({ intent: 5 })}\n${JSON.stringify({ intent: intentOf(1) })}\n`;
    expect(parseSegment(text)).toEqual({ records: [], intents: [intentOf(1)], torn: 1 });
  });
});

it('readJournal lists the intents, each session once (an intent carried into the next segment too)', async () => {
  const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
  const intent = testRecord(sid(1), '2026-03-01T05:06:07.000Z', 504);
  await j.putIntent(intent);
  await j.put(testRecord(sid(2)));
  await j.compact(); // the intent is carried into segment 2
  const read = await readJournal(dir);
  expect(read.intents).toEqual([intent]);
  expect([...read.archived, ...read.pending].map((r) => r.session_id)).toEqual([sid(2)]);
  await j.close();
});

it('readJournal of a live journal: a segment archived between the listing and the read is read under its new name', async () => {
  const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
  await j.put(testRecord(sid(1)));
  const listed = await segments(); // ['000000000001.jsonl']
  await j.compact(); // renames it 000000000001.archived.jsonl, opens 000000000002.jsonl
  jest.spyOn(fsp, 'readdir').mockResolvedValueOnce(listed as never);
  const read = await readJournal(dir);
  expect(read.archived.map((r) => r.session_id)).toEqual([sid(1)]);
  expect(read.pending).toEqual([]);
  await j.close();
});

it('under sustained load (group writes back to back) a compaction swaps the segment between two writes instead of waiting for an idle writer', async () => {
  const j = await FileJournal.open(dir, { compactEveryMs: 60_000 });
  let n = 0;
  let stop = false;
  // 16 writers that put a new record as soon as their last one is acknowledged: the writer is never idle.
  const writers = Array.from({ length: 16 }, async () => {
    while (!stop) await j.put(testRecord(sid(++n)));
  });
  while (n < 200) await new Promise((r) => setImmediate(r));
  const before = n;
  await j.compact();
  const during = n - before;
  stop = true;
  await Promise.all(writers);
  // The compaction ended while the load went on, and archived what the old segment held.
  expect(during).toBeLessThan(5000);
  expect((await segments()).filter((s) => s.endsWith('.archived.jsonl')).length).toBeGreaterThanOrEqual(1);
  await j.close();
  expect(await readLocalArchive(dir)).toHaveLength(n);
}, 30_000);
