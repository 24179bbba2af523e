/**
 * Adversarial tokens, end to end: every case goes over HTTP to `embedgate dev` (a child process)
 * that trusts two issuers, each with a real local JWKS (test/support/jwks.ts):
 *
 *   corp     (primary, served at /v1)            RS256 + ES256, requiredTyp at+jwt
 *   partner  (served at /partner/v1)             RS256
 *
 * and forwards the model `remote` to a fake upstream (test/support/fake-upstream.ts). Each attack
 * targets `POST /v1/embeddings` with a body the upstream would answer, and must be refused with
 * 401 AND leave exactly one record with the expected reason AND never reach the upstream.
 *
 * The main process emulates API Gateway's JWT authorizer at the edge (the default); a subset runs
 * again against a second process started with `--skip-edge-auth`, so the handler's own checks are
 * proven too, not only the emulated edge. The JWKS cooldown (30 s) is a real-time rule inside the
 * child: the suite moves the child's clock instead of waiting (test/support/clock-shift.cjs).
 */
import { randomUUID } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import { readLocalArchive } from '../../cli/archive-reader';
import {
  b64url,
  generateTestKey,
  hmacToken,
  jweToken,
  keyConfusionToken,
  publicKeySecret,
  signCompact,
  signToken,
  startJwksServer,
  tamperPayload,
  unsignedToken,
  withKid,
} from '../support/jwks';
import type { JwksServer, TestKey } from '../support/jwks';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
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

const AUD = 'https://embedgate.security.test/api';
const SUB = 'svc-indexer';
const UPSTREAM_KEY = 'sk-security-tokens-upstream-7f3a9c21d4';
const COOLDOWN_MS = 30_000;
const BODY = JSON.stringify({ model: 'remote', input: ['probe text'] });

let corpRsa: TestKey;
let corpEc: TestKey;
let partnerRsa: TestKey;
let attacker: TestKey;
let idpA: JwksServer;
let idpB: JwksServer;
let attackerIdp: JwksServer;
let upstream: FakeUpstream;
let edge: GatewayProcess;
let handlerOnly: GatewayProcess;
/** Everything sent, for the leak scan at the end. */
const secrets = new SecretSet().add('upstream key', UPSTREAM_KEY);
/** Requests sent per process (every one must have exactly one record). */
const sent = new Map<GatewayProcess, string[]>();

beforeAll(async () => {
  [corpRsa, corpEc, partnerRsa, attacker] = await Promise.all([
    generateTestKey('RS256', { kid: 'corp-rsa-1' }),
    generateTestKey('ES256', { kid: 'corp-ec-1' }),
    generateTestKey('RS256', { kid: 'partner-rsa-1' }),
    generateTestKey('RS256', { kid: 'attacker-1' }),
  ]);
  [idpA, idpB, attackerIdp, upstream] = await Promise.all([
    startJwksServer({ keys: [corpRsa, corpEc], issuerPath: '/tenant-a' }),
    startJwksServer({ keys: [partnerRsa], issuerPath: '/tenant-b' }),
    startJwksServer({ keys: [attacker] }),
    startFakeUpstream(),
  ]);
  const config = {
    issuers: [
      { id: 'corp', issuer: idpA.issuer, jwksUri: idpA.jwksUri, audiences: [AUD], algorithms: ['RS256', 'ES256'], requiredTyp: 'at+jwt' },
      { id: 'partner', issuer: idpB.issuer, jwksUri: idpB.jwksUri, audiences: [AUD], algorithms: ['RS256'] },
    ],
    models: [
      {
        name: 'remote',
        provider: 'openai-compatible',
        baseUrl: upstream.url,
        apiKey: { source: 'env', name: 'SECURITY_UPSTREAM_KEY' },
        upstream: { maxRetries: 0 },
      },
      { name: 'restricted-local', provider: 'local', dimensions: 8 },
    ],
    policy: {
      rules: [
        { id: 'clients', effect: 'allow', match: { issuer: ['corp', 'partner'] }, models: 'remote' },
        {
          id: 'admins',
          effect: 'allow',
          match: { issuer: 'corp', groups: 'admins', scopes: 'embeddings:admin' },
          models: 'restricted-local',
        },
      ],
    },
  };
  const env = { SECURITY_UPSTREAM_KEY: UPSTREAM_KEY };
  [edge, handlerOnly] = await Promise.all([startGateway({ config, env }), startGateway({ config, env, args: ['--skip-edge-auth'] })]);
  sent.set(edge, []);
  sent.set(handlerOnly, []);
});

