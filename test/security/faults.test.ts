/**
 * Faults, end to end through `embedgate dev` (child processes) with a real local JWKS and a
 * scriptable fake upstream: every failure of a dependency ends in its documented status, in the
 * OpenAI error shape, without model output where there must be none, and with exactly one record
 * (or, when the archive itself fails, with no output in fail-closed mode).
 *
 *   upstream   500 / 429 / timeouts / slow answers / resets / invalid JSON / wrong item count /
 *              401 / 400 / redirects  -> 502 / 429 / 504 / 400, with the upstream facts recorded
 *   archive    fail-closed: 503 archive_unavailable and nothing returned; fail-open: output, and the
 *              lost record logged
 *   JWKS       down: cached keys keep working (stale-if-error, bounded to an hour), new kids fail
 *              closed, at most one fetch per cooldown
 *   secrets    the file behind a `file` secret disappears: 502 upstream_credentials_unavailable,
 *              nothing sent upstream (the AWS store's cached key is unit-tested in
 *              test/adapters/aws/secrets-manager.test.ts)
 *   Comprehend comes with masking (see the todo below)
 */
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLocalArchive } from '../../cli/archive-reader';
import { generateTestKey, signToken, startJwksServer, type JwksServer, type TestKey } from '../support/jwks';
import { startFakeUpstream, type FakeBehaviour, type FakeUpstream } from '../support/fake-upstream';
import {
  archiveText,
  errorCode,
  jsonBody,
  recordFiles,
  recordsOf,
  send,
  startGateway,
  type GatewayProcess,
  type RawResponse,
} from '../support/security-harness';
import { findLeaks, SecretSet } from '../support/leak-scan';

const AUD = 'https://embedgate.faults.test';
const UPSTREAM_KEY = 'sk-faults-env-upstream-key-1b2c3d4e';
const FILE_KEY_1 = 'sk-faults-file-key-one-aaaaaaaaaaaa';
const FILE_KEY_2 = 'sk-faults-file-key-two-bbbbbbbbbbbb';
const COOLDOWN_MS = 30_000;
const secrets = new SecretSet().add('env upstream key', UPSTREAM_KEY).add('file key 1', FILE_KEY_1).add('file key 2', FILE_KEY_2);

let key1: TestKey;
let key2: TestKey;
let idp: JwksServer;
let upstream: FakeUpstream;
let elsewhere: FakeUpstream;
let gw: GatewayProcess;
let openGw: GatewayProcess;
let workDir: string;
let keyFile: string;
/** Every response, per process: session id -> status and error code. */
const answered = new Map<GatewayProcess, Map<string, { status: number; code: unknown }>>();

