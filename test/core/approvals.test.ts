/**
 * Approvals through the core pipeline (`Gateway.handle`) with the dev runtime's store and
 * workflow: each security property on its own, and the ways to attack it.
 */
import { loadConfig, type GatewayConfig, type GatewayConfigInput } from '../../shared/config';
import { unauthenticated } from '../../lambda/core/errors';
import { Gateway, type GatewayRequest } from '../../lambda/core/gateway';
import type { Principal } from '../../lambda/core/principal';
import type { Archive, EmbeddingCall, EmbeddingProvider, EmbeddingResult } from '../../lambda/core/ports';
import type { SessionRecord } from '../../lambda/core/record';
import { approvalTriggers, payloadSha256 } from '../../lambda/core/approvals/triggers';
import { handleApprovalTask } from '../../lambda/core/approvals/task';
import { useApproval } from '../../lambda/core/approvals/rules';
import { lazyMasker } from '../../lambda/core/masking/runtime';
import { InMemoryApprovalStore, LocalApprovalWorkflow } from '../../lambda/adapters/local/approvals';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';
import { ArchiveConflictError, UpstreamError } from '../../lambda/core/errors';

const ISS = 'https://idp.example.com';
const base = { issuerId: 'corp', issuer: ISS, clientId: null, scopes: [], tokenId: null, expiresAt: 2_000_000_000 };
const P: Record<string, Principal> = {
  indexer: { ...base, subject: 'svc-indexer', clientId: 'indexer', groups: ['search-team'] },
  agent: { ...base, subject: 'svc-agent', clientId: 'agent', groups: ['agents'] },
  alice: { ...base, subject: 'alice', groups: ['reviewers'] },
  // Same group name and subject, another identity provider.
  partnerAlice: { ...base, issuerId: 'partner', issuer: 'https://partner.example.net', subject: 'alice', groups: ['reviewers'] },
  bob: { ...base, subject: 'bob', groups: ['reviewers'] },
  // A reviewer who is also a requester: may never approve their own request.
  carol: { ...base, subject: 'carol', groups: ['reviewers', 'search-team'] },
  mallory: { ...base, subject: 'mallory', groups: ['search-team'] },
};

