/**
 * The journal write overlapped with the upstream call (issue 16): the recorder journals a request's
 * intent (`Archive.putIntent`) as the upstream call starts, and its final record after; the answer
 * leaves only once the final record is durable (fail-closed as before).
 */
import { loadConfig } from '../../shared/config';
import { Gateway, type GatewayRequest } from '../../lambda/core/gateway';
import type { Principal } from '../../lambda/core/principal';
import type { Archive, EmbeddingCall, EmbeddingProvider, EmbeddingResult } from '../../lambda/core/ports';
import { recordSha256, type SessionRecord } from '../../lambda/core/record';
import { NO_OUTCOME } from '../../lambda/core/recorder';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';

const P: Principal = {
  issuerId: 'corp',
  issuer: 'https://idp.example.com',
  subject: 'svc-indexer',
  clientId: 'indexer',
  groups: ['search-team'],
  scopes: [],
  tokenId: 'jti-1',
  expiresAt: 2_000_000_000,
};
const config = loadConfig({
  issuers: [{ id: 'corp', issuer: P.issuer, audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
  models: [{ name: 'small', provider: 'local', dimensions: 4 }],
  policy: { rules: [{ id: 'search-all', effect: 'allow', match: { groups: 'search-team' }, models: '*' }] },
});

/** Everything that happens, in order. */
let events: string[];

class JournalStandIn implements Archive {
  intents: SessionRecord[] = [];
  records: SessionRecord[] = [];
  failIntent = false;
  failFinal = false;
  async putIntent(intent: SessionRecord) {
    events.push('intent started');
    await new Promise((r) => setTimeout(r, 5));
    if (this.failIntent) throw new Error('journal throttled');
    this.intents.push(intent);
    events.push('intent durable');
  }
  async put(record: SessionRecord) {
    events.push('final started');
    await new Promise((r) => setTimeout(r, 5));
    if (this.failFinal) throw new Error('journal unavailable');
    this.records.push(record);
    events.push('final durable');
    return { key: record.session_id };
  }
}

class SlowProvider implements EmbeddingProvider {
  readonly kind = 'slow';
  async embed(call: EmbeddingCall): Promise<EmbeddingResult> {
    events.push('upstream started');
    await new Promise((r) => setTimeout(r, 30));
    events.push('upstream answered');
    return {
      vectors: call.input.map(() => Float32Array.from([1, 0, 0, 0])),
      usage: { promptTokens: 3, totalTokens: 3 },
      upstream: { status: 200, latencyMs: 30, attempts: 1, batches: 1 },
    };
  }
}

function setup(archive: Archive) {
  const background: string[] = [];
  let n = 0;
  const gateway = new Gateway({
    config,
    verifier: { verify: async () => P },
    provider: () => new SlowProvider(),
    archive,
    revocations: new InMemoryRevocationList(),
    clock: { now: () => Date.now() },
    ids: { sessionId: () => `0190f000-0000-7000-8000-${String(++n).padStart(12, '0')}` },
    onBackgroundError: (what) => background.push(what),
  });
  return { gateway, background };
}

const request = (body: object): GatewayRequest => ({
  method: 'POST',
  path: '/v1/embeddings',
  headers: { authorization: 'Bearer t' },
  rawQueryString: '',
  body: JSON.stringify(body),
  isBase64Encoded: false,
  requestId: null,
  sourceIp: null,
});

beforeEach(() => {
  events = [];
});

it('the intent is journaled while the upstream call runs; the answer waits for the final record only after the upstream answered', async () => {
  const journal = new JournalStandIn();
  const { gateway } = setup(journal);
  const h = await gateway.handle(request({ model: 'small', input: 'hello' }));
  events.push('answered');
  expect(h.response.status).toBe(200);
  expect(events).toEqual([
    'intent started',
    'upstream started',
    'intent durable',
    'upstream answered',
    'final started',
    'final durable',
    'answered',
  ]);
  const [intent] = journal.intents;
  const [final] = journal.records;
  expect(intent!.session_id).toBe(final!.session_id);
  // The intent is a sealed record of the same request that says it had no outcome.
  expect(intent!.decision).toEqual({ ...final!.decision, outcome: 'error', status: NO_OUTCOME.status, reason: NO_OUTCOME.reason });
  expect(intent!.principal).toEqual(final!.principal);
  expect(intent!.input).toEqual(final!.input);
  expect(intent!.upstream).toBeNull();
  expect(intent!.output).toBeNull();
  expect(intent!.record_sha256).toBe(recordSha256(intent!));
  expect(final!.decision).toMatchObject({ outcome: 'allow', status: 200 });
});

it('no intent for a request that never reaches the upstream call (a refusal is recorded at once)', async () => {
  const journal = new JournalStandIn();
  const { gateway } = setup(journal);
  const h = await gateway.handle(request({ model: 'nope', input: 'hello' }));
  expect(h.response.status).toBeGreaterThanOrEqual(400);
  expect(journal.intents).toEqual([]);
  expect(journal.records).toHaveLength(1);
});

it('fail-closed is unchanged: when the final record cannot be journaled the answer is 503 and no vector leaves', async () => {
  const journal = new JournalStandIn();
  journal.failFinal = true;
  const { gateway } = setup(journal);
  const h = await gateway.handle(request({ model: 'small', input: 'hello' }));
  expect(h.response.status).toBe(503);
  expect(h.response.body).not.toContain('embedding');
  expect(journal.intents).toHaveLength(1); // the journal completes it later (no outcome): still one record
});

it('an intent the journal refused does not change an answer whose final record is durable; it is reported', async () => {
  const journal = new JournalStandIn();
  journal.failIntent = true;
  const { gateway, background } = setup(journal);
  const h = await gateway.handle(request({ model: 'small', input: 'hello' }));
  expect(h.response.status).toBe(200);
  expect(journal.records).toHaveLength(1);
  expect(background).toEqual(['journaling the request intent failed']);
});

it('an archive without intents (one object per record) is written once, after the upstream call, as before', async () => {
  const records: SessionRecord[] = [];
  const { gateway } = setup({ put: async (r) => (records.push(r), { key: r.session_id }) });
  expect((await gateway.handle(request({ model: 'small', input: 'hello' }))).response.status).toBe(200);
  expect(records.map((r) => r.decision.status)).toEqual([200]);
});