beforeAll(async () => {
  [key1, key2] = await Promise.all([generateTestKey('RS256', { kid: 'faults-1' }), generateTestKey('RS256', { kid: 'faults-2' })]);
  [idp, upstream, elsewhere] = await Promise.all([
    startJwksServer({ keys: [key1] }),
    startFakeUpstream({ dimensions: 4 }),
    startFakeUpstream(),
  ]);
  workDir = await mkdtemp(join(tmpdir(), 'embedgate-faults-'));
  keyFile = join(workDir, 'upstream.key');
  await writeFile(keyFile, `${FILE_KEY_1}\n`);
  const http = (
    name: string,
    upstreamOpts: Record<string, unknown>,
    apiKey: Record<string, unknown> = { source: 'env', name: 'FAULTS_UPSTREAM_KEY' },
  ) => ({
    name,
    provider: 'openai-compatible',
    upstreamModel: 'text-embedding-3-small',
    baseUrl: upstream.url,
    apiKey,
    upstream: upstreamOpts,
  });
  const config = (archiveFailMode: 'open' | 'closed') => ({
    issuers: [{ id: 'corp', issuer: idp.issuer, jwksUri: idp.jwksUri, audiences: [AUD] }],
    models: [
      http('once', { maxRetries: 0, timeoutMs: 600 }),
      http('retry', { maxRetries: 2, timeoutMs: 600 }),
      http('filekey', { maxRetries: 0, timeoutMs: 600 }, { source: 'file', path: keyFile }),
      { name: 'local', provider: 'local', dimensions: 8 },
    ],
    policy: { rules: [{ id: 'all', effect: 'allow', match: { issuer: 'corp' } }] },
    gateway: { archiveFailMode },
  });
  const env = { FAULTS_UPSTREAM_KEY: UPSTREAM_KEY };
  // The fail-open gateway's record directory is a regular file: every record write fails (the
  // archive directory itself, which also holds the dev deny list, stays readable).
  await mkdir(join(workDir, 'open-archive'));
  await writeFile(join(workDir, 'open-archive', 'sessions'), 'in the way');
  // One object per record (--no-journal): these gateways' archive is made to fail by putting a
  // file where sessions/ should be. The journal's own failures (a failed fdatasync) are tested in
  // test/adapters/local/journal.test.ts, the gateway's answer to them in test/core/gateway.test.ts.
  [gw, openGw] = await Promise.all([
    startGateway({ config: config('closed'), env, args: ['--no-journal'] }),
    startGateway({ config: config('open'), env, archiveDir: join(workDir, 'open-archive'), args: ['--no-journal'] }),
  ]);
  answered.set(gw, new Map());
  answered.set(openGw, new Map());
});

