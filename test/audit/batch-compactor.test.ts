/** The batched archive layout and the compactor (issue 16). */
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DirectoryObjects } from '../../lambda/adapters/local/archive-objects';
import { batchKey, decodeRecordObject, encodeBatches, objectLayout, RecordObjectError } from '../../lambda/core/audit/batch';
import { compactRecords } from '../../lambda/core/audit/compactor';
import { sid, testRecord } from '../support/records';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'embedgate-batch-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('batch layout', () => {
  it('one gzip JSON Lines object per hour partition, records sorted by session id, exact duplicates once', () => {
    const a = testRecord(sid(2), '2026-03-01T05:10:00.000Z');
    const b = testRecord(sid(1), '2026-03-01T05:59:59.999Z');
    const c = testRecord(sid(3), '2026-03-01T06:00:00.000Z');
    const batches = encodeBatches([a, c, b, a]);
    expect(batches.map((x) => x.key)).toEqual([
      expect.stringMatching(/^sessions\/dt=2026-03-01\/hr=05\/batch-0190f000-0000-7000-8000-000000000001-[0-9a-f]{16}\.jsonl\.gz$/),
      expect.stringMatching(/^sessions\/dt=2026-03-01\/hr=06\/batch-0190f000-0000-7000-8000-000000000003-[0-9a-f]{16}\.jsonl\.gz$/),
    ]);
    expect(gunzipSync(batches[0]!.body).toString('utf8')).toBe(`${JSON.stringify(b)}\n${JSON.stringify(a)}\n`);
    expect(decodeRecordObject(batches[0]!.key, batches[0]!.body)).toEqual([b, a]);
  });

  it('the key depends on the records (their seals), not on their order of arrival', () => {
    const recs = [1, 2, 3].map((n) => testRecord(sid(n)));
    expect(encodeBatches(recs)[0]!.key).toBe(encodeBatches([...recs].reverse())[0]!.key);
    expect(encodeBatches(recs.slice(0, 2))[0]!.key).not.toBe(encodeBatches(recs)[0]!.key);
    const changed = { ...recs[2]!, record_sha256: 'sha256:' + '0'.repeat(64) };
    expect(batchKey('sessions/dt=2026-03-01/hr=05/', [recs[0]!, recs[1]!, changed])).not.toBe(encodeBatches(recs)[0]!.key);
  });

  it('reads both layouts and refuses what is neither', () => {
    const r = testRecord(sid(1));
    expect(objectLayout(`sessions/dt=2026-03-01/hr=05/${sid(1)}.json`)).toBe('single');
    expect(objectLayout(`sessions/dt=2026-03-01/hr=05/batch-x.jsonl.gz`)).toBe('batch');
    expect(objectLayout(`sessions/x.json`)).toBeNull();
    expect(decodeRecordObject(`sessions/dt=2026-03-01/hr=05/${sid(1)}.json`, Buffer.from(JSON.stringify(r) + '\n'))).toEqual([r]);
    const k = 'sessions/dt=2026-03-01/hr=05/batch-x.jsonl.gz';
    expect(() => decodeRecordObject(k, Buffer.from('plain'))).toThrow(/not gzip/);
    expect(() => decodeRecordObject(k, gzipSync(JSON.stringify(r)))).toThrow(/not terminated/);
    expect(() => decodeRecordObject(k, gzipSync(`${JSON.stringify(r)}\n[1]\n`))).toThrow(/line 2: not a JSON object/);
    expect(() => decodeRecordObject(k, gzipSync(''))).toThrow(RecordObjectError);
  });
});

describe('compactRecords', () => {
  it('writes each batch once; a retry of the same records finds them archived and writes nothing', async () => {
    const objects = new DirectoryObjects(dir);
    const recs = [1, 2, 3].map((n) => testRecord(sid(n), n < 3 ? '2026-03-01T05:00:00.000Z' : '2026-03-01T07:00:00.000Z'));
    const first = await compactRecords(recs, objects);
    expect(first.written).toHaveLength(2);
    expect(first.records).toBe(3);
    const again = await compactRecords(recs, objects);
    expect(again).toMatchObject({ written: [], existing: first.written });
    const files = await readdir(join(dir, 'sessions'), { recursive: true });
    expect(files.filter((f) => f.endsWith('.gz'))).toHaveLength(2);
    expect(files.some((f) => f.includes('.tmp-'))).toBe(false);
  });

  it('fails when another object holds the batch key (never takes foreign bytes for the batch)', async () => {
    const objects = new DirectoryObjects(dir);
    const recs = [testRecord(sid(1))];
    const [b] = encodeBatches(recs);
    await mkdir(join(dir, b!.key, '..'), { recursive: true });
    await writeFile(join(dir, b!.key), gzipSync(`${JSON.stringify(testRecord(sid(9)))}\n`));
    await expect(compactRecords(recs, objects)).rejects.toThrow(/exists with other records/);
  });

  it('rejects when the archive cannot take a batch', async () => {
    const failing = {
      location: 'x',
      list: async function* () {},
      get: async () => null,
      create: async () => Promise.reject(new Error('S3 down')),
    };
    await expect(compactRecords([testRecord(sid(1))], failing)).rejects.toThrow('S3 down');
  });
});
