/**
 * Log hygiene: run a traffic mix that carries every kind of secret and planted PII through
 * `embedgate dev` (child processes), then scan everything they printed (stdout and stderr: the
 * handler's structured logs, the dev server's own lines, the embedded issuer's) and every record
 * they wrote, and fail on any hit:
 *
 * - bearer tokens issued by the embedded OIDC issuer (whole, and their signatures), forged tokens,
 *   and anything shaped like a JWT;
 * - the OAuth client secrets (sent to the issuer, and misused as bearer tokens or Basic credentials);
 * - the upstream key (which the upstream echoes back in an error);
 * - planted PII (e-mail, card number, phone, IBAN, SSN, a name, a canary) in inputs, in the `user`
 *   field, in a custom header, in invalid and oversized bodies, and echoed back by the upstream.
 *   The gateway must not log inputs. These gateways run without masking and with
 *   `recording.inputText: "omit"`, so their records keep counts only and may be scanned whole
 *   (by default records keep the input as it left for the model, issue 23: without masking that
 *   is the input as sent, which is what the deployment then asked for; with masking, the masked
 *   text, tested in test/core/recording.test.ts and test/e2e/dev.test.ts).
 *
 * The other security suites scan their own processes' output and records the same way
 * (test/support/leak-scan.ts) in their last test.
 *
 * Three gateways: the default settings; Powertools at DEBUG level in dev mode; and Powertools'
 * POWERTOOLS_LOGGER_LOG_EVENT=true, which logs whole events (see the failing test at the end).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { fetchClientCredentialsToken } from '../../cli/issuer';
import { b64url } from '../support/jwks';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { archiveText, recordFiles, send, startGateway, type GatewayProcess, type RawResponse } from '../support/security-harness';
import { findLeaks, SecretSet } from '../support/leak-scan';

const AUDIENCE = 'https://embedgate.hygiene.test';
const UPSTREAM_KEY = 'sk-hygiene-upstream-key-4a5b6c7d8e9f';
const CLIENTS = [
  { clientId: 'indexer', clientSecret: 'indexer-client-secret-71c3e9a0', scopes: ['embeddings'], claims: { groups: ['search'] } },
  { clientId: 'bot', clientSecret: 'bot-client-secret-2d8f4b61', scopes: ['embeddings'], claims: { groups: ['support'] } },
];
const PII = {
  email: 'jane.roe.canary@example.org',
  card: '4111 1111 1111 1111',
  phone: '+1 (202) 555-0143',
  iban: 'DE89370400440532013000',
  ssn: 'SSN 219-09-9999',
  name: 'Janet Q. Roe-Canary',
  canary: 'CANARY-input-7f1e2d3c9b',
};
const PII_TEXT = `Customer ${PII.name} <${PII.email}>, card ${PII.card}, phone ${PII.phone}, IBAN ${PII.iban}, ${PII.ssn}, ref ${PII.canary}`;

const secrets = new SecretSet().add('upstream key', UPSTREAM_KEY);
for (const c of CLIENTS) secrets.add(`client secret of ${c.clientId}`, c.clientSecret);
for (const [k, v] of Object.entries(PII)) secrets.add(`PII ${k}`, v);

let upstream: FakeUpstream;
let plain: GatewayProcess;
let debug: GatewayProcess;
let logEvent: GatewayProcess;
let indexer: string;
let bot: string;

function config(issuerEntry: object | null): object {
  return {
    issuers: issuerEntry ? [issuerEntry] : [],
    models: [
      { name: 'local-small', provider: 'local', dimensions: 16, limits: { maxInputs: 4 } },
      {
        name: 'remote',
        provider: 'openai-compatible',
        baseUrl: upstream.url,
        apiKey: { source: 'env', name: 'HYGIENE_UPSTREAM_KEY' },
        upstream: { maxRetries: 0, timeoutMs: 2000 },
      },
    ],
    policy: {
      rules: [
        { id: 'search', effect: 'allow', match: { issuer: 'dev', groups: 'search' }, models: '*' },
        { id: 'support', effect: 'allow', match: { issuer: 'dev', groups: 'support' }, models: 'local-small', limits: { maxInputs: 2 } },
      ],
    },
    gateway: { maxRequestBytes: 16_384 },
    recording: { inputText: 'omit' },
    ...(issuerEntry ? {} : { dev: { issuer: { audience: AUDIENCE, clients: CLIENTS } } }),
  };
}

beforeAll(async () => {
  upstream = await startFakeUpstream({ dimensions: 8 });
  const env = { HYGIENE_UPSTREAM_KEY: UPSTREAM_KEY };
  plain = await startGateway({ config: config(null), args: ['--issuer'], env });
  // The other two trust the first one's embedded issuer (found by OIDC discovery), so one set of
  // tokens serves all three.
  const trusted = { id: 'dev', issuer: plain.issuer, audiences: [AUDIENCE], algorithms: ['RS256'], requiredTyp: 'at+jwt' };
  [debug, logEvent] = await Promise.all([
    startGateway({ config: config(trusted), env: { ...env, POWERTOOLS_LOG_LEVEL: 'DEBUG', POWERTOOLS_DEV: 'true' } }),
    startGateway({ config: config(trusted), env: { ...env, POWERTOOLS_LOGGER_LOG_EVENT: 'true' } }),
  ]);
  indexer = await fetchClientCredentialsToken(plain.tokenEndpoint!, CLIENTS[0]!);
  bot = await fetchClientCredentialsToken(plain.tokenEndpoint!, CLIENTS[1]!);
  secrets.token('indexer token', indexer).token('bot token', bot);
  await Promise.all([traffic(plain), traffic(debug), traffic(logEvent)]);
});

afterAll(async () => {
  await Promise.all([plain?.stop(), debug?.stop(), logEvent?.stop()]);
  await upstream?.close();
});

/** The traffic mix: every response status the gateway has, each request carrying secrets or PII. */
async function traffic(gw: GatewayProcess): Promise<RawResponse[]> {
  const post = (body: string, headers: OutgoingHttpHeaders = { authorization: `Bearer ${indexer}` }, path = '/v1/embeddings') =>
    send(gw.url, path, { headers, body });
  const embed = (model: string, input: unknown, extra: Record<string, unknown> = {}, token = indexer) =>
    post(JSON.stringify({ model, input, ...extra }), { authorization: `Bearer ${token}`, 'x-customer-email': PII.email });
  const forged = `${b64url({ alg: 'RS256', kid: 'x', typ: 'at+jwt' })}.${b64url({ iss: gw.issuer ?? 'https://idp', sub: PII.email, name: PII.name, aud: AUDIENCE, exp: 4102444800 })}.${b64url('forged-signature-bytes-0123456789')}`;
  secrets.token('forged token', forged);
  const out: RawResponse[] = [];
  const run = async (p: Promise<RawResponse>) => void out.push(await p);

  await run(embed('local-small', PII_TEXT, { user: PII.email })); // 200
  await run(embed('local-small', [PII_TEXT, PII.canary], { encoding_format: 'float' })); // 200
  await run(embed('remote', [PII_TEXT, PII.iban], { user: PII.email, dimensions: 8 })); // 200 via the upstream
  await run(embed('remote', PII_TEXT, {}, bot)); // 403
  await run(embed('local-small', [PII_TEXT, PII.email, PII.card], {}, bot)); // 422
  await run(embed(PII.email.replace(/[@+]/g, '-'), PII_TEXT)); // 403 unknown model (a model name, not an input)
  await run(post(`{"model":"local-small","input":"${PII_TEXT}`)); // 400 invalid JSON
  await run(embed('local-small', [PII_TEXT, 42])); // 400 invalid input
  await run(post(JSON.stringify({ model: 'local-small', input: `${PII_TEXT} `.repeat(200) }))); // 413
  upstream.enqueue({ kind: 'json', status: 400, body: { error: { message: `cannot embed "${PII_TEXT}" with key ${UPSTREAM_KEY}` } } });
  await run(embed('remote', PII_TEXT)); // 400, the upstream echoes the input and the key
  upstream.enqueue({ kind: 'status', status: 500, body: { error: { message: `internal error while embedding ${PII.canary}` } } });
  await run(embed('remote', PII_TEXT)); // 502
  upstream.enqueue({ kind: 'reset' });
  await run(embed('remote', PII_TEXT)); // 502
  await run(send(gw.url, `/v1/models?access_token=${indexer}`, { method: 'GET' })); // 401 token in the query
  await run(post(JSON.stringify({ model: 'local-small', input: PII_TEXT }), { authorization: `Bearer ${forged}` })); // 401 bad signature
  await run(post(JSON.stringify({ model: 'local-small', input: PII_TEXT }), { authorization: `Bearer ${CLIENTS[0]!.clientSecret}` })); // 401 secret as token
  await run(
    post(JSON.stringify({ model: 'local-small', input: PII_TEXT }), {
      authorization: `Basic ${Buffer.from(`${CLIENTS[0]!.clientId}:${CLIENTS[0]!.clientSecret}`).toString('base64')}`,
    }),
  );
  await run(
    post(JSON.stringify({ model: 'local-small', input: PII_TEXT }), {
      authorization: [`Bearer ${indexer}`, `Bearer ${bot}`] as unknown as string,
    }),
  ); // 401 two headers
  await run(
    send(gw.url, '/v1/models', { method: 'GET', headers: { authorization: `Bearer ${indexer}`, cookie: `session=${PII.canary}` } }),
  ); // 200
  return out;
}