afterAll(async () => {
  await Promise.all([gw?.stop(), openGw?.stop()]);
  await Promise.all([idp?.stop(), upstream?.close(), elsewhere?.close()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** A corp token valid on `at`'s clock (the child's, which the JWKS tests move). */
async function token(at: GatewayProcess, key: TestKey = key1): Promise<string> {
  const now = Math.floor(at.now() / 1000);
  const t = await signToken(key, { iss: idp.issuer, aud: AUD, sub: 'svc-faults', client_id: 'svc-faults', iat: now, exp: now + 600 });
  secrets.token('client token', t);
  return t;
}

function track(at: GatewayProcess, res: RawResponse): RawResponse {
  expect(res.sessionId).toBeDefined();
  answered.get(at)!.set(res.sessionId!, { status: res.status, code: errorCode(res) });
  return res;
}

async function embed(at: GatewayProcess, model: string, opts: { token?: string | null; input?: string[] } = {}): Promise<RawResponse> {
  const t = opts.token === undefined ? await token(at) : opts.token;
  const res = await send(at.url, '/v1/embeddings', {
    headers: t === null ? {} : { authorization: `Bearer ${t}` },
    body: JSON.stringify({ model, input: opts.input ?? ['alpha', 'beta'] }),
  });
  return track(at, res);
}

async function models(at: GatewayProcess, t: string): Promise<RawResponse> {
  return track(at, await send(at.url, '/v1/models', { method: 'GET', headers: { authorization: `Bearer ${t}` } }));
}

/** Exactly one record for this response; returns it. */
async function recordOf(at: GatewayProcess, res: RawResponse) {
  expect(res.sessionId).toBeDefined();
  const records = await recordsOf(at.archiveDir, res.sessionId!);
  expect(records).toHaveLength(1);
  expect(records[0]!.decision.status).toBe(res.status);
  return records[0]!;
}

function expectNoOutput(res: RawResponse): void {
  expect(jsonBody(res)?.data).toBeUndefined();
  expect(res.body).not.toContain('"embedding"');
  expect(jsonBody(res)?.error).toEqual(
    expect.objectContaining({ message: expect.any(String), type: expect.any(String), code: expect.any(String) }),
  );
}

// ---------------------------------------------------------------------------------------------
// Upstream faults
// ---------------------------------------------------------------------------------------------

interface UpstreamFault {
  readonly name: string;
  readonly model: 'once' | 'retry';
  readonly script: readonly FakeBehaviour[];
  readonly status: number;
  readonly code?: string;
  readonly reason: string;
  /** Upstream HTTP requests made (retries included). */
  readonly attempts: number;
  /** Last upstream status in the record (null: no answer). */
  readonly upstreamStatus: number | null;
  readonly retryAfter?: string;
}

const FAULTS: readonly UpstreamFault[] = [
  {
    name: '500',
    model: 'once',
    script: [{ kind: 'status', status: 500 }],
    status: 502,
    code: 'upstream_unavailable',
    reason: 'upstream_5xx',
    attempts: 1,
    upstreamStatus: 500,
  },
  {
    name: '503 three times (two retries, then give up)',
    model: 'retry',
    script: [
      { kind: 'status', status: 503 },
      { kind: 'status', status: 503 },
      { kind: 'status', status: 503 },
    ],
    status: 502,
    code: 'upstream_unavailable',
    reason: 'upstream_5xx',
    attempts: 3,
    upstreamStatus: 503,
  },
  {
    name: '500, then success on the retry',
    model: 'retry',
    script: [{ kind: 'status', status: 500 }, { kind: 'success' }],
    status: 200,
    reason: 'rule_allow',
    attempts: 2,
    upstreamStatus: 200,
  },
  {
    name: '429 with Retry-After 30 s (over the 5 s cap: not waited, passed on)',
    model: 'retry',
    script: [{ kind: 'status', status: 429, retryAfter: '30' }],
    status: 429,
    code: 'upstream_rate_limited',
    reason: 'upstream_rate_limited',
    attempts: 1,
    upstreamStatus: 429,
    retryAfter: '30',
  },
  {
    name: '429 without retries left',
    model: 'once',
    script: [{ kind: 'status', status: 429 }],
    status: 429,
    code: 'upstream_rate_limited',
    reason: 'upstream_rate_limited',
    attempts: 1,
    upstreamStatus: 429,
  },
  {
    name: '429 with Retry-After 0, then success',
    model: 'retry',
    script: [{ kind: 'status', status: 429, retryAfter: '0' }, { kind: 'success' }],
    status: 200,
    reason: 'rule_allow',
    attempts: 2,
    upstreamStatus: 200,
  },
  {
    name: 'no answer (hang past the 600 ms timeout)',
    model: 'once',
    script: [{ kind: 'hang' }],
    status: 504,
    code: 'upstream_timeout',
    reason: 'upstream_timeout',
    attempts: 1,
    upstreamStatus: null,
  },
  {
    name: 'a slow answer past the timeout (1.5 s)',
    model: 'once',
    script: [{ kind: 'success', latencyMs: 1500 }],
    status: 504,
    code: 'upstream_timeout',
    reason: 'upstream_timeout',
    attempts: 1,
    upstreamStatus: null,
  },
  {
    name: 'a slow answer within the timeout (150 ms)',
    model: 'once',
    script: [{ kind: 'success', latencyMs: 150 }],
    status: 200,
    reason: 'rule_allow',
    attempts: 1,
    upstreamStatus: 200,
  },
  {
    name: 'hang, then success on the retry',
    model: 'retry',
    script: [{ kind: 'hang' }, { kind: 'success' }],
    status: 200,
    reason: 'rule_allow',
    attempts: 2,
    upstreamStatus: 200,
  },
  {
    name: 'connection reset',
    model: 'once',
    script: [{ kind: 'reset' }],
    status: 502,
    code: 'upstream_unavailable',
    reason: 'upstream_network_error',
    attempts: 1,
    upstreamStatus: null,
  },
  {
    name: 'connection reset three times',
    model: 'retry',
    script: [{ kind: 'reset' }, { kind: 'reset' }, { kind: 'reset' }],
    status: 502,
    code: 'upstream_unavailable',
    reason: 'upstream_network_error',
    attempts: 3,
    upstreamStatus: null,
  },
  {
    name: 'invalid JSON',
    model: 'once',
    script: [{ kind: 'invalid-json' }],
    status: 502,
    code: 'upstream_unavailable',
    reason: 'upstream_invalid_response',
    attempts: 1,
    upstreamStatus: 200,
  },
  {
    name: 'one vector too few',
    model: 'retry',
    script: [{ kind: 'wrong-count', delta: -1 }],
    status: 502,
    code: 'upstream_unavailable',
    reason: 'upstream_invalid_response',
    attempts: 1,
    upstreamStatus: 200,
  },
  {
    name: 'a 200 that is not an embeddings list',
    model: 'once',
    script: [{ kind: 'json', body: { object: 'list', data: [{ index: 0, embedding: 'not-a-vector' }] } }],
    status: 502,
    code: 'upstream_unavailable',
    reason: 'upstream_invalid_response',
    attempts: 1,
    upstreamStatus: 200,
  },
  {
    name: '401 (the gateway key was refused)',
    model: 'retry',
    script: [{ kind: 'status', status: 401 }],
    status: 502,
    code: 'upstream_auth_failed',
    reason: 'upstream_auth_failed',
    attempts: 1,
    upstreamStatus: 401,
  },
  {
    name: '400 (the upstream refused the input)',
    model: 'retry',
    script: [{ kind: 'status', status: 400 }],
    status: 400,
    code: 'upstream_rejected_request',
    reason: 'upstream_rejected_request',
    attempts: 1,
    upstreamStatus: 400,
  },
];

describe('upstream faults: documented statuses, one record each with the upstream facts', () => {
  beforeEach(() => upstream.reset());

  it.each(FAULTS)('$name → $status $reason', async (f) => {
    upstream.enqueue(...f.script);
    const res = await embed(gw, f.model);
    expect(res.status).toBe(f.status);
    if (f.status === 200) {
      expect((jsonBody(res)?.data as unknown[]).length).toBe(2);
    } else {
      expectNoOutput(res);
      expect(errorCode(res)).toBe(f.code);
    }
    if (f.retryAfter !== undefined) expect(res.headers['retry-after']).toBe(f.retryAfter);
    const r = await recordOf(gw, res);
    expect(r.decision.reason).toBe(f.reason);
    expect(r.upstream).toMatchObject({ status: f.upstreamStatus, attempts: f.attempts, batches: 1 });
    expect(upstream.requests).toHaveLength(f.attempts);
    if (f.status === 200) expect(r.output).toMatchObject({ vectors: 2, dimensions: 4 });
    else expect(r.output).toBeNull();
    if (f.name.includes('within the timeout')) expect(r.upstream!.latency_ms).toBeGreaterThanOrEqual(140);
  });

  it('a redirect is not followed (the key never travels elsewhere): 502 upstream_unexpected_status', async () => {
    upstream.enqueue({ kind: 'json', status: 307, body: {}, headers: { location: `${elsewhere.url}/embeddings` } });
    const res = await embed(gw, 'once');
    expect(res.status).toBe(502);
    expectNoOutput(res);
    const r = await recordOf(gw, res);
    expect(r.decision.reason).toBe('upstream_unexpected_status');
    expect(r.upstream).toMatchObject({ status: 307, attempts: 1 });
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('an upstream error message that echoes the key is passed on redacted', async () => {
    upstream.enqueue({ kind: 'status', status: 400, body: { error: { message: `invalid input for key ${UPSTREAM_KEY}` } } });
    const res = await embed(gw, 'once');
    expect(res.status).toBe(400);
    expect(res.body).not.toContain(UPSTREAM_KEY);
    expect(res.body).toContain('[redacted]');
    await recordOf(gw, res);
  });
});

// ---------------------------------------------------------------------------------------------
// Secret store
// ---------------------------------------------------------------------------------------------

describe('the secret store down (a file secret disappears)', () => {
  beforeEach(() => upstream.reset());

  it('with the file: 200, the upstream gets the file key', async () => {
    const res = await embed(gw, 'filekey');
    expect(res.status).toBe(200);
    expect(upstream.requests[0]!.headers.authorization).toBe(`Bearer ${FILE_KEY_1}`);
    await recordOf(gw, res);
  });

  it('without it: 502 upstream_credentials_unavailable, nothing sent upstream, one record', async () => {
    await rm(keyFile);
    const res = await embed(gw, 'filekey');
    expect(res.status).toBe(502);
    expect(errorCode(res)).toBe('upstream_credentials_unavailable');
    expectNoOutput(res);
    expect(res.body).not.toContain(keyFile);
    const r = await recordOf(gw, res);
    expect(r.decision.reason).toBe('upstream_credentials_unavailable');
    expect(r.upstream).toMatchObject({ status: null, attempts: 0 });
    expect(upstream.requests).toHaveLength(0);
  });

  it('a rotated key in its place is used at once (the local store does not cache)', async () => {
    await writeFile(keyFile, FILE_KEY_2);
    const res = await embed(gw, 'filekey');
    expect(res.status).toBe(200);
    expect(upstream.requests[0]!.headers.authorization).toBe(`Bearer ${FILE_KEY_2}`);
    await recordOf(gw, res);
  });
});

describe('Amazon Comprehend down', () => {
  // Comprehend is the masking feature's optional detector (lambda/core/masking, built in parallel):
  // its per-detector fail mode is tested with masking, not here.
  // Comprehend down: embedgate dev cannot call Comprehend, so its fail modes are proven at the
  // pipeline level (test/core/gateway.test.ts, "masking with an external detector that is down")
  // and in the masker (test/masking/masker.test.ts).
});

// ---------------------------------------------------------------------------------------------
// Archive
// ---------------------------------------------------------------------------------------------

describe('the archive failing', () => {
  const sessions = () => join(gw.archiveDir, 'sessions');
  const aside = () => join(gw.archiveDir, 'sessions.aside');

  it('fail-closed (the default): 503 archive_unavailable, no model output, the lost record logged', async () => {
    expect((await embed(gw, 'local')).status).toBe(200); // the sessions directory exists
    await mkdir(sessions(), { recursive: true });
    await rename(sessions(), aside());
    await writeFile(sessions(), 'in the way');
    upstream.reset();
    try {
      for (const model of ['local', 'once']) {
        const res = await embed(gw, model);
        expect(res.status).toBe(503);
        expect(errorCode(res)).toBe('archive_unavailable');
        expect(res.headers['retry-after']).toBe('1');
        expectNoOutput(res);
        expect(res.sessionId).toBeDefined();
        expect(gw.output()).toContain(res.sessionId!);
        expect(gw.output()).toMatch(/archive write failed/);
      }
      // The upstream answered; its vectors did not leave.
      expect(upstream.requests).toHaveLength(1);
      // A refusal cannot leave unrecorded either.
      const refused = await embed(gw, 'local', { token: null });
      expect(refused.status).toBe(503);
      expectNoOutput(refused);
    } finally {
      await rm(sessions());
      await rename(aside(), sessions());
    }
  });

  it('an edge refusal whose record is lost is logged too (with its session id)', async () => {
    await rename(sessions(), aside());
    await writeFile(sessions(), 'in the way');
    try {
      const refused = await embed(gw, 'local', { token: null });
      expect(refused.status).toBe(503);
      expect(gw.output()).toMatch(new RegExp(`archive write failed: session ${refused.sessionId} \\(missing_token\\)`));
    } finally {
      await rm(sessions());
      await rename(aside(), sessions());
    }
  });

  it('recovers at once when the archive is back', async () => {
    const res = await embed(gw, 'local');
    expect(res.status).toBe(200);
    await recordOf(gw, res);
  });

  it('fail-open ("archiveFailMode": "open"): the output is returned and the lost record is logged', async () => {
    const res = await embed(openGw, 'local');
    expect(res.status).toBe(200);
    expect((jsonBody(res)?.data as unknown[]).length).toBe(2);
    expect(res.sessionId).toBeDefined();
    expect(openGw.output()).toMatch(new RegExp(`archive write failed.*${res.sessionId}|${res.sessionId}.*archive write failed`));
    const denied = await embed(openGw, 'local', { token: null });
    expect(denied.status).toBe(401);
    expect(openGw.output()).toContain(denied.sessionId!);
    expect(openGw.output()).toMatch(new RegExp(`archive write failed: session ${denied.sessionId}`));
    expect(await recordFiles(openGw.archiveDir)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// JWKS endpoint down (moves the child's clock: keep last)
// ---------------------------------------------------------------------------------------------

describe('the JWKS endpoint down', () => {
  it('cached keys keep working while the key set is fresh, without a fetch', async () => {
    expect((await models(gw, await token(gw))).status).toBe(200);
    idp.goDown('status', 500);
    idp.resetCounts();
    const res = await models(gw, await token(gw));
    expect(res.status).toBe(200);
    await recordOf(gw, res);
    expect(idp.count('jwks')).toBe(0);
  });

  it('once the key set is stale (10 min), the last good keys keep verifying (stale-if-error): one failed fetch per cooldown', async () => {
    await gw.advanceClock(601_000);
    idp.resetCounts();
    const first = await models(gw, await token(gw));
    expect(first.status).toBe(200);
    expect(idp.count('jwks')).toBe(1);
    const burst = await Promise.all(Array.from({ length: 20 }, async () => models(gw, await token(gw))));
    expect(burst.map((r) => r.status)).toEqual(burst.map(() => 200));
    for (const r of [first, ...burst]) await recordOf(gw, r);
    expect(idp.count('jwks')).toBe(1);
  });

  it('a new kid fails closed (401 unknown_key), even once it is published, while the endpoint is down', async () => {
    idp.addKey(key2);
    idp.goDown('close');
    for (let i = 0; i < 2; i++) {
      const res = await models(gw, await token(gw, key2));
      expect(res.status).toBe(401);
      expect((await recordOf(gw, res)).decision.reason).toBe('unknown_key');
      await gw.advanceClock(COOLDOWN_MS + 1000);
    }
    expect((await models(gw, await token(gw))).status).toBe(200);
  });

  it('after an hour without a good fetch, even the cached keys fail closed (401 jwks_unavailable)', async () => {
    await gw.advanceClock(3_600_000);
    const res = await models(gw, await token(gw));
    expect(res.status).toBe(401);
    expect((await recordOf(gw, res)).decision.reason).toBe('jwks_unavailable');
  });

  it('when the endpoint is back, both keys verify again after the cooldown', async () => {
    idp.comeUp();
    await gw.advanceClock(COOLDOWN_MS + 1000);
    idp.resetCounts();
    const old = await models(gw, await token(gw));
    const rotated = await models(gw, await token(gw, key2));
    expect([old.status, rotated.status]).toEqual([200, 200]);
    await recordOf(gw, old);
    await recordOf(gw, rotated);
    expect(idp.count('jwks')).toBe(1);
  });
});

describe('afterwards', () => {
  it('fail-closed gateway: exactly one record per request, except the four answered 503 archive_unavailable', async () => {
    const all = answered.get(gw)!;
    const lost = [...all].filter(([, a]) => a.status === 503 && a.code === 'archive_unavailable').map(([id]) => id);
    expect(lost.length).toBe(4);
    const records = await readLocalArchive(gw.archiveDir);
    expect(records.map((r) => r.session_id).sort()).toEqual([...all.keys()].filter((id) => !lost.includes(id)).sort());
    for (const r of records) expect(r.decision.status).toBe(all.get(r.session_id)!.status);
    expect(gw.alive()).toBe(true);
    expect(openGw.alive()).toBe(true);
  });

  it('no token, upstream key or key-file content in any log line or record', async () => {
    const haystacks = [
      { name: 'closed gateway output', text: gw.output() },
      { name: 'open gateway output', text: openGw.output() },
      { name: 'closed gateway records', text: await archiveText(gw.archiveDir) },
    ];
    expect(findLeaks(haystacks, secrets)).toEqual([]);
  });
});
