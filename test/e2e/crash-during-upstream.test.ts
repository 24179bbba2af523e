/**
 * The bonus of the overlapped journal write (issue 16): a request whose process dies during its
 * upstream call still leaves exactly one record. `embedgate dev` journals each request's intent
 * before the upstream call; it is killed (SIGKILL) while the calls hang; after a restart on the same
 * archive directory, each of those requests has one record saying it had no outcome (504,
 * `no_outcome`), with who asked, the decision's rule, the model and what masking found, and a
 * request answered before the kill keeps its one final record.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportRecords } from '../../cli/audit-export';
import { DirectoryObjects } from '../../lambda/adapters/local/archive-objects';
import { readJournal } from '../../lambda/adapters/local/journal';
import { recordSha256, type SessionRecord } from '../../lambda/core/record';
import { generateTestKey, signToken, startJwksServer, type JwksServer } from '../support/jwks';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { LOAD_AUDIENCE } from '../support/load-driver';
import { send, startGateway, type RawResponse } from '../support/security-harness';

let idp: JwksServer;
let upstream: FakeUpstream;
let archiveDir: string;
let answered: RawResponse;
const hung: Promise<unknown>[] = [];
let records: SessionRecord[];

beforeAll(async () => {
  const key = await generateTestKey('RS256', { kid: 'crash-2' });
  [idp, upstream] = await Promise.all([startJwksServer({ keys: [key] }), startFakeUpstream({ dimensions: 16 })]);
  archiveDir = await mkdtemp(join(tmpdir(), 'embedgate-crash-upstream-'));
  const config = {
    issuers: [{ id: 'corp', issuer: idp.issuer, jwksUri: idp.jwksUri, audiences: [LOAD_AUDIENCE] }],
    models: [
      {
        name: 'remote',
        provider: 'openai-compatible',
        upstreamModel: 'text-embedding-3-small',
        baseUrl: upstream.url,
        apiKey: { source: 'env', name: 'CRASH_UPSTREAM_KEY' },
        upstream: { maxRetries: 0, timeoutMs: 60_000 },
      },
    ],
    policy: { rules: [{ id: 'indexers', effect: 'allow', match: { issuer: 'corp', groups: 'indexers' }, models: '*' }] },
    masking: { enabled: true, strategies: { EMAIL: 'redact' } },
  };
  const env = { CRASH_UPSTREAM_KEY: 'sk-crash-upstream' };
  const gw = await startGateway({ config, env, archiveDir, args: ['--compact-every-ms', '60000'] });
  const now = Math.floor(Date.now() / 1000);
  const token = await signToken(key, {
    iss: idp.issuer,
    aud: LOAD_AUDIENCE,
    sub: 'svc-indexer',
    client_id: 'svc-indexer',
    groups: ['indexers'],
    iat: now - 10,
    exp: now + 900,
  });
  const body = (input: string) => JSON.stringify({ model: 'remote', input });
  const headers = { authorization: `Bearer ${token}` };
  answered = await send(gw.url, '/v1/embeddings', { headers, body: body('answered before the kill') });
  // Three calls that hang at the upstream; the process dies while they wait.
  upstream.setBehaviour({ kind: 'success', latencyMs: 60_000 });
  for (const text of ['first hung call', 'second hung call, mail me at jane.doe@example.com', 'third hung call'])
    hung.push(send(gw.url, '/v1/embeddings', { headers, body: body(text) }).catch((e: unknown) => e));
  const deadline = Date.now() + 15_000;
  while (upstream.inFlight < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  process.kill(gw.pid, 'SIGKILL');
  await Promise.all(hung);
  await gw.stop();
  upstream.setBehaviour({ kind: 'success', latencyMs: 0 });
  // Restart on the same directory: recovery completes the intents the dead process left open.
  const second = await startGateway({ config, env, archiveDir });
  await second.stop();
  records = await exportRecords(new DirectoryObjects(archiveDir));
}, 90_000);

afterAll(async () => {
  await Promise.all([idp?.stop(), upstream?.close()]);
  if (archiveDir) await rm(archiveDir, { recursive: true, force: true });
});

it('the three hung calls reached the upstream and got no answer (the process died during them)', async () => {
  expect(answered.status).toBe(200);
  expect(upstream.requests.length).toBe(4);
  for (const r of await Promise.all(hung)) expect((r as { status?: number; message?: string }).status).toBeUndefined(); // a socket error, no response
});

it('each request has exactly one record: the answered one its final record, the hung ones a sealed no_outcome record', () => {
  expect(records).toHaveLength(4);
  expect(new Set(records.map((r) => r.session_id)).size).toBe(4);
  const final = records.find((r) => r.session_id === answered.sessionId)!;
  expect(final.decision).toMatchObject({ outcome: 'allow', status: 200 });
  const dead = records.filter((r) => r.session_id !== answered.sessionId);
  expect(dead).toHaveLength(3);
  for (const r of dead) {
    expect(r.decision).toMatchObject({ outcome: 'error', status: 504, reason: 'no_outcome', rule_id: 'indexers' });
    expect(r.principal?.subject).toBe('svc-indexer');
    expect(r.model?.name).toBe('remote');
    expect(r.upstream).toBeNull();
    expect(r.output).toBeNull();
    expect(r.record_sha256).toBe(recordSha256(r));
  }
  // What masking found is in the record (the value never is).
  const text = JSON.stringify(dead);
  expect(text).not.toContain('jane.doe@example.com');
  expect(dead.filter((r) => r.masking?.findings.some((f) => f.type === 'EMAIL'))).toHaveLength(1);
});

it('the journal holds nothing unarchived after the restart', async () => {
  expect((await readJournal(archiveDir)).pending).toEqual([]);
});
