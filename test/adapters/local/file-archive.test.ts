/** The local write-once archive of `embedgate dev`. */
import fs from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileArchive } from '../../../lambda/adapters/local/file-archive';
import { isArchiveConflict } from '../../../lambda/core/errors';
import { RECORD_SCHEMA, recordKey, sealRecord, type SessionRecord } from '../../../lambda/core/record';

const record = (id: string, at = '2026-03-01T05:06:07.000Z'): SessionRecord =>
  sealRecord({
    schema: RECORD_SCHEMA,
    session_id: id,
    started_at: at,
    ended_at: at,
    request: { method: 'POST', path: '/v1/embeddings', request_id: null, source_ip: null, user_agent: null },
    principal: null,
    model: null,
    decision: { outcome: 'deny', status: 401, reason: 'missing_token', rule_id: null, policy_version: 'sha256:0' },
    input: { kind: null, items: 0, characters: 0, encoding_format: null, dimensions: null, request_bytes: 0, text: null },
    masking: null,
    upstream: null,
    usage: null,
    output: null,
    timings: { total_ms: 0, auth_ms: 0, upstream_ms: 0 },
    approval: null,
  });

let dir: string;
/** The prototype of node's FileHandle (not exported by name), to make one of its calls fail. */
let FileHandlePrototype: { datasync(): Promise<void> };
beforeAll(async () => {
  const fh = await open(__filename, 'r');
  FileHandlePrototype = Object.getPrototypeOf(fh) as typeof FileHandlePrototype;
  await fh.close();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'embedgate-file-archive-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

// Both ways of writing: through the thread pool (under concurrency) and on the calling thread
// (`writeInline`: the only request in flight in `embedgate dev`).
describe.each([
  ['through the thread pool', false],
  ['inline', true],
])('%s', (_name, inline) => {
  it('writes one read-only JSON line per record under the S3 key layout', async () => {
    const r = record('0190a6b2-7c4d-7e00-8000-000000000001');
    const { key } = await new FileArchive(dir, { writeInline: () => inline }).put(r);
    expect(key).toBe(recordKey(r));
    expect(await readFile(join(dir, key), 'utf8')).toBe(`${JSON.stringify(r)}\n`);
    expect((await stat(join(dir, key))).mode & 0o777).toBe(0o444);
  });

  it('never overwrites: a second record with the same key is an ArchiveConflictError', async () => {
    const a = new FileArchive(dir, { writeInline: () => inline });
    await a.put(record('0190a6b2-7c4d-7e00-8000-000000000002'));
    const e = await a.put(record('0190a6b2-7c4d-7e00-8000-000000000002')).catch((x: unknown) => x);
    expect(isArchiveConflict(e)).toBe(true);
  });

  it('makes a partition directory again if it was removed after the first write of the hour', async () => {
    const a = new FileArchive(dir, { writeInline: () => inline });
    await a.put(record('0190a6b2-7c4d-7e00-8000-000000000003'));
    await rm(join(dir, 'sessions'), { recursive: true });
    const { key } = await a.put(record('0190a6b2-7c4d-7e00-8000-000000000004'));
    expect(await readFile(join(dir, key), 'utf8')).toContain('000000000004');
  });

  it('a file where a partition directory should be is an error, not a conflict (a conflict would read as "already written")', async () => {
    const r = record('0190a6b2-7c4d-7e00-8000-000000000009');
    const partition = join(dir, recordKey(r), '..');
    await mkdir(join(partition, '..'), { recursive: true });
    await writeFile(partition, 'a file where the hour directory should be');
    const e = await new FileArchive(dir, { writeInline: () => inline }).put(r).catch((x: unknown) => x);
    expect(isArchiveConflict(e)).toBe(false);
    expect((e as NodeJS.ErrnoException).code).toMatch(/EEXIST|ENOTDIR/);
  });

  it('a write that fails after the file was created removes the partial file, so a retry writes the record', async () => {
    const r = record('0190a6b2-7c4d-7e00-8000-00000000000a');
    const a = new FileArchive(dir, { writeInline: () => inline });
    const failure = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    const spy = inline
      ? jest.spyOn(fs, 'fdatasyncSync').mockImplementationOnce(() => {
          throw failure;
        })
      : jest.spyOn(FileHandlePrototype, 'datasync').mockImplementationOnce(() => Promise.reject(failure));
    try {
      await expect(a.put(r)).rejects.toThrow('no space left on device');
    } finally {
      spy.mockRestore();
    }
    expect(fs.existsSync(join(dir, recordKey(r)))).toBe(false);
    const { key } = await a.put(r);
    expect(await readFile(join(dir, key), 'utf8')).toBe(`${JSON.stringify(r)}\n`);
  });

  it('a record that cannot be written is an error, never a silent loss', async () => {
    const a = new FileArchive(join(dir, 'missing-parent', 'file'), { writeInline: () => inline });
    await writeFile(join(dir, 'missing-parent'), 'a file where the archive directory should be');
    await expect(a.put(record('0190a6b2-7c4d-7e00-8000-000000000005'))).rejects.toThrow(/ENOTDIR|EEXIST/);
  });
});

it('asks before every write whether to write inline, and each answer is followed', async () => {
  const answers = [true, false, true];
  const asked: boolean[] = [];
  const a = new FileArchive(dir, {
    writeInline: () => {
      const x = answers[asked.length]!;
      asked.push(x);
      return x;
    },
  });
  const ids = ['0190a6b2-7c4d-7e00-8000-000000000006', '0190a6b2-7c4d-7e00-8000-000000000007', '0190a6b2-7c4d-7e00-8000-000000000008'];
  // An inline write never gives up the event loop: `put` settles before an immediate queued just
  // before it runs. Through the thread pool, each of its four calls waits for a turn of the loop.
  const loopTurned: boolean[] = [];
  for (const id of ids) {
    let turned = false;
    setImmediate(() => (turned = true));
    const { key } = await a.put(record(id));
    loopTurned.push(turned);
    expect(JSON.parse(await readFile(join(dir, key), 'utf8')).session_id).toBe(id);
  }
  expect(asked).toEqual([true, false, true]);
  expect(loopTurned).toEqual([false, true, false]);
});
