/** The local write-once archive of `embedgate dev`. */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileArchive } from '../../../lambda/adapters/local/file-archive';
import { isArchiveConflict } from '../../../lambda/core/errors';
import { RECORD_SCHEMA, recordKey, sealRecord, type SessionRecord } from '../../../lambda/core/record';

const record = (id: string, at = '2026-03-01T05:06:07.000Z'): SessionRecord =>
  sealRecord({
    schema: RECORD_SCHEMA, session_id: id, started_at: at, ended_at: at,
    request: { method: 'POST', path: '/v1/embeddings', request_id: null, source_ip: null, user_agent: null },
    principal: null, model: null,
    decision: { outcome: 'deny', status: 401, reason: 'missing_token', rule_id: null, policy_version: 'sha256:0' },
    input: { kind: null, items: 0, characters: 0, encoding_format: null, dimensions: null, request_bytes: 0, text: null },
    masking: null, upstream: null, usage: null, output: null, timings: { total_ms: 0, auth_ms: 0, upstream_ms: 0 }, approval: null,
  });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'embedgate-file-archive-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

it('writes one read-only JSON line per record under the S3 key layout', async () => {
  const r = record('0190a6b2-7c4d-7e00-8000-000000000001');
  const { key } = await new FileArchive(dir).put(r);
  expect(key).toBe(recordKey(r));
  expect(await readFile(join(dir, key), 'utf8')).toBe(`${JSON.stringify(r)}\n`);
  expect((await stat(join(dir, key))).mode & 0o777).toBe(0o444);
});

it('never overwrites: a second record with the same key is an ArchiveConflictError', async () => {
  const a = new FileArchive(dir);
  await a.put(record('0190a6b2-7c4d-7e00-8000-000000000002'));
  const e = await a.put(record('0190a6b2-7c4d-7e00-8000-000000000002')).catch((x: unknown) => x);
  expect(isArchiveConflict(e)).toBe(true);
});

it('makes a partition directory again if it was removed after the first write of the hour', async () => {
  const a = new FileArchive(dir);
  await a.put(record('0190a6b2-7c4d-7e00-8000-000000000003'));
  await rm(join(dir, 'sessions'), { recursive: true });
  const { key } = await a.put(record('0190a6b2-7c4d-7e00-8000-000000000004'));
  expect(await readFile(join(dir, key), 'utf8')).toContain('000000000004');
});
