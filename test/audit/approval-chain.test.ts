/**
 * The `approval-chain` audit query on DuckDB over an archive the real Gateway wrote while an
 * approval went through its steps (requested, a refused self-approval, decided, used, a refused
 * replay), next to a second approval that expired.
 */
import { rm } from 'node:fs/promises';
import { runLocalQuery } from '../../cli/audit-duckdb';
import { loadConfig } from '../../shared/config';
import { auditQuery } from '../../shared/audit-queries';
import { Gateway, type GatewayRequest } from '../../lambda/core/gateway';
import type { Principal } from '../../lambda/core/principal';
import { uuidv7 } from '../../lambda/core/ids';
import { handleApprovalTask } from '../../lambda/core/approvals/task';
import { FileArchive } from '../../lambda/adapters/local/file-archive';
import { InMemoryApprovalStore, LocalApprovalWorkflow } from '../../lambda/adapters/local/approvals';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';
import { tempDir } from './archive-fixture';

const ISS = 'https://idp.example.com';
const who = (subject: string, groups: string[]): Principal => ({
  issuerId: 'corp',
  issuer: ISS,
  subject,
  clientId: subject,
  groups,
  scopes: [],
  tokenId: null,
  expiresAt: null,
});
const P: Record<string, Principal> = { indexer: who('svc-indexer', ['search-team']), alice: who('alice', ['reviewers']) };

let dir: string;
let first: string;
let second: string;
beforeAll(async () => {
  dir = await tempDir('approval-chain');
  const config = loadConfig({
    issuers: [{ id: 'corp', issuer: ISS, audiences: 'embedgate', jwksUri: `${ISS}/jwks` }],
    models: [{ name: 'held', provider: 'local', dimensions: 8 }],
    policy: {
      rules: [
        {
          id: 'held-rule',
          effect: 'allow',
          match: { groups: 'search-team' },
          models: 'held',
          approval: { reviewers: { groups: ['reviewers'] } },
        },
      ],
    },
  });
  const archive = new FileArchive(dir);
  const store = new InMemoryApprovalStore();
  let now = Date.parse('2026-03-01T05:00:00.000Z');
  const clock = { now: () => (now += 1000) };
  const ids = { sessionId: () => uuidv7(clock.now()) };
  const workflow: LocalApprovalWorkflow = new LocalApprovalWorkflow({
    runTask: (e) => handleApprovalTask(e, { config, store, workflow, archive, clock, ids }),
    notify: () => undefined,
  });
  const gateway = new Gateway({
    config,
    verifier: { verify: async (t) => P[t]! },
    provider: () => ({
      kind: 'local',
      embed: async (c) => ({
        vectors: c.input.map(() => new Float32Array(8)),
        usage: { promptTokens: 1, totalTokens: 1 },
        upstream: { status: 200, latencyMs: 1, attempts: 1, batches: 1 },
      }),
    }),
    revocations: new InMemoryRevocationList(),
    archive,
    approvals: { store, workflow },
    clock,
    ids,
  });
  const send = async (token: string, path: string, body: unknown, headers: Record<string, string> = {}) => {
    const req: GatewayRequest = {
      method: 'POST',
      path,
      headers: { authorization: `Bearer ${token}`, ...headers },
      rawQueryString: '',
      body: JSON.stringify(body),
      isBase64Encoded: false,
      requestId: null,
      sourceIp: null,
    };
    return JSON.parse((await gateway.handle(req)).response.body) as { approval_id: string };
  };
  const payload = { model: 'held', input: 'x' };
  first = (await send('indexer', '/v1/embeddings', payload)).approval_id;
  await send('indexer', `/v1/approvals/${first}/decision`, { decision: 'approve', reason: 'mine' });
  await send('alice', `/v1/approvals/${first}/decision`, { decision: 'approve', reason: 'ok' });
  await send('indexer', '/v1/embeddings', payload, { 'x-embedgate-approval-id': first });
  await send('indexer', '/v1/embeddings', payload, { 'x-embedgate-approval-id': first });
  second = (await send('indexer', '/v1/embeddings', { model: 'held', input: 'y' })).approval_id;
  await handleApprovalTask(
    { action: 'expire', approvalId: second, executionId: 'exec-2' },
    { config, store, workflow, archive, clock, ids },
  );
  workflow.close();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it('lists every step of one approval, in order, with who did what', async () => {
  const r = await runLocalQuery(dir, auditQuery('approval-chain'), { since: '2026-03-01', until: '2026-03-02', approval_id: first });
  expect(r.rows.map((x) => [x.step, x.approval_status, x.subject, x.decision, x.reviewer, x.status, x.reason])).toEqual([
    ['requested', 'pending', 'svc-indexer', null, null, 202, 'approval_required'],
    ['refused', 'pending', 'svc-indexer', 'approve', 'svc-indexer', 403, 'self_approval'],
    ['decided', 'approved', 'alice', 'approve', 'alice', 200, 'approval_approved'],
    ['used', 'used', 'svc-indexer', null, null, 200, 'rule_allow'],
    ['refused', 'used', 'svc-indexer', null, null, 403, 'approval_used'],
  ]);
  expect(new Set(r.rows.map((x) => x.payload_sha256)).size).toBe(1);
  expect(r.rows.every((x) => x.rule_id === 'held-rule' && x.triggers === 'always')).toBe(true);
});

it('shows an expiry written by the workflow', async () => {
  const r = await runLocalQuery(dir, auditQuery('approval-chain'), { since: '2026-03-01', until: '2026-03-02', approval_id: second });
  expect(r.rows.map((x) => [x.step, x.method, x.reason])).toEqual([
    ['requested', 'POST', 'approval_required'],
    ['expired', 'WORKFLOW', 'approval_expired'],
  ]);
});
