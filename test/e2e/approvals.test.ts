/**
 * End to end: approvals through `embedgate dev --issuer` (a child process) with two requesting
 * principals and two reviewers, real tokens from the embedded issuer, the official `openai`
 * client against a local upstream stand-in, the `embedgate approvals` CLI as the reviewers' tool,
 * and the records in the archive.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { readLocalArchive } from '../../cli/archive-reader';
import { fetchClientCredentialsToken } from '../../cli/issuer';
import { startDevProcess, type DevProcess } from '../support/dev-process';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';

const run = promisify(execFile);
const AUDIENCE = 'https://embedgate.e2e-approvals';
const CLIENTS = [
  { clientId: 'indexer', clientSecret: 'indexer-secret-e2e', scopes: ['embeddings'], claims: { groups: ['search-team'] } },
  { clientId: 'agent', clientSecret: 'agent-secret-e2e', scopes: ['embeddings'], claims: { groups: ['agents'] } },
  { clientId: 'alice', clientSecret: 'alice-secret-e2e', scopes: ['embeddings'], claims: { groups: ['reviewers'] } },
  { clientId: 'bob', clientSecret: 'bob-secret-e2e', scopes: ['embeddings'], claims: { groups: ['reviewers'] } },
];

let upstream: FakeUpstream;
let dev: DevProcess;
let archiveDir: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  upstream = await startFakeUpstream({ dimensions: 12 });
  const dir = await mkdtemp(join(tmpdir(), 'embedgate-e2e-approvals-'));
  archiveDir = join(dir, 'archive');
  const config = {
    issuers: [],
    models: [
      {
        name: 'remote',
        provider: 'openai-compatible',
        upstreamModel: 'text-embedding-3-small',
        baseUrl: upstream.url,
        apiKey: { source: 'env', name: 'E2E_UPSTREAM_KEY' },
        upstream: { maxRetries: 0 },
      },
      {
        name: 'remote-critical',
        provider: 'openai-compatible',
        upstreamModel: 'text-embedding-3-large',
        baseUrl: upstream.url,
        apiKey: { source: 'env', name: 'E2E_UPSTREAM_KEY' },
        upstream: { maxRetries: 0 },
      },
    ],
    policy: {
      rules: [
        {
          id: 'remote-held-for-outsiders',
          effect: 'allow',
          match: { issuer: 'dev', groups: ['search-team', 'agents'] },
          models: 'remote',
          approval: { when: { principalOutsideGroups: ['search-team'], batchOver: 4 }, reviewers: { groups: ['reviewers'] } },
        },
        {
          id: 'critical-two-person',
          effect: 'allow',
          match: { issuer: 'dev', groups: ['search-team'] },
          models: 'remote-critical',
          approval: { reviewers: { groups: ['reviewers'] }, requiredApprovals: 2 },
        },
      ],
    },
    dev: { issuer: { audience: AUDIENCE, clients: CLIENTS } },
  };
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify(config));
  dev = await startDevProcess(['--config', file, '--issuer', '--archive-dir', archiveDir], { E2E_UPSTREAM_KEY: 'sk-e2e-0123456789abcdef' });
  for (const c of CLIENTS) tokens[c.clientId] = await fetchClientCredentialsToken(dev.tokenEndpoint!, c);
}, 60_000);

afterAll(async () => {
  await dev?.stop();
  await upstream?.close();
});

const openai = (who: string) => new OpenAI({ baseURL: `${dev.url}/v1`, apiKey: tokens[who]!, maxRetries: 0 });
type Ticket = { approval_id: string; status: string; poll_url: string; triggers: string[] };

/** The CLI, as a reviewer would run it (a child process, token in the environment). */
async function cli(who: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['cli/embedgate.js', 'approvals', ...args, '--url', dev.url], {
      env: { ...process.env, EMBEDGATE_TOKEN: tokens[who]! },
    });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

async function status(call: Promise<unknown>): Promise<number | string> {
  try {
    await call;
    return 200;
  } catch (e) {
    if (e instanceof OpenAI.APIError) return `${e.status} ${e.code}`;
    throw e;
  }
}

