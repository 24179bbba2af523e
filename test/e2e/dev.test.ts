/**
 * End to end: `embedgate dev --issuer` as a child process, real tokens from its embedded OIDC
 * issuer over HTTP, the official `openai` client, a local OpenAI-compatible upstream stand-in,
 * and the records it leaves in its archive directory.
 */
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { readLocalArchive } from '../../cli/archive-reader';
import { fetchClientCredentialsToken } from '../../cli/issuer';
import type { SessionRecord } from '../../lambda/core/record';
import { startDevProcess, type DevProcess } from '../support/dev-process';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';

const run = promisify(execFile);
const UPSTREAM_KEY = 'sk-e2e-upstream-key-0123456789abcdef';
const AUDIENCE = 'https://embedgate.e2e';
const CLIENTS = [
  { clientId: 'indexer', clientSecret: 'indexer-secret-e2e', scopes: ['embeddings'], claims: { groups: ['search-team'] } },
  { clientId: 'bot', clientSecret: 'bot-secret-e2e', scopes: ['embeddings'], claims: { groups: ['support'] } },
];

let upstream: FakeUpstream;
let dev: DevProcess;
let archiveDir: string;
let indexer: string;
let bot: string;
/** Session ids of every response, as the clients saw them. */
const seen: string[] = [];

beforeAll(async () => {
  upstream = await startFakeUpstream({ dimensions: 12 });
  const dir = await mkdtemp(join(tmpdir(), 'embedgate-e2e-'));
  archiveDir = join(dir, 'archive');
  const config = {
    issuers: [],
    models: [
      { name: 'local-small', provider: 'local', dimensions: 256, limits: { maxInputs: 8 } },
      {
        name: 'remote',
        provider: 'openai-compatible',
        upstreamModel: 'text-embedding-3-small',
        baseUrl: upstream.url,
        apiKey: { source: 'env', name: 'E2E_UPSTREAM_KEY' },
        upstream: { maxRetries: 0, maxBatchSize: 2 },
      },
    ],
    policy: {
      rules: [
        { id: 'search-all', effect: 'allow', match: { issuer: 'dev', groups: 'search-team' }, models: '*' },
        {
          id: 'support-small',
          effect: 'allow',
          match: { issuer: 'dev', groups: 'support' },
          models: 'local-small',
          limits: { maxInputs: 2 },
        },
      ],
    },
    gateway: { maxRequestBytes: 65_536 },
    masking: {
      enabled: true,
      strategies: { EMAIL: 'redact', CREDIT_CARD: 'pseudonymize', US_SSN: 'block', IP_ADDRESS: 'detect' },
      pseudonymKey: { source: 'env', name: 'E2E_PSEUDONYM_KEY' },
    },
    dev: { issuer: { audience: AUDIENCE, clients: CLIENTS } },
  };
  const file = join(dir, 'config.json');
  await writeFile(file, JSON.stringify(config));
  dev = await startDevProcess(['--config', file, '--issuer', '--archive-dir', archiveDir], {
    E2E_UPSTREAM_KEY: UPSTREAM_KEY,
    E2E_PSEUDONYM_KEY: 'e2e-pseudonym-key-0123456789abcdef',
  });
  indexer = await fetchClientCredentialsToken(dev.tokenEndpoint!, CLIENTS[0]!);
  bot = await fetchClientCredentialsToken(dev.tokenEndpoint!, CLIENTS[1]!);
});

afterAll(async () => {
  await dev?.stop();
  await upstream?.close();
});

const openai = (token: string) => new OpenAI({ baseURL: `${dev.url}/v1`, apiKey: token, maxRetries: 0 });

/** Run an SDK call, remember its session id, return its status. */
async function sdk<T>(
  call: () => Promise<{ data: T; response: Response }>,
): Promise<{ status: number; data?: T; error?: InstanceType<typeof OpenAI.APIError> }> {
  try {
    const { data, response } = await call();
    seen.push(response.headers.get('x-embedgate-session-id')!);
    return { status: response.status, data };
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    seen.push(e.headers?.get('x-embedgate-session-id') as string);
    return { status: e.status!, error: e };
  }
}