const haystacks = async (gw: GatewayProcess, name: string) => [
  { name: `${name} stdout/stderr`, text: gw.output() },
  { name: `${name} records`, text: await archiveText(gw.archiveDir) },
];

describe('log hygiene', () => {
  it('the traffic covered allowed, refused, invalid, oversized and failed requests, each recorded', async () => {
    for (const gw of [plain, debug, logEvent]) {
      expect((await recordFiles(gw.archiveDir)).length).toBe(18);
    }
    const statuses = (
      await Promise.all([plain].map(async (gw) => (await archiveText(gw.archiveDir)).match(/"status":\d{3}/g) ?? []))
    ).flat();
    for (const s of [200, 400, 401, 403, 413, 422, 502]) expect(statuses).toContain(`"status":${s}`);
    expect(upstream.requests.some((r) => r.rawBody.includes(PII.canary))).toBe(true); // the inputs did travel upstream
  });

  it('default settings: no token, client secret, upstream key or planted PII in any log line or record', async () => {
    expect(secrets.size).toBeGreaterThanOrEqual(15);
    expect(findLeaks(await haystacks(plain, 'gateway'), secrets)).toEqual([]);
  });

  it('Powertools at DEBUG in dev mode: still nothing', async () => {
    expect(findLeaks(await haystacks(debug, 'debug gateway'), secrets)).toEqual([]);
  });

  it('records keep counts of the inputs, not the inputs, and say the input was omitted', async () => {
    const text = await archiveText(plain.archiveDir);
    expect(text).toContain('"characters":');
    expect(text).toContain('"kept":"omitted"');
    expect(text).not.toMatch(/"kept":"(all|partial)"/);
    expect(text).not.toContain('Customer');
    expect(text).not.toContain('lorem');
  });

  // BUG (left alone, outside the files this suite may change): lambda/handlers/proxy.ts wires
  // Powertools' `injectLambdaContext(logger, { resetKeys: true })` without `logEvent: false`, so an
  // operator who sets POWERTOOLS_LOGGER_LOG_EVENT=true (a common debugging switch; also in Lambda)
  // makes the proxy log every whole event: the Authorization header (bearer token) and the body
  // (inputs, PII). The one-line fix is `{ resetKeys: true, logEvent: false }`. This test passes
  // once that is done and must then become a plain `it`.
  it('POWERTOOLS_LOGGER_LOG_EVENT=true: still nothing (whole events must never be logged)', async () => {
    expect(findLeaks(await haystacks(logEvent, 'log-event gateway'), secrets)).toEqual([]);
  });
});