function doc(approval: Record<string, unknown>, extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  return {
    issuers: [{ id: 'corp', issuer: ISS, audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
    models: [
      { name: 'small', provider: 'local', dimensions: 8 },
      { name: 'sensitive', provider: 'local', dimensions: 8 },
    ],
    policy: {
      rules: [
        { id: 'search-small', effect: 'allow', match: { groups: ['search-team', 'agents'] }, models: 'small' },
        {
          id: 'sensitive-held',
          effect: 'allow',
          match: { groups: ['search-team', 'agents'] },
          models: 'sensitive',
          approval: { reviewers: { groups: ['reviewers'] }, ...approval },
        },
      ],
    },
    ...extra,
  } as GatewayConfigInput;
}

class MemoryArchive implements Archive {
  records: SessionRecord[] = [];
  failNext = false;
  async put(record: SessionRecord) {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('bucket unavailable');
    }
    if (this.records.some((r) => r.session_id === record.session_id)) throw new ArchiveConflictError(record.session_id);
    this.records.push(record);
    return { key: record.session_id };
  }
}

class FakeProvider implements EmbeddingProvider {
  readonly kind = 'fake';
  calls: EmbeddingCall[] = [];
  failNext: unknown;
  async embed(call: EmbeddingCall): Promise<EmbeddingResult> {
    this.calls.push(call);
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    return {
      vectors: call.input.map(() => Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8])),
      usage: { promptTokens: 3, totalTokens: 3 },
      upstream: { status: 200, latencyMs: 5, attempts: 1, batches: 1 },
    };
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies of many shapes
type Json = Record<string, any>;
const workflows: LocalApprovalWorkflow[] = [];
afterEach(() => workflows.splice(0).forEach((w) => w.close()));

function setup(approval: Record<string, unknown> = {}, extra: Partial<GatewayConfigInput> = {}) {
  const config: GatewayConfig = loadConfig(doc(approval, extra));
  const archive = new MemoryArchive();
  const provider = new FakeProvider();
  const store = new InMemoryApprovalStore();
  const clock = {
    t: Date.parse('2026-11-29T10:00:00.000Z'),
    now() {
      return (this.t += 1);
    },
  };
  let n = 0;
  const ids = { sessionId: () => `0190a6b2-7c4d-7e00-8000-${String(++n).padStart(12, '0')}` };
  const workflow: LocalApprovalWorkflow = new LocalApprovalWorkflow({
    runTask: (event) => handleApprovalTask(event, { config, store, workflow, archive, clock, ids }),
    notify: () => undefined,
  });
  const settled: string[] = [];
  const settle = workflow.settle.bind(workflow);
  workflow.settle = async (a) => {
    settled.push(`${a.id}:${a.status}`);
    return settle(a);
  };
  const masker = lazyMasker(config, { secrets: { get: async () => 'k'.repeat(32) } });
  const gateway = new Gateway({
    config,
    verifier: {
      async verify(token) {
        const p = P[token];
        if (!p) throw unauthenticated('bad token', 'bad_signature');
        return p;
      },
    },
    provider: () => provider,
    revocations: new InMemoryRevocationList(),
    archive,
    ...(masker ? { masker } : {}),
    approvals: { store, workflow },
    clock,
    ids,
  });
  workflows.push(workflow);
  const send = async (
    who: string,
    opts: { method?: string; path?: string; body?: unknown; headers?: Record<string, string>; query?: string } = {},
  ) => {
    const r: GatewayRequest = {
      method: opts.method ?? 'POST',
      path: opts.path ?? '/v1/embeddings',
      domainName: 'gw.example.com',
      headers: { host: 'gw.example.com', authorization: `Bearer ${who}`, 'content-type': 'application/json', ...opts.headers },
      rawQueryString: opts.query ?? '',
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      isBase64Encoded: false,
      requestId: 'r',
      sourceIp: '10.0.0.1',
    };
    const h = await gateway.handle(r);
    return { status: h.response.status, headers: h.response.headers, json: JSON.parse(h.response.body) as Json, record: h.record };
  };
  const embed = (
    who: string,
    body: unknown = { model: 'sensitive', input: ['quarterly revenue notes'] },
    headers: Record<string, string> = {},
  ) => send(who, { body, headers });
  const decide = (who: string, id: string, decision: 'approve' | 'deny', reason = 'looked at it') =>
    send(who, { path: `/v1/approvals/${id}/decision`, body: { decision, reason } });
  const view = (who: string, id: string) => send(who, { method: 'GET', path: `/v1/approvals/${id}` });
  return { gateway, archive, provider, store, workflow, clock, config, send, embed, decide, view, settled };
}

describe('approvals through the gateway', () => {
  it('holds a request: 202 with approval_id, status pending, poll_url, Retry-After; nothing upstream; one record', async () => {
    const g = setup();
    const r = await g.embed('indexer');
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({
      approval_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'pending',
      poll_url: `https://gw.example.com/v1/approvals/${r.json.approval_id}`,
    });
    expect(r.headers['retry-after']).toBe('10');
    expect(r.headers.location).toBe(r.json.poll_url);
    expect(g.provider.calls).toHaveLength(0);
    expect(r.record.decision).toMatchObject({ outcome: 'held', status: 202, reason: 'approval_required', rule_id: 'sensitive-held' });
    expect(r.record.approval).toMatchObject({ id: r.json.approval_id, step: 'requested', status: 'pending', triggers: ['always'] });
    expect(g.archive.records).toHaveLength(1);
    // The workflow registered its task token (as the state machine's task does).
    expect((await g.store.get(r.json.approval_id))!.taskToken).toBe(`local:${r.json.approval_id}`);
    expect(g.workflow.notifications[0]!.notification.message).toContain('svc-indexer');
  });

  it('does not hold requests to models whose rule needs no approval', async () => {
    const g = setup();
    const r = await g.embed('indexer', { model: 'small', input: 'x' });
    expect(r.status).toBe(200);
    expect(r.record.approval).toBeNull();
  });

  it('approved: the same request re-sent with the approval id is forwarded once; the chain is in the records', async () => {
    const g = setup();
    const held = await g.embed('indexer');
    const id = held.json.approval_id as string;
    const d = await g.decide('alice', id, 'approve', 'quarterly report is fine');
    expect(d.status).toBe(200);
    expect(d.json).toMatchObject({
      status: 'approved',
      approvals: 1,
      decisions: [{ reviewer: { subject: 'alice' }, decision: 'approve', reason: 'quarterly report is fine' }],
    });
    expect(d.record.approval).toMatchObject({
      id,
      step: 'decided',
      status: 'approved',
      decision: 'approve',
      reviewer: { subject: 'alice' },
    });
    expect(g.settled).toEqual([`${id}:approved`]);
    const used = await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id });
    expect(used.status).toBe(200);
    expect(used.json.data).toHaveLength(1);
    expect(used.record.approval).toMatchObject({ id, step: 'used', status: 'used' });
    expect(g.provider.calls).toHaveLength(1);
    // Replay of a used approval is refused.
    const replay = await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id });
    expect(replay.status).toBe(403);
    expect(replay.json.error.code).toBe('approval_used');
    expect(replay.record.approval).toMatchObject({ id, step: 'refused', status: 'used' });
    expect(g.provider.calls).toHaveLength(1);
    const chain = g.archive.records.filter((x) => x.approval?.id === id).map((x) => x.approval!.step);
    expect(chain).toEqual(['requested', 'decided', 'used', 'refused']);
  });

  it('denied: the re-send is refused and nothing goes upstream', async () => {
    const g = setup();
    const id = (await g.embed('indexer')).json.approval_id as string;
    const d = await g.decide('alice', id, 'deny', 'no');
    expect(d.json.status).toBe('denied');
    expect(g.settled).toEqual([`${id}:denied`]);
    const r = await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id });
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('approval_denied');
    expect(g.provider.calls).toHaveLength(0);
    // A later approve cannot overturn a deny.
    expect((await g.decide('bob', id, 'approve')).json.error.code).toBe('approval_not_pending');
  });

  it('a requester can never approve their own request, even when in a reviewer group', async () => {
    const g = setup();
    const id = (await g.embed('carol')).json.approval_id as string;
    const r = await g.decide('carol', id, 'approve');
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('self_approval');
    expect(r.record.approval).toMatchObject({ id, step: 'refused', status: 'pending' });
    expect((await g.store.get(id))!.status).toBe('pending');
  });

  it('only reviewers decide; others, and principals outside the approval, get 404 (no probing)', async () => {
    const g = setup();
    const id = (await g.embed('indexer')).json.approval_id as string;
    const r = await g.decide('mallory', id, 'approve');
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('approval_not_found');
    expect((await g.view('mallory', id)).status).toBe(404);
    expect((await g.view('agent', id)).status).toBe(404);
    expect((await g.view('alice', id)).status).toBe(200);
    const own = await g.view('indexer', id);
    expect(own.json).toMatchObject({ id, status: 'pending', required_approvals: 1 });
    expect(JSON.stringify(own.json)).not.toContain('taskToken');
    expect(JSON.stringify(own.json)).not.toContain('local:');
    expect((await g.view('indexer', '0190a6b2-7c4d-7e00-8000-00000000dead')).status).toBe(404);
    expect((await g.view('indexer', '../../etc/passwd')).status).toBe(404);
  });

  it('the same held request sent again while pending gets the same approval: no new workflow, no new notification', async () => {
    const g = setup();
    const first = await g.embed('indexer');
    const again = await g.embed('indexer');
    expect(again.status).toBe(202);
    expect(again.json.approval_id).toBe(first.json.approval_id);
    expect(again.record.approval).toMatchObject({ id: first.json.approval_id, step: 'requested', status: 'pending' });
    expect(again.record.decision.reason).toBe('approval_pending');
    expect(g.workflow.notifications).toHaveLength(1);
    // Another payload, or another principal, is another approval.
    expect((await g.embed('indexer', { model: 'sensitive', input: ['other text'] })).json.approval_id).not.toBe(first.json.approval_id);
    expect((await g.embed('agent')).json.approval_id).not.toBe(first.json.approval_id);
    // Once decided, the same request asks anew (denied) or must carry the approval id (approved).
    await g.decide('alice', first.json.approval_id, 'deny', 'no');
    expect((await g.embed('indexer')).json.approval_id).not.toBe(first.json.approval_id);
  });

  it('a reviewer who is not the requester but has no reviewer group gets 403 not_a_reviewer only when they can see it', async () => {
    const g = setup({ reviewers: { subjects: ['alice'] } });
    const id = (await g.embed('indexer')).json.approval_id as string;
    expect((await g.decide('bob', id, 'approve')).status).toBe(404);
    expect((await g.decide('alice', id, 'approve')).json.status).toBe('approved');
  });

  it('a different payload after approval is refused (input, model parameters, encoding)', async () => {
    const g = setup();
    const id = (await g.embed('indexer')).json.approval_id as string;
    await g.decide('alice', id, 'approve');
    for (const body of [
      { model: 'sensitive', input: ['quarterly revenue notes', 'and one more'] },
      { model: 'sensitive', input: ['quarterly revenue notes!'] },
      { model: 'sensitive', input: ['quarterly revenue notes'], encoding_format: 'base64' },
      { model: 'sensitive', input: ['quarterly revenue notes'], user: 'someone-else' },
    ]) {
      const r = await g.embed('indexer', body, { 'x-embedgate-approval-id': id });
      expect(r.status).toBe(403);
      expect(r.json.error.code).toBe('approval_payload_mismatch');
    }
    expect(g.provider.calls).toHaveLength(0);
    // The approval is still usable for the exact payload.
    expect((await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id })).status).toBe(200);
  });

  it('another principal cannot use an approval (answered like an unknown id; the attempt is recorded)', async () => {
    const g = setup();
    const id = (await g.embed('indexer')).json.approval_id as string;
    await g.decide('alice', id, 'approve');
    const r = await g.embed('mallory', undefined, { 'x-embedgate-approval-id': id });
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('approval_not_found');
    expect(r.record.approval).toMatchObject({ id, step: 'refused' });
    expect(g.provider.calls).toHaveLength(0);
    expect((await g.store.get(id))!.status).toBe('approved');
  });

  it('a pending approval cannot be used (409, Retry-After), and a malformed id is unknown', async () => {
    const g = setup();
    const id = (await g.embed('indexer')).json.approval_id as string;
    const r = await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id });
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe('approval_pending');
    expect(r.headers['retry-after']).toBe('5');
    expect((await g.embed('indexer', undefined, { 'x-embedgate-approval-id': 'nope' })).status).toBe(404);
    expect(g.provider.calls).toHaveLength(0);
  });

  it('the two-person rule: two distinct reviewers; the same reviewer twice does not count', async () => {
    const g = setup({ requiredApprovals: 2 });
    const id = (await g.embed('indexer')).json.approval_id as string;
    const first = await g.decide('alice', id, 'approve');
    expect(first.json).toMatchObject({ status: 'pending', approvals: 1, required_approvals: 2 });
    expect(g.settled).toEqual([]);
    const again = await g.decide('alice', id, 'approve');
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('already_decided');
    expect((await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id })).json.error.code).toBe('approval_pending');
    const second = await g.decide('bob', id, 'approve');
    expect(second.json).toMatchObject({ status: 'approved', approvals: 2 });
    expect(g.settled).toEqual([`${id}:approved`]);
    expect((await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id })).status).toBe(200);
  });

  it('expires: a decision after the deadline is refused, and the workflow task writes an expired record', async () => {
    const g = setup({ timeoutSeconds: 60 });
    const id = (await g.embed('indexer')).json.approval_id as string;
    g.clock.t += 61_000;
    expect((await g.decide('alice', id, 'approve')).json.error.code).toBe('approval_expired');
    expect((await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id })).json.error.code).toBe('approval_expired');
    expect((await g.view('indexer', id)).json.status).toBe('expired');
    const res = await handleApprovalTask(
      { action: 'expire', approvalId: id, executionId: 'exec-1' },
      {
        config: g.config,
        store: g.store,
        workflow: g.workflow,
        archive: g.archive,
        clock: g.clock,
        ids: { sessionId: () => '0190a6b2-7c4d-7e00-8000-0000000000ff' },
      },
    );
    expect(res.status).toBe('expired');
    const rec = g.archive.records.at(-1)!;
    expect(rec.request).toMatchObject({ method: 'WORKFLOW', request_id: 'exec-1' });
    expect(rec.decision).toMatchObject({ outcome: 'deny', reason: 'approval_expired' });
    expect(rec.approval).toMatchObject({ id, step: 'expired', status: 'expired' });
    expect(rec.principal).toMatchObject({ subject: 'svc-indexer', issuer_id: 'corp' });
    // Expiring again changes nothing and writes nothing.
    const count = g.archive.records.length;
    await handleApprovalTask(
      { action: 'expire', approvalId: id },
      { config: g.config, store: g.store, workflow: g.workflow, archive: g.archive, clock: g.clock, ids: { sessionId: () => 'x' } },
    );
    expect(g.archive.records).toHaveLength(count);
  });

  it('an approved single use must be used within useWithinSeconds', async () => {
    const g = setup({ useWithinSeconds: 30 });
    const id = (await g.embed('indexer')).json.approval_id as string;
    await g.decide('alice', id, 'approve');
    g.clock.t += 31_000;
    const r = await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id });
    expect(r.json.error.code).toBe('approval_expired');
  });

  it('a failed upstream call gives the approval back (the client got no output); a retry then succeeds once', async () => {
    const g = setup();
    const id = (await g.embed('indexer')).json.approval_id as string;
    await g.decide('alice', id, 'approve');
    g.provider.failNext = new UpstreamError('upstream down', {
      status: 502,
      type: 'upstream_error',
      code: 'upstream_error',
      upstream: { status: 500, latencyMs: 1, attempts: 1, batches: 1 },
    });
    const failed = await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id });
    expect(failed.status).toBe(502);
    expect(failed.record.approval).toMatchObject({ id, status: 'approved' });
    expect((await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id })).status).toBe(200);
    expect((await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id })).json.error.code).toBe('approval_used');
  });

  it('concurrent replays of one approval: exactly one is forwarded', async () => {
    const g = setup();
    const id = (await g.embed('indexer')).json.approval_id as string;
    await g.decide('alice', id, 'approve');
    const results = await Promise.all(Array.from({ length: 8 }, () => g.embed('indexer', undefined, { 'x-embedgate-approval-id': id })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 403 && r.json.error.code === 'approval_used')).toHaveLength(7);
    expect(g.provider.calls).toHaveLength(1);
  });

  it('a time-boxed grant: after approval, the principal uses the model without asking until the grant ends', async () => {
    const g = setup({ grantMinutes: 10 });
    const id = (await g.embed('indexer')).json.approval_id as string;
    const d = await g.decide('alice', id, 'approve');
    expect(d.json.grant_until).toBe(new Date((await g.store.get(id))!.grantUntil!).toISOString());
    const other = await g.embed('indexer', { model: 'sensitive', input: ['a different text entirely'] });
    expect(other.status).toBe(200);
    expect(other.record.approval).toMatchObject({ id, step: 'used', via_grant: true });
    // Not for someone else.
    expect((await g.embed('agent', { model: 'sensitive', input: ['x'] })).status).toBe(202);
    g.clock.t += 10 * 60_000 + 1;
    expect((await g.embed('indexer', { model: 'sensitive', input: ['later'] })).status).toBe(202);
  });

  it('validates decision bodies', async () => {
    const g = setup();
    const id = (await g.embed('indexer')).json.approval_id as string;
    const bad = async (body: unknown) => (await g.send('alice', { path: `/v1/approvals/${id}/decision`, body })).json.error.code;
    expect(await bad({ decision: 'approve' })).toBe('reason_required');
    expect(await bad({ decision: 'approve', reason: '   ' })).toBe('reason_required');
    expect(await bad({ decision: 'maybe', reason: 'x' })).toBe('invalid_decision');
    expect(await bad({ decision: 'approve', reason: 'x'.repeat(501) })).toBe('reason_too_long');
    expect(await bad({ decision: 'approve', reason: 'x', extra: 1 })).toBe('unknown_parameter');
    expect(await bad([1])).toBe('invalid_body');
    expect((await g.send('alice', { path: `/v1/approvals/${id}/decision`, method: 'GET' })).status).toBe(405);
    expect((await g.store.get(id))!.decisions).toHaveLength(0);
  });

  it('lists the approvals a principal may see, filtered by status', async () => {
    const g = setup();
    const a = (await g.embed('indexer')).json.approval_id as string;
    const b = (await g.embed('agent')).json.approval_id as string;
    await g.decide('alice', b, 'deny');
    const mine = await g.send('indexer', { method: 'GET', path: '/v1/approvals' });
    expect(mine.json.data.map((x: { id: string }) => x.id)).toEqual([a]);
    const review = await g.send('bob', { method: 'GET', path: '/v1/approvals', query: 'status=pending' });
    expect(review.json.data.map((x: { id: string }) => x.id)).toEqual([a]);
    expect((await g.send('bob', { method: 'GET', path: '/v1/approvals', query: 'status=bogus' })).status).toBe(400);
    expect((await g.send('mallory', { method: 'GET', path: '/v1/approvals' })).json.data).toEqual([]);
  });

  it('fails closed when a rule holds a request but no approval store is wired', async () => {
    const config = loadConfig(doc({}));
    const archive = new MemoryArchive();
    const provider = new FakeProvider();
    const gateway = new Gateway({
      config,
      verifier: { verify: async (t) => P[t]! },
      provider: () => provider,
      revocations: new InMemoryRevocationList(),
      archive,
      clock: { now: () => 1 },
      ids: { sessionId: () => 's' },
    });
    const h = await gateway.handle({
      method: 'POST',
      path: '/v1/embeddings',
      headers: { authorization: 'Bearer indexer' },
      rawQueryString: '',
      body: JSON.stringify({ model: 'sensitive', input: 'x' }),
      isBase64Encoded: false,
      requestId: null,
      sourceIp: null,
    });
    expect(h.response.status).toBe(503);
    expect(provider.calls).toHaveLength(0);
  });

  it('fails closed when the workflow cannot start (503, nothing upstream)', async () => {
    const g = setup();
    g.workflow.start = async () => {
      throw new Error('states unavailable');
    };
    const r = await g.embed('indexer');
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('approvals_unavailable');
    expect(g.provider.calls).toHaveLength(0);
  });
});