/** A raw HTTP request (for what SDKs cannot send), remembering its session id. */
function raw(
  path: string,
  opts: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${dev.url}${path}`,
      { method: opts.method ?? 'POST', headers: { 'content-type': 'application/json', ...opts.headers } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          const id = res.headers['x-embedgate-session-id'];
          if (typeof id === 'string') seen.push(id);
          resolve({ status: res.statusCode!, body, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('allowed requests through the official openai client', () => {
  test('embeds with the local model; the SDK default (base64) and float give the same vectors', async () => {
    const input = ['The quick brown fox', 'jumps over the lazy dog'];
    const b64 = await sdk(() => openai(indexer).embeddings.create({ model: 'local-small', input }).withResponse());
    const flt = await sdk(() =>
      openai(indexer).embeddings.create({ model: 'local-small', input, encoding_format: 'float' }).withResponse(),
    );
    expect(b64.status).toBe(200);
    expect(b64.data!.data.map((d) => d.index)).toEqual([0, 1]);
    expect(b64.data!.data[0]!.embedding).toHaveLength(256);
    expect(b64.data!.data.map((d) => d.embedding)).toEqual(flt.data!.data.map((d) => d.embedding));
    expect(b64.data!.model).toBe('local-small');
  });

  test('forwards to the upstream with the gateway key, never the client token, and keeps order across batches', async () => {
    upstream.requests.length = 0;
    const res = await sdk(() =>
      openai(indexer)
        .embeddings.create({ model: 'remote', input: ['a', 'b', 'c', 'd', 'e'] })
        .withResponse(),
    );
    expect(res.status).toBe(200);
    expect(res.data!.data.map((d) => d.index)).toEqual([0, 1, 2, 3, 4]);
    expect(upstream.requests).toHaveLength(3); // maxBatchSize 2
    for (const r of upstream.requests) {
      expect(r.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      expect(JSON.stringify(r.headers)).not.toContain(indexer);
      expect((r.body as { model: string }).model).toBe('text-embedding-3-small');
    }
  });

  test('lists only the models each principal may use', async () => {
    const all = await sdk(() => openai(indexer).models.list().withResponse());
    const some = await sdk(() => openai(bot).models.list().withResponse());
    expect(all.data!.data.map((m) => m.id)).toEqual(['local-small', 'remote']);
    expect(some.data!.data.map((m) => m.id)).toEqual(['local-small']);
  });
});

describe('refusals', () => {
  test('a model outside the policy is 403', async () => {
    const r = await sdk(() => openai(bot).embeddings.create({ model: 'remote', input: 'x' }).withResponse());
    expect(r.status).toBe(403);
    expect(r.error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(r.error!.code).toBe('model_not_allowed');
  });

  test('an empty input is 400 naming the param; too many inputs for the rule is 422', async () => {
    const empty = await sdk(() => openai(bot).embeddings.create({ model: 'local-small', input: [] }).withResponse());
    expect(empty.status).toBe(400);
    expect(empty.error!.param).toBe('input');
    const many = await sdk(() =>
      openai(bot)
        .embeddings.create({ model: 'local-small', input: ['a', 'b', 'c'] })
        .withResponse(),
    );
    expect(many.status).toBe(422);
    expect(many.error!.code).toBe('too_many_inputs');
  });

  test('no token, a token in the query string, two Authorization headers and a forged token are 401', async () => {
    const body = JSON.stringify({ model: 'local-small', input: 'x' });
    expect((await raw('/v1/embeddings', { body })).status).toBe(401);
    expect((await raw(`/v1/embeddings?access_token=${indexer}`, { body })).status).toBe(401);
    expect((await raw('/v1/embeddings', { body, headers: { authorization: [`Bearer ${indexer}`, `Bearer ${bot}`] } })).status).toBe(401);
    const [h, p] = indexer.split('.');
    expect((await raw('/v1/embeddings', { body, headers: { authorization: `Bearer ${h}.${p}.${'A'.repeat(342)}` } })).status).toBe(401);
  });

  test('a body over the limit is 413', async () => {
    const r = await raw('/v1/embeddings', {
      body: JSON.stringify({ model: 'local-small', input: 'x'.repeat(70_000) }),
      headers: { authorization: `Bearer ${indexer}` },
    });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.code).toBe('request_too_large');
  });

  test('an upstream failure is 502 in the OpenAI error shape', async () => {
    upstream.setBehaviour({ kind: 'status', status: 500 });
    try {
      const r = await sdk(() => openai(indexer).embeddings.create({ model: 'remote', input: 'x' }).withResponse());
      expect(r.status).toBe(502);
      expect(r.error).toBeInstanceOf(OpenAI.InternalServerError);
    } finally {
      upstream.setBehaviour({ kind: 'success' });
    }
  });

  test('the health check answers without a token and leaves no record', async () => {
    const r = await raw('/health', { method: 'GET' });
    expect(r.status).toBe(200);
    expect(r.headers['x-embedgate-session-id']).toBeUndefined();
  });
});

describe('masking', () => {
  const EMAIL = 'jane.doe@example.com';
  const CARD = '4111 1111 1111 1111';

  test('the upstream receives masked items (redacted, pseudonymized, detected-only), in order', async () => {
    upstream.requests.length = 0;
    const input = [`Contact ${EMAIL} today`, `card ${CARD} on file`, 'server 10.1.2.3 is up', `card ${CARD} again`];
    const r = await sdk(() => openai(indexer).embeddings.create({ model: 'remote', input }).withResponse());
    expect(r.status).toBe(200);
    expect(r.data!.data).toHaveLength(4);
    const sent = upstream.requests.flatMap((q) => (q.body as { input: string[] }).input);
    expect(sent[0]).toBe('Contact [EMAIL] today');
    expect(sent[1]).toMatch(/^card <CREDIT_CARD_[0-9a-f]{16}> on file$/);
    expect(sent[2]).toBe('server 10.1.2.3 is up'); // detect: unchanged
    expect(sent[3]!.replace(' again', ' on file')).toBe(sent[1]); // the same value gives the same pseudonym
    expect(JSON.stringify(upstream.requests)).not.toContain(EMAIL);
    expect(JSON.stringify(upstream.requests)).not.toContain(CARD);
  });

  test('a blocked entity type is refused with 422 naming the type, and nothing is sent', async () => {
    upstream.requests.length = 0;
    const r = await sdk(() =>
      openai(indexer)
        .embeddings.create({ model: 'remote', input: ['my SSN is 123-45-6789'] })
        .withResponse(),
    );
    expect(r.status).toBe(422);
    expect(r.error!.code).toBe('sensitive_data_blocked');
    expect(r.error!.message).toContain('US_SSN');
    expect(r.error!.message).not.toContain('123-45-6789');
    expect(upstream.requests).toHaveLength(0);
  });

  test('token-id inputs are refused while masking is on (they cannot be scanned)', async () => {
    const r = await sdk(() =>
      openai(indexer)
        .embeddings.create({ model: 'local-small', input: [[1, 2, 3]] })
        .withResponse(),
    );
    expect(r.status).toBe(400);
    expect(r.error!.code).toBe('tokens_not_scannable');
  });
});

describe('runtime revocation through the CLI', () => {
  const cli = (...args: string[]) => run(process.execPath, [join(__dirname, '..', '..', 'cli', 'embedgate.js'), ...args]);

  test('embedgate revoke cuts a running principal off without a restart; unrevoke lets it back in', async () => {
    const embed = () => sdk(() => openai(bot).embeddings.create({ model: 'local-small', input: 'x' }).withResponse());
    expect((await embed()).status).toBe(200);
    const revoked = await cli('revoke', '--subject', 'bot', '--reason', 'e2e', '--archive-dir', archiveDir);
    expect(revoked.stdout).toMatch(/^revoked subject bot \(any issuer\)/);
    await new Promise((r) => setTimeout(r, 1100)); // the dev runtime re-reads its deny list within a second
    const denied = await embed();
    expect(denied.status).toBe(403);
    expect(denied.error!.code).toBe('principal_revoked');
    expect((await sdk(() => openai(indexer).models.list().withResponse())).status).toBe(200); // others unaffected
    const listed = await cli('revocations', 'list', '--archive-dir', archiveDir);
    expect(listed.stdout).toMatch(/subject\s+bot\s+\*\s+forever\s+active\s+e2e/);
    await cli('unrevoke', '--subject', 'bot', '--archive-dir', archiveDir);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await embed()).status).toBe(200);
  });

  test('a usage error exits 2 with the fix', async () => {
    await expect(cli('revoke', '--token-id', 'x', '--archive-dir', archiveDir)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--token-id needs --issuer/),
    });
  });
});

describe('the archive', () => {
  let records: SessionRecord[];
  beforeAll(async () => {
    records = await readLocalArchive(archiveDir);
  });

  test('holds exactly one record per request, under the session id the client saw', () => {
    expect(seen.every((id) => typeof id === 'string' && id.length === 36)).toBe(true);
    expect(records.map((r) => r.session_id).sort()).toEqual([...seen].sort());
  });

  test('records who, what, the decision and the upstream facts', () => {
    const remote = records.find((r) => r.model?.name === 'remote' && r.decision.status === 200)!;
    expect(remote).toMatchObject({
      principal: { issuer_id: 'dev', subject: 'indexer', client_id: 'indexer', groups: ['search-team'], scopes: ['embeddings'] },
      model: { name: 'remote', provider: 'openai-compatible', upstream_model: 'text-embedding-3-small' },
      decision: {
        outcome: 'allow',
        reason: 'rule_allow',
        rule_id: 'search-all',
        policy_version: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      },
      input: { kind: 'text', items: 5, characters: 5, encoding_format: 'base64' },
      upstream: { status: 200, attempts: 3, batches: 3 },
      output: { vectors: 5, dimensions: 12, fingerprint: expect.stringMatching(/^sha256:/) },
    });
    const masked = records.find((r) => r.masking?.findings.some((f) => f.type === 'CREDIT_CARD'))!;
    expect(masked.masking).toMatchObject({
      scanned: true,
      blocked: [],
      counts: expect.arrayContaining([
        { type: 'EMAIL', count: 1 },
        { type: 'CREDIT_CARD', count: 2 },
        { type: 'IP_ADDRESS', count: 1 },
      ]),
    });
    expect(masked.masking!.findings).toContainEqual({
      item: 0,
      type: 'EMAIL',
      detector: 'email',
      strategy: 'redact',
      count: 1,
      offsets: [[8, 28]],
      pseudonyms: [],
    });
    const card = masked.masking!.findings.find((f) => f.item === 1 && f.type === 'CREDIT_CARD')!;
    expect(card.pseudonyms).toHaveLength(1);
    expect(card.pseudonyms[0]).toMatch(/^<CREDIT_CARD_[0-9a-f]{16}>$/);
    // Issue 23: the record keeps the input as it left for the model, the detect value as [TYPE].
    expect(masked.input).toMatchObject({ kept: 'all', cut: null });
    expect(masked.input.text).toEqual([
      'Contact [EMAIL] today',
      `card ${card.pseudonyms[0]} on file`,
      'server [IP_ADDRESS] is up',
      `card ${card.pseudonyms[0]} again`,
    ]);
    for (const raw of ['jane.doe@example.com', '4111 1111 1111 1111', '10.1.2.3']) expect(JSON.stringify(masked)).not.toContain(raw);
    const blocked = records.find((r) => r.decision.reason === 'masking_blocked')!;
    expect(blocked.masking!.blocked).toEqual(['US_SSN']);
    const reasons = records.map((r) => r.decision.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([
        'revoked_subject',
        'no_matching_rule',
        'empty_input',
        'too_many_inputs',
        'missing_token',
        'token_in_query',
        'multiple_authorization_headers',
        'bad_signature',
        'request_too_large',
        'upstream_5xx',
      ]),
    );
  });

  test('no token, client secret or upstream key appears in any record or log line', async () => {
    const haystack = JSON.stringify(records) + dev.output();
    for (const secret of [
      indexer,
      bot,
      UPSTREAM_KEY,
      'e2e-pseudonym-key-0123456789abcdef',
      'jane.doe@example.com',
      '4111 1111 1111 1111',
      '123-45-6789',
      ...CLIENTS.map((c) => c.clientSecret),
    ]) {
      expect(haystack).not.toContain(secret);
    }
    // Signatures alone would be enough to replay nothing, but must not leak either.
    expect(haystack).not.toContain(indexer.split('.')[2]);
  });
});