it('the in-group principal is not held; the outsider is held (202), sees only its own approvals, and is forwarded once after a reviewer approves', async () => {
  const upstreamBefore = upstream.requests.length;
  const direct = await openai('indexer').embeddings.create({ model: 'remote', input: ['annual report'] });
  expect(direct.data).toHaveLength(1);

  const body = { model: 'remote', input: ['customer complaint about delivery'] };
  const held = await openai('agent').embeddings.create(body).withResponse();
  expect(held.response.status).toBe(202);
  expect(held.response.headers.get('retry-after')).toBe('10');
  const ticket = held.data as unknown as Ticket;
  expect(ticket).toMatchObject({ status: 'pending', triggers: ['principal_outside_groups'] });
  expect(ticket.poll_url).toBe(`${dev.url}/v1/approvals/${ticket.approval_id}`);
  expect(upstream.requests.length).toBe(upstreamBefore + 1);

  // The requester polls its approval; another requester cannot see it.
  const poll = await fetch(ticket.poll_url, { headers: { authorization: `Bearer ${tokens.agent}` } });
  expect(((await poll.json()) as { status: string }).status).toBe('pending');
  expect((await fetch(ticket.poll_url, { headers: { authorization: `Bearer ${tokens.indexer}` } })).status).toBe(404);

  // The requester cannot approve itself (it is not a reviewer either); a reviewer lists and approves.
  const self = await cli('agent', ['approve', ticket.approval_id, '--reason', 'trust me']);
  expect(self.code).toBe(2);
  expect(self.err).toContain('self_approval');
  const list = await cli('alice', ['list', '--status', 'pending']);
  expect(list.out).toContain(ticket.approval_id);
  const approve = await cli('alice', ['approve', ticket.approval_id, '--reason', 'routine support text']);
  expect(approve.code).toBe(0);
  expect(approve.out).toContain('is now approved');

  // Another principal cannot use it; a changed payload is refused; the exact re-send goes through once.
  expect(await status(openai('indexer').embeddings.create(body, { headers: { 'x-embedgate-approval-id': ticket.approval_id } }))).toBe(200); // the indexer needs no approval: header ignored
  expect(
    await status(
      openai('agent').embeddings.create(
        { ...body, input: ['something else'] },
        { headers: { 'x-embedgate-approval-id': ticket.approval_id } },
      ),
    ),
  ).toBe('403 approval_payload_mismatch');
  const used = await openai('agent').embeddings.create(body, { headers: { 'x-embedgate-approval-id': ticket.approval_id } });
  expect(used.data).toHaveLength(1);
  expect(used.data[0]!.embedding).toHaveLength(12);
  expect(await status(openai('agent').embeddings.create(body, { headers: { 'x-embedgate-approval-id': ticket.approval_id } }))).toBe(
    '403 approval_used',
  );

  const records = (await readLocalArchive(archiveDir)).filter((r) => r.approval?.id === ticket.approval_id);
  expect(records.map((r) => `${r.approval!.step}:${r.principal?.subject}`)).toEqual([
    'requested:agent',
    'viewed:agent',
    'refused:agent',
    'decided:alice',
    'refused:agent',
    'used:agent',
    'refused:agent',
  ]);
  // The reviewer's view never carries the token or anything of the workflow's.
  const shown = await cli('bob', ['show', ticket.approval_id]);
  expect(shown.out).not.toContain('taskToken');
  expect(shown.out).not.toContain(tokens.agent!);
}, 60_000);

it('a denied request is never forwarded', async () => {
  const body = { model: 'remote', input: ['a', 'b', 'c', 'd', 'e'] };
  const ticket = (await openai('indexer').embeddings.create(body).withResponse()).data as unknown as Ticket;
  expect(ticket.triggers).toEqual(['batch_over:4']);
  expect((await cli('bob', ['deny', ticket.approval_id, '--reason', 'bulk export not allowed'])).code).toBe(0);
  const before = upstream.requests.length;
  expect(await status(openai('indexer').embeddings.create(body, { headers: { 'x-embedgate-approval-id': ticket.approval_id } }))).toBe(
    '403 approval_denied',
  );
  expect(upstream.requests.length).toBe(before);
}, 60_000);

it('the two-person rule: one approval is not enough, the same reviewer twice does not count, a second reviewer completes it', async () => {
  const body = { model: 'remote-critical', input: ['board minutes'] };
  const ticket = (await openai('indexer').embeddings.create(body).withResponse()).data as unknown as Ticket;
  expect((await cli('alice', ['approve', ticket.approval_id, '--reason', 'ok'])).out).toContain('is now pending (1/2 approvals)');
  expect(await status(openai('indexer').embeddings.create(body, { headers: { 'x-embedgate-approval-id': ticket.approval_id } }))).toBe(
    '409 approval_pending',
  );
  expect((await cli('alice', ['approve', ticket.approval_id, '--reason', 'really ok'])).err).toContain('already_decided');
  expect((await cli('bob', ['approve', ticket.approval_id, '--reason', 'second pair of eyes'])).out).toContain(
    'is now approved (2/2 approvals)',
  );
  const used = await openai('indexer').embeddings.create(body, { headers: { 'x-embedgate-approval-id': ticket.approval_id } });
  expect(used.data).toHaveLength(1);
}, 60_000);

it('every request left exactly one record, and no record holds a token', async () => {
  const records = await readLocalArchive(archiveDir);
  const ids = records.map((r) => r.session_id);
  expect(new Set(ids).size).toBe(ids.length);
  const raw = JSON.stringify(records);
  for (const t of Object.values(tokens)) expect(raw).not.toContain(t);
});