afterAll(async () => {
  await Promise.all([edge?.stop(), handlerOnly?.stop()]);
  await Promise.all([idpA?.stop(), idpB?.stop(), attackerIdp?.stop(), upstream?.close()]);
});

// ---------------------------------------------------------------------------------------------
// Tokens (real time; the child clocks only ever move forward by < 2 minutes, inside every exp)
// ---------------------------------------------------------------------------------------------

const nowS = (): number => Math.floor(Date.now() / 1000);

function claims(iss: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowS();
  const c: Record<string, unknown> = {
    iss,
    aud: AUD,
    sub: SUB,
    client_id: SUB,
    scope: 'embeddings',
    iat: now,
    exp: now + 900,
    jti: randomUUID(),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
}
const corpClaims = (o: Record<string, unknown> = {}) => claims(idpA.issuer, o);
const partnerClaims = (o: Record<string, unknown> = {}) => claims(idpB.issuer, o);
/** An honest corp access token (RFC 9068 `typ`), with claim and header overrides. */
const corpToken = (o: Record<string, unknown> = {}, h: Record<string, unknown> = {}) =>
  signToken(corpRsa, corpClaims(o), { typ: 'at+jwt', ...h });
const partnerToken = (o: Record<string, unknown> = {}) => signToken(partnerRsa, partnerClaims(o));
const bearer = (t: string) => `Bearer ${t}`;
const segments = async () => (await corpToken()).split('.') as [string, string, string];

// ---------------------------------------------------------------------------------------------
// Requests and their records
// ---------------------------------------------------------------------------------------------

interface Attempt {
  /** One Authorization header value, several (sent as separate headers), or none. */
  readonly authorization?: string | string[];
  /** Raw query string. */
  readonly query?: string;
}

interface Attack {
  readonly name: string;
  /** The reason code the record must carry. */
  readonly reason: string;
  /** `/partner` to target the partner issuer's routes. @default '' (corp, /v1) */
  readonly prefix?: string;
  readonly build: () => Promise<Attempt> | Attempt;
  /** Also run against the handler alone (`--skip-edge-auth`). */
  readonly handler?: boolean;
}

function remember(a: Attempt, label: string): void {
  const values = [
    ...(Array.isArray(a.authorization) ? a.authorization : a.authorization ? [a.authorization] : []),
    ...(a.query ? [a.query] : []),
  ];
  for (const v of values) {
    const token = v.replace(/^\s*\S+\s+/, '').trim();
    if (token.length >= 16) secrets.token(label, token);
    if (v.trim().length >= 16) secrets.token(label, v.trim());
  }
}

async function call(
  gw: GatewayProcess,
  path: string,
  a: Attempt,
  opts: { method?: string; body?: string; label?: string } = {},
): Promise<RawResponse> {
  remember(a, opts.label ?? path);
  const headers: OutgoingHttpHeaders = a.authorization === undefined ? {} : { authorization: a.authorization as string };
  const res = await send(gw.url, `${path}${a.query ? `?${a.query}` : ''}`, {
    method: opts.method ?? 'POST',
    headers,
    body: opts.body ?? (opts.method === 'GET' ? undefined : BODY),
  });
  sent.get(gw)!.push(res.sessionId ?? '(none)');
  return res;
}

/** 401 in the OpenAI shape, nothing of a model answer, and exactly one record with `reason`. */
async function expectRefused(gw: GatewayProcess, res: RawResponse, reason: string): Promise<void> {
  expect({ status: res.status, code: errorCode(res), type: (jsonBody(res)?.error as { type?: string } | undefined)?.type }).toEqual({
    status: 401,
    code: 'invalid_token',
    type: 'authentication_error',
  });
  expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
  expect(jsonBody(res)?.data).toBeUndefined();
  expect(res.sessionId).toMatch(/^[0-9a-f-]{36}$/);
  const records = await recordsOf(gw.archiveDir, res.sessionId!);
  expect(records).toHaveLength(1);
  const r = records[0]!;
  expect(r.decision).toMatchObject({ status: 401, outcome: 'deny', reason });
  expect(r.upstream).toBeNull();
  expect(r.output).toBeNull();
  if (reason !== 'issuer_route_mismatch') expect(r.principal).toBeNull();
}

async function attack(gw: GatewayProcess, a: Attack): Promise<void> {
  const before = (await recordFiles(gw.archiveDir)).length;
  const res = await call(gw, `${a.prefix ?? ''}/v1/embeddings`, await a.build(), { label: a.name });
  await expectRefused(gw, res, a.reason);
  expect((await recordFiles(gw.archiveDir)).length).toBe(before + 1);
  expect(upstream.requests).toHaveLength(0);
}

// ---------------------------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------------------------

const ATTACKS: readonly Attack[] = [
  // --- algorithms ---------------------------------------------------------------------------
  {
    name: 'alg none, empty signature',
    reason: 'algorithm_not_allowed',
    handler: true,
    build: () => ({ authorization: bearer(unsignedToken(corpClaims(), { alg: 'none', typ: 'at+jwt' })) }),
  },
  {
    name: 'alg "None" (case variant) with the real kid',
    reason: 'algorithm_not_allowed',
    build: () => ({ authorization: bearer(unsignedToken(corpClaims(), { alg: 'None', kid: corpRsa.kid, typ: 'at+jwt' })) }),
  },
  {
    name: 'alg none header on a genuinely RS256-signed token',
    reason: 'algorithm_not_allowed',
    build: async () => ({
      authorization: bearer(signCompact(corpRsa, { alg: 'none', kid: corpRsa.kid, typ: 'at+jwt' }, corpClaims(), 'RS256')),
    }),
  },
  {
    name: 'HS256 keyed with the RSA public key (PEM)',
    reason: 'algorithm_not_allowed',
    handler: true,
    build: () => ({ authorization: bearer(keyConfusionToken(corpRsa, corpClaims(), { header: { typ: 'at+jwt' } })) }),
  },
  {
    name: 'HS256 keyed with the RSA public key (DER)',
    reason: 'algorithm_not_allowed',
    build: () => ({ authorization: bearer(keyConfusionToken(corpRsa, corpClaims(), { form: 'der', header: { typ: 'at+jwt' } })) }),
  },
  {
    name: 'HS512 keyed with the published JWK',
    reason: 'algorithm_not_allowed',
    build: () => ({
      authorization: bearer(keyConfusionToken(corpRsa, corpClaims(), { form: 'jwk-json', alg: 'HS512', header: { typ: 'at+jwt' } })),
    }),
  },
  {
    name: 'HS256 keyed with the EC public key, EC kid',
    reason: 'algorithm_not_allowed',
    build: () => ({ authorization: bearer(hmacToken(publicKeySecret(corpEc), corpClaims(), { kid: corpEc.kid, typ: 'at+jwt' })) }),
  },
  {
    name: 'RS/ES mismatch: ES256 header and EC kid over an RSA signature',
    reason: 'bad_signature',
    handler: true,
    build: () => ({ authorization: bearer(signCompact(corpRsa, { alg: 'ES256', kid: corpEc.kid, typ: 'at+jwt' }, corpClaims(), 'RS256')) }),
  },
  {
    name: 'RS/ES mismatch: RS256 header with the EC kid, EC signature',
    reason: 'unknown_key',
    build: () => ({ authorization: bearer(signCompact(corpEc, { alg: 'RS256', kid: corpEc.kid, typ: 'at+jwt' }, corpClaims(), 'ES256')) }),
  },
  {
    name: 'RS/ES mismatch: an ES256 token on the RS256-only partner issuer',
    reason: 'algorithm_not_allowed',
    prefix: '/partner',
    build: async () => ({ authorization: bearer(await signToken(corpEc, partnerClaims(), { kid: partnerRsa.kid })) }),
  },
  {
    name: 'PS256 with the corp RSA key (algorithm not on the list)',
    reason: 'algorithm_not_allowed',
    build: () => ({
      authorization: bearer(signCompact(corpRsa, { alg: 'PS256', kid: corpRsa.kid, typ: 'at+jwt' }, corpClaims(), 'PS256')),
    }),
  },
  // --- signatures and keys ---------------------------------------------------------------------
  {
    name: 'payload changed after signing (sub swapped)',
    reason: 'bad_signature',
    handler: true,
    build: async () => ({ authorization: bearer(tamperPayload(await corpToken(), (c) => ({ ...c, sub: 'svc-admin' }))) }),
  },
  {
    name: 'signature stripped',
    reason: 'bad_signature',
    build: async () => ({ authorization: bearer(`${(await segments()).slice(0, 2).join('.')}.`) }),
  },
  {
    name: 'signed by another key reusing the real kid',
    reason: 'bad_signature',
    build: async () => ({ authorization: bearer(await signToken(withKid(attacker, corpRsa.kid), corpClaims(), { typ: 'at+jwt' })) }),
  },
  {
    name: 'jwk header: the attacker key embedded in the token',
    reason: 'unknown_key',
    build: async () => ({ authorization: bearer(await signToken(attacker, corpClaims(), { typ: 'at+jwt', jwk: attacker.publicJwk })) }),
  },
  {
    name: 'jwk header with the real kid, attacker signature',
    reason: 'bad_signature',
    handler: true,
    build: async () => ({
      authorization: bearer(
        await signToken(withKid(attacker, corpRsa.kid), corpClaims(), { typ: 'at+jwt', jwk: { ...attacker.publicJwk, kid: corpRsa.kid } }),
      ),
    }),
  },
  {
    name: 'jku header pointing at the attacker JWKS',
    reason: 'unknown_key',
    build: async () => ({ authorization: bearer(await signToken(attacker, corpClaims(), { typ: 'at+jwt', jku: attackerIdp.jwksUri })) }),
  },
  {
    name: 'x5u header pointing at the attacker',
    reason: 'unknown_key',
    build: async () => ({
      authorization: bearer(await signToken(attacker, corpClaims(), { typ: 'at+jwt', x5u: `${attackerIdp.origin}/cert.pem` })),
    }),
  },
  {
    name: 'x5c header carrying the attacker key, real kid',
    reason: 'bad_signature',
    build: async () => ({
      authorization: bearer(
        await signToken(withKid(attacker, corpRsa.kid), corpClaims(), {
          typ: 'at+jwt',
          x5c: [Buffer.from(attacker.spkiDer).toString('base64')],
        }),
      ),
    }),
  },
  {
    name: 'crit with an unknown extension',
    reason: 'unsupported_token',
    handler: true,
    build: () => ({
      authorization: bearer(
        signCompact(
          corpRsa,
          { alg: 'RS256', kid: corpRsa.kid, typ: 'at+jwt', crit: ['urn:example:must-understand'], 'urn:example:must-understand': true },
          corpClaims(),
        ),
      ),
    }),
  },
  // --- claims ----------------------------------------------------------------------------------
  {
    name: 'expired',
    reason: 'token_expired',
    handler: true,
    build: async () => ({ authorization: bearer(await corpToken({ iat: nowS() - 7200, exp: nowS() - 3600 })) }),
  },
  {
    name: 'nbf an hour in the future',
    reason: 'token_not_yet_valid',
    build: async () => ({ authorization: bearer(await corpToken({ nbf: nowS() + 3600 })) }),
  },
  {
    name: 'iat an hour in the future',
    reason: 'token_issued_in_future',
    handler: true,
    build: async () => ({ authorization: bearer(await corpToken({ iat: nowS() + 3600, exp: nowS() + 7200 })) }),
  },
  { name: 'no exp', reason: 'missing_expiry', build: async () => ({ authorization: bearer(await corpToken({ exp: undefined })) }) },
  {
    name: 'untrusted iss',
    reason: 'untrusted_issuer',
    build: async () => ({ authorization: bearer(await corpToken({ iss: 'https://evil.example.com' })) }),
  },
  {
    name: 'iss with a trailing slash',
    reason: 'untrusted_issuer',
    handler: true,
    build: async () => ({ authorization: bearer(await corpToken({ iss: `${idpA.issuer}/` })) }),
  },
  {
    name: 'iss with an upper-case path',
    reason: 'untrusted_issuer',
    build: async () => ({ authorization: bearer(await corpToken({ iss: idpA.issuer.replace('/tenant-a', '/TENANT-A') })) }),
  },
  {
    name: 'iss with an upper-case scheme',
    reason: 'untrusted_issuer',
    build: async () => ({ authorization: bearer(await corpToken({ iss: idpA.issuer.replace('http://', 'HTTP://') })) }),
  },
  {
    name: 'iss as "localhost" instead of 127.0.0.1',
    reason: 'untrusted_issuer',
    build: async () => ({ authorization: bearer(await corpToken({ iss: idpA.issuer.replace('127.0.0.1', 'localhost') })) }),
  },
  { name: 'no iss', reason: 'missing_issuer', build: async () => ({ authorization: bearer(await corpToken({ iss: undefined })) }) },
  {
    name: 'wrong aud',
    reason: 'wrong_audience',
    handler: true,
    build: async () => ({ authorization: bearer(await corpToken({ aud: 'https://other-api.example.com' })) }),
  },
  {
    name: 'aud array without ours',
    reason: 'wrong_audience',
    build: async () => ({ authorization: bearer(await corpToken({ aud: ['https://a.example.com', `${AUD}/`, AUD.toUpperCase()] })) }),
  },
  { name: 'no aud', reason: 'wrong_audience', build: async () => ({ authorization: bearer(await corpToken({ aud: undefined })) }) },
  {
    name: 'no sub',
    reason: 'missing_subject',
    handler: true,
    build: async () => ({ authorization: bearer(await corpToken({ sub: undefined })) }),
  },
  { name: 'empty sub', reason: 'missing_subject', build: async () => ({ authorization: bearer(await corpToken({ sub: '' })) }) },
  {
    name: 'typ JWT where at+jwt is required (an ID token shape)',
    reason: 'wrong_token_type',
    build: async () => ({ authorization: bearer(await corpToken({}, { typ: 'JWT' })) }),
  },
  // --- cross-issuer confusion ------------------------------------------------------------------
  {
    name: 'partner token with the same sub on /v1 (corp routes)',
    reason: 'issuer_route_mismatch',
    handler: true,
    build: async () => ({ authorization: bearer(await partnerToken()) }),
  },
  {
    name: 'corp token on /partner/v1',
    reason: 'issuer_route_mismatch',
    prefix: '/partner',
    handler: true,
    build: async () => ({ authorization: bearer(await corpToken()) }),
  },
  {
    name: 'corp iss signed with the partner key (partner kid)',
    reason: 'unknown_key',
    build: async () => ({ authorization: bearer(await signToken(partnerRsa, corpClaims(), { typ: 'at+jwt' })) }),
  },
  {
    name: 'corp iss signed with the partner key under the corp kid',
    reason: 'bad_signature',
    build: async () => ({ authorization: bearer(await signToken(withKid(partnerRsa, corpRsa.kid), corpClaims(), { typ: 'at+jwt' })) }),
  },
  {
    name: 'partner iss signed with the corp key, on /partner/v1',
    reason: 'unknown_key',
    prefix: '/partner',
    build: async () => ({ authorization: bearer(await signToken(corpRsa, partnerClaims())) }),
  },
  // --- token format --------------------------------------------------------------------------
  {
    name: 'JWE instead of JWS',
    reason: 'jwe_not_accepted',
    handler: true,
    build: async () => ({ authorization: bearer(await jweToken(corpClaims(), { kid: corpRsa.kid })) }),
  },
  {
    name: 'two segments',
    reason: 'malformed_token',
    build: async () => ({ authorization: bearer((await segments()).slice(0, 2).join('.')) }),
  },
  { name: 'four segments', reason: 'malformed_token', build: async () => ({ authorization: bearer(`${(await segments()).join('.')}.x`) }) },
  {
    name: 'header segment is not JSON',
    reason: 'malformed_token',
    handler: true,
    build: async () => ({ authorization: bearer(`${b64url('alg=RS256')}.${(await segments()).slice(1).join('.')}`) }),
  },
  {
    name: 'payload segment is not JSON',
    reason: 'malformed_token',
    build: async () => {
      const [h, , s] = await segments();
      return { authorization: bearer(`${h}.${b64url('{"sub":')}.${s}`) };
    },
  },
  {
    name: 'base64url header with a stray padding character',
    reason: 'malformed_token',
    build: async () => {
      const [h, p, s] = await segments();
      return { authorization: bearer(`${h}=.${p}.${s}`) };
    },
  },
  {
    name: 'padded base64url header (decodes, but the signed bytes changed)',
    reason: 'bad_signature',
    build: async () => {
      const [h, p, s] = await segments();
      return { authorization: bearer(`${h}==.${p}.${s}`) };
    },
  },
  {
    name: 'signature in standard base64 (+ and /)',
    reason: 'invalid_token',
    build: async () => {
      // Re-sign until the signature's base64 holds a "+" or "/" (base64url and base64 then differ).
      for (;;) {
        const [h, p, s] = await segments();
        const std = Buffer.from(s, 'base64url').toString('base64');
        if (/[+/]/.test(std)) return { authorization: bearer(`${h}.${p}.${std}`) };
      }
    },
  },
  {
    name: 'oversized token (9,000 bytes)',
    reason: 'token_too_large',
    handler: true,
    build: async () => ({ authorization: bearer(`${(await segments()).join('.')}${'A'.repeat(9000)}`) }),
  },
  {
    name: 'oversized token (15,000 bytes, under the HTTP header limit)',
    reason: 'token_too_large',
    build: () => ({ authorization: bearer(`eyJ${'A'.repeat(15_000)}`) }),
  },
  // --- transport -----------------------------------------------------------------------------
  { name: 'no Authorization header', reason: 'missing_token', build: () => ({}) },
  { name: 'empty Authorization header', reason: 'missing_token', build: () => ({ authorization: '' }) },
  {
    name: 'two Authorization headers (both valid tokens)',
    reason: 'multiple_authorization_headers',
    handler: true,
    build: async () => ({ authorization: [bearer(await corpToken()), bearer(await corpToken())] }),
  },
  {
    name: 'two tokens comma-joined in one header',
    reason: 'multiple_authorization_headers',
    build: async () => ({ authorization: `${bearer(await corpToken())}, ${bearer(await corpToken())}` }),
  },
  {
    name: 'token in the query string (access_token)',
    reason: 'token_in_query',
    handler: true,
    build: async () => ({ query: `access_token=${await corpToken()}` }),
  },
  {
    name: 'token in the query string (api_key) beside a valid header',
    reason: 'token_in_query',
    build: async () => ({ authorization: bearer(await corpToken()), query: `model=remote&api_key=${await corpToken()}` }),
  },
  // --- scheme casing and whitespace: the refused side --------------------------------------
  {
    name: 'tab between scheme and token',
    reason: 'malformed_authorization',
    build: async () => ({ authorization: `Bearer\t${await corpToken()}` }),
  },
  {
    name: 'no space between scheme and token',
    reason: 'malformed_authorization',
    build: async () => ({ authorization: `Bearer${await corpToken()}` }),
  },
  { name: 'scheme only', reason: 'malformed_authorization', build: () => ({ authorization: 'Bearer' }) },
  {
    name: 'bare token without a scheme',
    reason: 'malformed_authorization',
    handler: true,
    build: async () => ({ authorization: await corpToken() }),
  },
  {
    name: 'Basic scheme',
    reason: 'malformed_authorization',
    build: () => ({ authorization: `Basic ${Buffer.from(`${SUB}:client-secret-value`).toString('base64')}` }),
  },
  { name: '"Token" scheme', reason: 'malformed_authorization', build: async () => ({ authorization: `Token ${await corpToken()}` }) },
  { name: 'quoted token', reason: 'malformed_authorization', build: async () => ({ authorization: `Bearer "${await corpToken()}"` }) },
  {
    name: 'token followed by another word',
    reason: 'malformed_authorization',
    build: async () => ({ authorization: `Bearer ${await corpToken()} extra` }),
  },
];

describe(`adversarial tokens at the emulated edge (${ATTACKS.length} cases): 401, one record with the reason, nothing upstream`, () => {
  it.each(ATTACKS)('$name → $reason', async (a) => {
    await attack(edge, a);
  });

  // Node's HTTP parser answers such a request before the handler runs; the dev runtime records it
  // as an edge rejection (in AWS, API Gateway answers it and the edge recorder records it).
  it('a token over the HTTP header limit (20,000 bytes) is refused AND recorded', async () => {
    const res = await call(edge, '/v1/embeddings', { authorization: bearer(`eyJ${'A'.repeat(20_000)}`) });
    expect(res.status).toBe(431);
    expect(res.sessionId).toBeDefined();
    expect(await recordsOf(edge.archiveDir, res.sessionId!)).toHaveLength(1);
  });

  it('never asked the attacker JWKS (jku, x5u) or anything but the configured key sets', () => {
    expect(attackerIdp.count()).toBe(0);
    expect(idpA.requests.every((r) => r.endpoint === 'jwks')).toBe(true);
    expect(idpB.requests.every((r) => r.endpoint === 'jwks')).toBe(true);
  });
});

describe('Bearer scheme casing and whitespace: the accepted side', () => {
  // By design: the scheme is case-insensitive (RFC 9110 auth-scheme), one or more spaces separate
  // it from the token, and optional whitespace around the header value is HTTP's, not ours.
  const ACCEPTED: readonly [string, (t: string) => string][] = [
    ['lower-case "bearer"', (t) => `bearer ${t}`],
    ['upper-case "BEARER"', (t) => `BEARER ${t}`],
    ['mixed-case "bEaReR"', (t) => `bEaReR ${t}`],
    ['three spaces before the token', (t) => `Bearer   ${t}`],
    ['whitespace around the header value', (t) => `  Bearer ${t}  `],
  ];
  it.each(ACCEPTED)('%s is accepted', async (_name, shape) => {
    const res = await call(edge, '/v1/models', { authorization: shape(await corpToken()) }, { method: 'GET' });
    expect(res.status).toBe(200);
    const [r] = await recordsOf(edge.archiveDir, res.sessionId!);
    expect(r!.decision).toMatchObject({ status: 200, reason: 'models_listed' });
    expect(r!.principal).toMatchObject({ issuer_id: 'corp', subject: SUB });
  });
});

describe('unknown kid: one JWKS refetch, then fail; no refetch storm', () => {
  const unknownKidToken = async (kid: string) => bearer(await signToken(withKid(attacker, kid), corpClaims(), { typ: 'at+jwt' }));

  it('refetches the corp key set exactly once for an unknown kid (after the cooldown), then refuses it', async () => {
    expect((await call(edge, '/v1/models', { authorization: bearer(await corpToken()) }, { method: 'GET' })).status).toBe(200);
    await edge.advanceClock(COOLDOWN_MS + 1000);
    idpA.resetCounts();
    await attack(edge, {
      name: 'unknown kid',
      reason: 'unknown_key',
      build: async () => ({ authorization: await unknownKidToken('made-up-kid-0') }),
    });
    expect(idpA.count('jwks')).toBe(1);
  });

  it('a flood of 50 made-up kids within the cooldown fetches nothing more; each gets 401 and one record', async () => {
    idpA.resetCounts();
    const before = (await recordFiles(edge.archiveDir)).length;
    const flood = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => call(edge, '/v1/embeddings', { authorization: await unknownKidToken(`flood-a-${i}`) })),
    );
    for (const res of flood) await expectRefused(edge, res, 'unknown_key');
    expect(new Set(flood.map((r) => r.sessionId)).size).toBe(50);
    expect((await recordFiles(edge.archiveDir)).length).toBe(before + 50);
    expect(idpA.count('jwks')).toBe(0);
    expect(upstream.requests).toHaveLength(0);
  });

  it('a flood of 50 made-up kids right after the cooldown causes exactly one fetch', async () => {
    await edge.advanceClock(COOLDOWN_MS + 1000);
    idpA.resetCounts();
    const flood = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => call(edge, '/v1/embeddings', { authorization: await unknownKidToken(`flood-b-${i}`) })),
    );
    for (const res of flood) await expectRefused(edge, res, 'unknown_key');
    expect(idpA.count('jwks')).toBe(1);
  });

  it('a key rotated in at the IdP is refused during the cooldown, then picked up with one fetch', async () => {
    const next = await generateTestKey('RS256', { kid: 'corp-rsa-2' });
    idpA.addKey(next);
    idpA.resetCounts();
    const rotated = async () => bearer(await signToken(next, corpClaims(), { typ: 'at+jwt' }));
    await attack(edge, {
      name: 'rotated key during cooldown',
      reason: 'unknown_key',
      build: async () => ({ authorization: await rotated() }),
    });
    expect(idpA.count('jwks')).toBe(0);
    await edge.advanceClock(COOLDOWN_MS + 1000);
    const ok = await call(edge, '/v1/models', { authorization: await rotated() }, { method: 'GET' });
    expect(ok.status).toBe(200);
    expect(idpA.count('jwks')).toBe(1);
  });
});