describe('approval conditions', () => {
  const cfg = loadConfig(
    doc(
      {
        when: {
          principalOutsideGroups: ['search-team'],
          batchOver: 2,
          inputMatches: [{ name: 'EXPORT_CONTROLLED', pattern: '\\bITAR\\b', flags: 'i' }],
          maskingFound: ['EMAIL'],
        },
      },
      { masking: { enabled: true } },
    ),
  );
  const a = cfg.policy.rules[1]!.approval!;
  const text = (...items: string[]) => ({ kind: 'text' as const, items });

  it('holds only when a condition holds, and names each', () => {
    expect(approvalTriggers(a, P.indexer!, text('hello'), new Set())).toEqual([]);
    expect(approvalTriggers(a, P.agent!, text('hello'), new Set())).toEqual(['principal_outside_groups']);
    expect(approvalTriggers(a, P.indexer!, text('a', 'b', 'c'), new Set())).toEqual(['batch_over:2']);
    expect(approvalTriggers(a, P.indexer!, text('this is itar data'), new Set())).toEqual(['input_matches:EXPORT_CONTROLLED']);
    expect(approvalTriggers(a, P.indexer!, text('x'), new Set(['EMAIL']))).toEqual(['masking_found:EMAIL']);
    expect(approvalTriggers(a, P.indexer!, text('x'), new Set(['PHONE']))).toEqual([]);
  });

  it('through the gateway: an e-mail address found by masking holds the request; its preview is masked', async () => {
    const g = setup({ when: { maskingFound: ['EMAIL'] } }, { masking: { enabled: true } });
    expect((await g.embed('indexer', { model: 'sensitive', input: ['no pii here'] })).status).toBe(200);
    const r = await g.embed('indexer', { model: 'sensitive', input: ['write to jane.doe@example.com'] });
    expect(r.status).toBe(202);
    expect(r.json.triggers).toEqual(['masking_found:EMAIL']);
    const a = (await g.store.get(r.json.approval_id))!;
    expect(a.preview).not.toContain('jane.doe@example.com');
    expect(g.workflow.notifications.at(-1)!.notification.message).not.toContain('jane.doe@example.com');
  });

  it('the payload hash covers the masked input, so equal masked payloads share it and any change differs', () => {
    const h = (input: string[], extra: Record<string, unknown> = {}) =>
      payloadSha256({ model: 'm', input, encodingFormat: 'float', ...extra });
    expect(h(['a'])).toBe(h(['a']));
    expect(h(['a'])).not.toBe(h(['a', '']));
    expect(h(['a'])).not.toBe(h(['a'], { dimensions: 8 }));
    expect(h(['a'])).not.toBe(h(['a'], { user: 'u' }));
    expect(h(['a'])).not.toBe(payloadSha256({ model: 'n', input: ['a'], encodingFormat: 'float' }));
  });

  it('config: approval only on allow rules, maskingFound needs masking and known types, patterns are screened', () => {
    const issues = (approval: Record<string, unknown>, extra: Partial<GatewayConfigInput> = {}, effect = 'allow') => {
      try {
        const d = doc(approval, extra) as { policy: { rules: Record<string, unknown>[] } };
        d.policy.rules[1]!.effect = effect;
        loadConfig(d);
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(issues({}, {}, 'deny')).toContain('approval applies to allow rules only');
    expect(issues({ when: { maskingFound: ['EMAIL'] } })).toContain('needs masking');
    expect(issues({ when: { maskingFound: ['NOPE'] } }, { masking: { enabled: true } })).toContain('unknown entity type');
    expect(issues({ when: { inputMatches: [{ name: 'BAD', pattern: '(a+)+$' }] } })).toContain('is refused');
    expect(issues({ reviewers: {} })).toContain('at least one group or subject');
    expect(issues({ requiredApprovals: 0 })).toContain('requiredApprovals');
  });

  it('useApproval refuses a grant that has ended, a changed rule and another model; a live grant covers any payload of its model', () => {
    const approval = {
      id: 'x',
      revision: 1,
      status: 'approved' as const,
      requester: { issuer: ISS, subject: 'svc-indexer', clientId: 'indexer' },
      requestSessionId: 's',
      model: 'sensitive',
      ruleId: 'sensitive-held',
      policyVersion: 'v',
      triggers: [],
      payloadSha256: 'sha256:1',
      preview: '',
      reviewerGroups: [],
      reviewerSubjects: [],
      requiredApprovals: 1,
      decisions: [],
      createdAt: 0,
      expiresAt: 10,
      decidedAt: 1,
      useBy: null,
      grantUntil: 100,
      grantMinutes: 1,
      usedAt: null,
      usedBySessionId: null,
      taskToken: null,
    };
    expect(() =>
      useApproval(approval, {
        principal: P.indexer!,
        model: 'sensitive',
        ruleId: 'sensitive-held',
        payloadSha256: 'sha256:2',
        sessionId: 's',
        now: 100,
      }),
    ).toThrow(/grant has ended/);
    expect(() =>
      useApproval(approval, {
        principal: P.indexer!,
        model: 'sensitive',
        ruleId: 'other',
        payloadSha256: 'sha256:1',
        sessionId: 's',
        now: 50,
      }),
    ).toThrow(/policy that decides/);
    expect(
      useApproval(approval, {
        principal: P.indexer!,
        model: 'sensitive',
        ruleId: 'sensitive-held',
        payloadSha256: 'sha256:2',
        sessionId: 's',
        now: 50,
      }),
    ).toBe(approval);
    expect(() =>
      useApproval(approval, {
        principal: P.indexer!,
        model: 'other',
        ruleId: 'sensitive-held',
        payloadSha256: 'sha256:1',
        sessionId: 's',
        now: 50,
      }),
    ).toThrow(/for model "sensitive" only/);
  });
});

describe('approvals: attacks found in review', () => {
  const twoModels = (approval: Record<string, unknown>, extra: Partial<GatewayConfigInput> = {}) => {
    const d = doc(approval, extra) as { models: unknown[]; policy: { rules: Record<string, unknown>[] } };
    d.models.push({ name: 'sensitive-b', provider: 'local', dimensions: 8 });
    d.policy.rules[1]!.models = 'sensitive*';
    return d as GatewayConfigInput;
  };

  it('a grant is for its model only, with or without the header', async () => {
    const d = twoModels({ grantMinutes: 60 });
    const g = setup(
      d.policy.rules[1]!.approval as Record<string, unknown>,
      { models: d.models, policy: d.policy } as Partial<GatewayConfigInput>,
    );
    const id = (await g.embed('indexer')).json.approval_id as string;
    await g.decide('alice', id, 'approve');
    const other = await g.embed('indexer', { model: 'sensitive-b', input: ['anything'] }, { 'x-embedgate-approval-id': id });
    expect(other.status).toBe(403);
    expect(other.json.error.code).toBe('approval_payload_mismatch');
    expect((await g.embed('indexer', { model: 'sensitive-b', input: ['anything'] })).status).toBe(202);
    expect((await g.embed('indexer', { model: 'sensitive', input: ['anything'] })).status).toBe(200);
  });

  it('a single-use approval is for its model only', async () => {
    const d = twoModels({});
    const g = setup({}, { models: d.models, policy: d.policy } as Partial<GatewayConfigInput>);
    const id = (await g.embed('indexer')).json.approval_id as string;
    await g.decide('alice', id, 'approve');
    expect(
      (await g.embed('indexer', { model: 'sensitive-b', input: ['quarterly revenue notes'] }, { 'x-embedgate-approval-id': id })).json.error
        .code,
    ).toBe('approval_payload_mismatch');
  });

  it('token-id input cannot slip past patterns or masking conditions: held as unscannable', async () => {
    const g = setup({ when: { inputMatches: [{ name: 'EXPORT_CONTROLLED', pattern: '\\bITAR\\b', flags: 'i' }] } });
    expect((await g.embed('indexer', { model: 'sensitive', input: 'ITAR drawing' })).json.triggers).toEqual([
      'input_matches:EXPORT_CONTROLLED',
    ]);
    const tokens = await g.embed('indexer', { model: 'sensitive', input: [[1285, 946, 13861]] });
    expect(tokens.status).toBe(202);
    expect(tokens.json.triggers).toEqual(['input_unscannable']);
    expect(g.provider.calls).toHaveLength(0);
  });

  it('patterns see through zero-width characters and compatibility forms', async () => {
    const g = setup({ when: { inputMatches: [{ name: 'EXPORT_CONTROLLED', pattern: '\\bITAR\\b' }] } });
    expect((await g.embed('indexer', { model: 'sensitive', input: 'I\u200bTAR drawing' })).status).toBe(202);
    expect((await g.embed('indexer', { model: 'sensitive', input: '\uff29\uff34\uff21\uff32 drawing' })).status).toBe(202);
    expect((await g.embed('indexer', { model: 'sensitive', input: 'IT AR drawing' })).status).toBe(200);
  });

  it("reviewers come from the requester's issuer unless the rule names others", async () => {
    const issuers = [
      { id: 'corp', issuer: ISS, audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' },
      { id: 'partner', issuer: 'https://partner.example.net', audiences: 'embedgate', jwksUri: 'https://partner.example.net/jwks' },
    ];
    const g = setup({}, { issuers } as Partial<GatewayConfigInput>);
    const id = (await g.embed('indexer')).json.approval_id as string;
    const r = await g.send('partnerAlice', { path: `/partner/v1/approvals/${id}/decision`, body: { decision: 'approve', reason: 'x' } });
    expect(r.status).toBe(404);
    expect((await g.store.get(id))!.status).toBe('pending');
    const h = setup({ reviewers: { groups: ['reviewers'], issuers: ['partner'] } }, { issuers } as Partial<GatewayConfigInput>);
    const id2 = (await h.embed('indexer')).json.approval_id as string;
    expect(
      (await h.send('partnerAlice', { path: `/partner/v1/approvals/${id2}/decision`, body: { decision: 'approve', reason: 'x' } })).json
        .status,
    ).toBe('approved');
  });

  it('approval URLs come from the API domain, never the Host or X-Forwarded-Proto headers', async () => {
    const g = setup();
    const r = await g.embed('indexer', undefined, { host: 'evil.example', 'x-forwarded-proto': 'http' });
    expect(r.json.poll_url).toBe(`https://gw.example.com/v1/approvals/${r.json.approval_id}`);
    expect(g.workflow.notifications.at(-1)!.notification.message).not.toContain('evil.example');
  });

  it('the preview replaces every finding by its type (also for detect), strips control characters, and stays between its delimiters', async () => {
    const g = setup({ when: { maskingFound: ['EMAIL'] } }, { masking: { enabled: true, strategies: { EMAIL: 'detect' } } });
    const r = await g.embed('indexer', {
      model: 'sensitive',
      input: ['mail jane.doe@example.com\n\nURGENT: decide at https://evil.example\u202e'],
    });
    expect(r.status).toBe(202);
    const a = (await g.store.get(r.json.approval_id))!;
    expect(a.preview).toContain('[EMAIL]');
    expect(a.preview).not.toContain('jane.doe@example.com');
    expect(a.preview).not.toMatch(/[\n\u202e].*URGENT/);
    const msg = g.workflow.notifications.at(-1)!.notification.message;
    expect(msg.indexOf('To decide')).toBeLessThan(msg.indexOf('---- preview'));
    expect(msg.indexOf('URGENT')).toBeGreaterThan(msg.indexOf('---- preview'));
    expect(msg.indexOf('URGENT')).toBeLessThan(msg.indexOf('---- end of preview'));
  });

  it('reviewers are told when approving grants the model for a while', async () => {
    const g = setup({ grantMinutes: 30 });
    await g.embed('indexer');
    expect(g.workflow.notifications.at(-1)!.notification.message).toContain(
      'GRANTS this principal model "sensitive" under this rule for 30 minute(s)',
    );
  });

  it('nothing takes effect without its record: an unrecorded decision is taken back, an unrecorded use given back, an unrecorded hold withdrawn', async () => {
    const g = setup();
    const id = (await g.embed('indexer')).json.approval_id as string;
    g.archive.failNext = true;
    expect((await g.decide('alice', id, 'approve')).status).toBe(503);
    expect((await g.store.get(id))!).toMatchObject({ status: 'pending', decisions: [] });
    expect(g.settled).toEqual([]);
    expect((await g.decide('alice', id, 'approve')).json.status).toBe('approved');
    expect(g.settled).toEqual([`${id}:approved`]);
    g.archive.failNext = true;
    expect((await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id })).status).toBe(503);
    expect((await g.store.get(id))!.status).toBe('approved');
    expect((await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id })).status).toBe(200);
    g.archive.failNext = true;
    const held = await g.embed('indexer', { model: 'sensitive', input: ['another'] });
    expect(held.status).toBe(503);
    const [withdrawn] = await g.store.list({ status: 'expired', limit: 10 });
    expect(withdrawn).toBeDefined();
  });

  it('an upstream failure after use is recorded as released', async () => {
    const g = setup();
    const id = (await g.embed('indexer')).json.approval_id as string;
    await g.decide('alice', id, 'approve');
    g.provider.failNext = new UpstreamError('down', {
      status: 502,
      type: 'upstream_error',
      code: 'upstream_error',
      upstream: { status: 500, latencyMs: 1, attempts: 1, batches: 1 },
    });
    expect((await g.embed('indexer', undefined, { 'x-embedgate-approval-id': id })).record.approval).toMatchObject({
      step: 'released',
      status: 'approved',
    });
  });

  it('a workflow that cannot start leaves no pending approval behind', async () => {
    const g = setup();
    g.workflow.start = async () => {
      throw new Error('states unavailable');
    };
    const r = await g.embed('indexer');
    expect(r.status).toBe(503);
    expect(r.record.approval).toMatchObject({ step: 'expired', status: 'expired' });
    expect(await g.store.list({ status: 'pending', limit: 10 })).toEqual([]);
  });

  it('the expiry record is written once, also when the task is retried after a failed write', async () => {
    const g = setup({ timeoutSeconds: 60 });
    const id = (await g.embed('indexer')).json.approval_id as string;
    const deps = {
      config: g.config,
      store: g.store,
      workflow: g.workflow,
      archive: g.archive,
      clock: g.clock,
      ids: { sessionId: () => 'unused' },
    };
    g.archive.failNext = true;
    await expect(handleApprovalTask({ action: 'expire', approvalId: id }, deps)).rejects.toThrow('bucket unavailable');
    expect((await g.store.get(id))!.status).toBe('expired');
    await handleApprovalTask({ action: 'expire', approvalId: id }, deps);
    await handleApprovalTask({ action: 'expire', approvalId: id }, deps);
    expect(g.archive.records.filter((r) => r.approval?.step === 'expired')).toHaveLength(1);
  });

  it('the status filter uses the status as of now', async () => {
    const g = setup({ timeoutSeconds: 60 });
    const id = (await g.embed('indexer')).json.approval_id as string;
    g.clock.t += 61_000;
    expect((await g.send('alice', { method: 'GET', path: '/v1/approvals', query: 'status=pending' })).json.data).toEqual([]);
    expect(
      (await g.send('alice', { method: 'GET', path: '/v1/approvals', query: 'status=expired' })).json.data.map((x: { id: string }) => x.id),
    ).toEqual([id]);
  });

  it('expired also lists approved single uses past their use-by time, newest first', async () => {
    const g = setup({ timeoutSeconds: 60, useWithinSeconds: 30 });
    const pendingOne = (await g.embed('indexer')).json.approval_id as string;
    const approvedOne = (await g.embed('indexer', { model: 'sensitive', input: ['another text'] })).json.approval_id as string;
    await g.decide('alice', approvedOne, 'approve');
    const list = async (status: string) =>
      (await g.send('alice', { method: 'GET', path: '/v1/approvals', query: `status=${status}` })).json.data.map(
        (x: { id: string }) => x.id,
      );
    expect(await list('approved')).toEqual([approvedOne]);
    g.clock.t += 61_000;
    expect(await list('approved')).toEqual([]);
    expect(await list('expired')).toEqual([approvedOne, pendingOne]);
  });
});