describe('privilege escalation through claims: only the configured claims, matched literally, of the right issuer', () => {
  const restricted = JSON.stringify({ model: 'restricted-local', input: 'x' });
  const CASES: readonly [string, number, () => Promise<{ path: string; token: string }>][] = [
    [
      'a "*" group does not match the rule\'s "admins"',
      403,
      async () => ({ path: '', token: await corpToken({ groups: ['*'], scope: 'embeddings:admin' }) }),
    ],
    [
      'an "admins*" group does not match "admins"',
      403,
      async () => ({ path: '', token: await corpToken({ groups: ['admins*'], scope: 'embeddings:admin' }) }),
    ],
    [
      '"admins" in a claim that is not configured as groups (roles)',
      403,
      async () => ({ path: '', token: await corpToken({ roles: ['admins'], scope: 'embeddings:admin' }) }),
    ],
    [
      'groups as an object with an "admins" key',
      403,
      async () => ({ path: '', token: await corpToken({ groups: { admins: true }, scope: 'embeddings:admin' }) }),
    ],
    [
      'a wildcard scope "embeddings:*"',
      403,
      async () => ({ path: '', token: await corpToken({ groups: ['admins'], scope: 'embeddings:*' }) }),
    ],
    [
      'the same groups and scopes from the partner issuer',
      403,
      async () => ({ path: '/partner', token: await partnerToken({ groups: ['admins'], scope: 'embeddings:admin' }) }),
    ],
    [
      'control: corp, group admins, scope embeddings:admin',
      200,
      async () => ({ path: '', token: await corpToken({ groups: ['admins'], scope: 'embeddings:admin' }) }),
    ],
  ];
  it.each(CASES)('%s → %d', async (_name, status, make) => {
    const { path, token } = await make();
    const res = await call(edge, `${path}/v1/embeddings`, { authorization: bearer(token) }, { body: restricted });
    expect(res.status).toBe(status);
    const [r] = await recordsOf(edge.archiveDir, res.sessionId!);
    expect(r!.decision).toMatchObject(
      status === 200 ? { reason: 'rule_allow', rule_id: 'admins' } : { status: 403, reason: 'no_matching_rule', rule_id: null },
    );
  });
});

describe('the same attacks against the handler alone (--skip-edge-auth)', () => {
  const subset = ATTACKS.filter((a) => a.handler);

  it('runs at least a dozen cases', () => {
    expect(subset.length).toBeGreaterThanOrEqual(12);
  });

  it.each(subset)('$name → $reason', async (a) => {
    await attack(handlerOnly, a);
  });

  it('an unknown kid is refused, and a flood of them within the cooldown fetches nothing', async () => {
    expect((await call(handlerOnly, '/v1/models', { authorization: bearer(await corpToken()) }, { method: 'GET' })).status).toBe(200);
    idpA.resetCounts();
    const flood = await Promise.all(
      Array.from({ length: 30 }, async (_, i) =>
        call(handlerOnly, '/v1/embeddings', {
          authorization: bearer(await signToken(withKid(attacker, `h-flood-${i}`), corpClaims(), { typ: 'at+jwt' })),
        }),
      ),
    );
    for (const res of flood) await expectRefused(handlerOnly, res, 'unknown_key');
    // This process fetched the key set moments ago (real time: at most one refetch if a slow
    // machine took longer than the cooldown), never once per token.
    expect(idpA.count('jwks')).toBeLessThanOrEqual(1);
  });

  it('the cross-issuer refusal still knows who it refused (the handler verified the token first)', async () => {
    const res = await call(handlerOnly, '/v1/embeddings', { authorization: bearer(await partnerToken()) });
    const [r] = await recordsOf(handlerOnly.archiveDir, res.sessionId!);
    expect(r!.decision.reason).toBe('issuer_route_mismatch');
    expect(r!.principal).toMatchObject({ issuer_id: 'partner', subject: SUB });
  });
});