describe('a cap on pending approvals per principal and rule (reviewers cannot be flooded)', () => {
  const payload = (i: number) => ({ model: 'sensitive', input: [`notes number ${i}`] });

  it('past maxPending a new held request is refused with 429: nothing upstream, no approval, no notification, one record', async () => {
    const g = setup({ maxPending: 2 });
    expect((await g.embed('indexer', payload(1))).status).toBe(202);
    expect((await g.embed('indexer', payload(2))).status).toBe(202);
    const r = await g.embed('indexer', payload(3));
    expect(r.status).toBe(429);
    // No Retry-After: waiting does not clear it, and the OpenAI SDKs would wait it out on each retry.
    expect(r.headers['retry-after']).toBeUndefined();
    expect(r.json.error).toMatchObject({ type: 'rate_limit_error', code: 'too_many_pending_approvals' });
    expect(r.json.error.message).toContain('2 of your requests');
    expect(r.record.decision).toMatchObject({ outcome: 'error', status: 429, reason: 'approval_pending_limit', rule_id: 'sensitive-held' });
    expect(r.record.approval).toBeNull();
    expect(await g.store.list({ limit: 10 })).toHaveLength(2);
    expect(g.workflow.notifications).toHaveLength(2);
    expect(g.provider.calls).toHaveLength(0);
    expect(g.archive.records).toHaveLength(3);
  });

  it('the same request sent again while pending is not a new hold, also at the cap', async () => {
    const g = setup({ maxPending: 1 });
    const first = await g.embed('indexer', payload(1));
    const again = await g.embed('indexer', payload(1));
    expect(again.status).toBe(202);
    expect(again.json.approval_id).toBe(first.json.approval_id);
    expect((await g.embed('indexer', payload(2))).status).toBe(429);
  });

  it('counts per principal (issuer and subject) and per rule: another client id is the same principal; another subject, issuer or rule is not held back', async () => {
    const g = setup(
      { maxPending: 1 },
      {
        issuers: [
          { id: 'corp', issuer: ISS, audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' },
          { id: 'partner', issuer: 'https://partner.example.net', audiences: 'embedgate', jwksUri: 'https://partner.example.net/jwks' },
        ],
        models: [
          { name: 'small', provider: 'local', dimensions: 8 },
          { name: 'sensitive', provider: 'local', dimensions: 8 },
          { name: 'other', provider: 'local', dimensions: 8 },
        ],
        policy: {
          rules: [
            {
              id: 'sensitive-held',
              effect: 'allow',
              match: { groups: ['search-team', 'agents'] },
              models: 'sensitive',
              approval: { reviewers: { groups: ['reviewers'] }, maxPending: 1 },
            },
            {
              id: 'other-held',
              effect: 'allow',
              match: { groups: ['search-team'] },
              models: 'other',
              approval: { reviewers: { groups: ['reviewers'] }, maxPending: 1 },
            },
          ],
        },
      },
    );
    expect((await g.embed('indexer', payload(1))).status).toBe(202);
    expect((await g.embed('indexer', payload(2))).status).toBe(429);
    // The same issuer and subject through another OAuth client: the same principal.
    P.indexerOtherClient = { ...P.indexer!, clientId: 'another-client' };
    P.indexerOtherIssuer = { ...P.indexer!, issuerId: 'partner', issuer: 'https://partner.example.net' };
    try {
      expect((await g.embed('indexerOtherClient', payload(2))).status).toBe(429);
      expect((await g.send('indexerOtherIssuer', { path: '/partner/v1/embeddings', body: payload(2) })).status).toBe(202);
    } finally {
      delete P.indexerOtherClient;
      delete P.indexerOtherIssuer;
    }
    expect((await g.embed('agent', payload(2))).status).toBe(202);
    expect((await g.embed('mallory', payload(2))).status).toBe(202);
    expect((await g.embed('indexer', { model: 'other', input: ['x'] })).status).toBe(202);
  });

  it('a held request withdrawn because its workflow could not start frees its place', async () => {
    const g = setup({ maxPending: 1 });
    const start = g.workflow.start.bind(g.workflow);
    g.workflow.start = async () => {
      throw new Error('states unavailable');
    };
    expect((await g.embed('indexer', payload(1))).status).toBe(503);
    g.workflow.start = start;
    expect((await g.embed('indexer', payload(2))).status).toBe(202);
  });

  it('a create that stored the approval but answered with an error (its answer lost) withdraws it: 503, and the place is free', async () => {
    const g = setup({ maxPending: 1 });
    const real = g.store.create.bind(g.store);
    g.store.create = async (a, cap) => {
      await real(a, cap);
      throw new Error('socket hang up');
    };
    const r = await g.embed('indexer', payload(1));
    expect(r.status).toBe(503);
    expect(r.record.approval).toMatchObject({ step: 'expired', status: 'expired' });
    expect(g.workflow.notifications).toHaveLength(0);
    g.store.create = real;
    expect((await g.embed('indexer', payload(2))).status).toBe(202);
  });

  it('a store that fails while taking the place answers 503 approvals_unavailable, nothing held', async () => {
    const g = setup({ maxPending: 1 });
    g.store.create = async () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    const r = await g.embed('indexer', payload(1));
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('approvals_unavailable');
    expect(g.workflow.notifications).toHaveLength(0);
    expect(g.provider.calls).toHaveLength(0);
  });

  it('a decision or an expiry frees the place; approved-but-unused approvals do not count', async () => {
    const g = setup({ maxPending: 1, timeoutSeconds: 60 });
    const a = (await g.embed('indexer', payload(1))).json.approval_id as string;
    expect((await g.embed('indexer', payload(2))).status).toBe(429);
    await g.decide('alice', a, 'approve');
    const b = (await g.embed('indexer', payload(2))).json.approval_id as string;
    expect(b).toBeDefined();
    expect((await g.embed('indexer', payload(3))).status).toBe(429);
    await g.decide('alice', b, 'deny', 'no');
    expect((await g.embed('indexer', payload(3))).status).toBe(202);
    // Past its deadline a pending approval no longer counts, before any task marks it expired.
    g.clock.t += 61_000;
    expect((await g.embed('indexer', payload(4))).status).toBe(202);
  });

  it('defaults to 10, and accepts 1 to 1000', () => {
    expect(loadConfig(doc({})).policy.rules[1]!.approval!.maxPending).toBe(10);
    expect(loadConfig(doc({ maxPending: 1000 })).policy.rules[1]!.approval!.maxPending).toBe(1000);
    expect(() => loadConfig(doc({ maxPending: 0 }))).toThrow(/maxPending/);
    expect(() => loadConfig(doc({ maxPending: 1001 }))).toThrow(/maxPending/);
    expect(() => loadConfig(doc({ maxPending: 2.5 }))).toThrow(/maxPending/);
  });
});