describe('afterwards', () => {
  it('no attack reached the upstream; an honest token does, with the gateway key and never the token', async () => {
    expect(upstream.requests).toHaveLength(0);
    const token = await corpToken();
    const res = await call(edge, '/v1/embeddings', { authorization: bearer(token) });
    expect(res.status).toBe(200);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]!.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(JSON.stringify(upstream.requests[0]!.headers)).not.toContain(token.split('.')[2]);
  });

  it.each([
    ['edge', () => edge],
    ['handler-only', () => handlerOnly],
  ] as const)('%s process: exactly one record per request, under the session id the client saw', async (_name, gw) => {
    const ids = sent.get(gw())!;
    expect(ids).not.toContain('(none)');
    expect(new Set(ids).size).toBe(ids.length);
    const records = await readLocalArchive(gw().archiveDir);
    expect(records.map((r) => r.session_id).sort()).toEqual([...ids].sort());
    expect(gw().alive()).toBe(true);
  });

  it('no token, signature or upstream key in any log line or record', async () => {
    expect(secrets.size).toBeGreaterThan(ATTACKS.length);
    const haystacks = [
      { name: 'edge output', text: edge.output() },
      { name: 'handler-only output', text: handlerOnly.output() },
      { name: 'edge records', text: await archiveText(edge.archiveDir) },
      { name: 'handler-only records', text: await archiveText(handlerOnly.archiveDir) },
    ];
    expect(findLeaks(haystacks, secrets)).toEqual([]);
  });
});
