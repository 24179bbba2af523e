/**
 * The verified-token cache of `TokenVerifier`: a token presented again skips the signature check
 * only while the key set that verified it is the issuer's current, fresh one, and its claims
 * (expiry, nbf, iat, token age) are checked again on every request, with exactly the outcome a
 * verifier without the cache gives. Real jose, real local JWKS servers; token time through `now`.
 */
import * as fc from 'fast-check';
import { loadConfig } from '../../shared/config';
import type { GatewayConfigInput } from '../../shared/config';
import { GatewayError } from '../../lambda/core/errors';
import { Gateway } from '../../lambda/core/gateway';
import { TokenVerifier, type VerifierOptions } from '../../lambda/core/identity';
import { networkKeySetFetch } from '../../lambda/adapters/network/key-set-fetch';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';
import { generateTestKey, signToken, sleep, startJwksServer, tamperPayload, type JwksServer, type TestKey } from '../support/jwks';

const NOW_S = 1_893_456_000; // 2030-01-01T00:00:00Z
const AUD = 'https://embedgate.test/api';
const TOLERANCE = 30;

type IssuerInput = GatewayConfigInput['issuers'][number];
type Outcome = 'accepted' | string;

let key: TestKey;
let idp: JwksServer;
let clock = NOW_S * 1000;
const servers: JwksServer[] = [];

beforeAll(async () => {
  key = await generateTestKey('RS256', { kid: 'cache-rs256' });
  idp = await startJwksServer({ keys: [key] });
  servers.push(idp);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});
beforeEach(() => {
  clock = NOW_S * 1000;
});
afterEach(() => jest.restoreAllMocks());

const issuer = (over: Partial<IssuerInput> = {}): IssuerInput => ({
  id: 'idp',
  issuer: idp.issuer,
  audiences: [AUD],
  jwksUri: idp.jwksUri,
  algorithms: ['RS256'],
  clockToleranceSeconds: TOLERANCE,
  ...over,
});
function verifier(over: Partial<IssuerInput> = {}, opts: Partial<VerifierOptions> = {}): TokenVerifier {
  const config = loadConfig({ issuers: [issuer(over)], models: [{ name: 'm', provider: 'local' }], policy: { rules: [] } });
  return new TokenVerifier(config, { now: () => clock, fetchTimeoutMs: 2000, fetch: networkKeySetFetch, ...opts });
}
const claims = (over: Record<string, unknown> = {}) =>
  Object.fromEntries(
    Object.entries({ iss: idp.issuer, aud: AUD, sub: 'svc', iat: NOW_S - 10, exp: NOW_S + 300, ...over }).filter(
      ([, v]) => v !== undefined,
    ),
  );

async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    if (!(e instanceof GatewayError)) throw e;
    expect(e.status).toBe(401);
    return e.reason;
  }
}

/** Counts signature checks (jose verifies with WebCrypto). */
const signatureChecks = () => jest.spyOn(globalThis.crypto.subtle, 'verify');

describe('verified-token cache', () => {
  it('checks the signature once for a token presented again, and returns the same principal', async () => {
    const v = verifier();
    const checks = signatureChecks();
    const token = await signToken(key, claims({ groups: ['a'], jti: 't-1' }));
    const first = await v.verify(token);
    const again = await v.verify(token);
    expect(again).toEqual(first);
    expect(checks).toHaveBeenCalledTimes(1);
    expect(Object.isFrozen(again) && Object.isFrozen(again.groups)).toBe(true);
  });

  it('checks every time when the cache is off (verifiedTokenCacheSize 0)', async () => {
    const v = verifier({}, { verifiedTokenCacheSize: 0 });
    const checks = signatureChecks();
    const token = await signToken(key, claims());
    await v.verify(token);
    await v.verify(token);
    expect(checks).toHaveBeenCalledTimes(2);
  });

  it('still enforces exp per request: a cached token is refused once it expires (tolerance exact)', async () => {
    const v = verifier();
    const token = await signToken(key, claims({ exp: NOW_S + 60 }));
    expect(await outcome(v.verify(token))).toBe('accepted');
    clock = (NOW_S + 60 + TOLERANCE - 1) * 1000 + 999;
    expect(await outcome(v.verify(token))).toBe('accepted');
    clock = (NOW_S + 60 + TOLERANCE) * 1000;
    expect(await outcome(v.verify(token))).toBe('token_expired');
    // Still refused afterwards (the entry is gone; the full check refuses it too).
    expect(await outcome(v.verify(token))).toBe('token_expired');
  });

  it('still enforces nbf and iat per request if the clock goes back', async () => {
    const v = verifier({ maxTokenAgeSeconds: 600 });
    const token = await signToken(key, claims({ nbf: NOW_S, iat: NOW_S }));
    expect(await outcome(v.verify(token))).toBe('accepted');
    clock = (NOW_S - TOLERANCE - 1) * 1000;
    expect(await outcome(v.verify(token))).toBe('token_not_yet_valid');
    const noNbf = await signToken(key, claims({ iat: NOW_S }));
    clock = NOW_S * 1000;
    expect(await outcome(v.verify(noNbf))).toBe('accepted');
    clock = (NOW_S - TOLERANCE - 1) * 1000;
    expect(await outcome(v.verify(noNbf))).toBe('token_issued_in_future');
  });

  it('still enforces maxTokenAgeSeconds per request', async () => {
    const v = verifier({ maxTokenAgeSeconds: 600 });
    const token = await signToken(key, claims({ iat: NOW_S, exp: NOW_S + 3600 }));
    expect(await outcome(v.verify(token))).toBe('accepted');
    clock = (NOW_S + 600 + TOLERANCE) * 1000;
    expect(await outcome(v.verify(token))).toBe('accepted');
    clock = (NOW_S + 600 + TOLERANCE + 1) * 1000;
    expect(await outcome(v.verify(token))).toBe('token_too_old');
  });

  it('gives the outcome of a verifier without cache at any later time (property)', async () => {
    const withCache = verifier({ maxTokenAgeSeconds: 900 });
    const without = verifier({ maxTokenAgeSeconds: 900 }, { verifiedTokenCacheSize: 0 });
    await fc.assert(
      fc.asyncProperty(
        // iat is required with maxTokenAgeSeconds; nbf optional.
        fc.record({
          nbf: fc.option(fc.integer({ min: -200, max: 0 }), { nil: undefined }),
          iat: fc.integer({ min: -600, max: 0 }),
          exp: fc.integer({ min: 1, max: 1200 }),
        }),
        fc.array(
          fc.oneof(
            fc.integer({ min: -1300, max: 2500 }),
            fc.constantFrom(-TOLERANCE - 1, -TOLERANCE, TOLERANCE - 1, TOLERANCE, TOLERANCE + 1, 900 + TOLERANCE, 900 + TOLERANCE + 1),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        async (t, later) => {
          clock = NOW_S * 1000;
          const token = await signToken(
            key,
            claims({ nbf: t.nbf === undefined ? undefined : NOW_S + t.nbf, iat: NOW_S + t.iat, exp: NOW_S + t.exp }),
          );
          // Valid now by construction: remembered.
          expect(await outcome(withCache.verify(token))).toBe('accepted');
          for (const offset of later) {
            // Offsets are relative to each claim boundary too: exp, nbf and iat.
            for (const base of [0, t.exp, t.nbf ?? 0, t.iat]) {
              clock = (NOW_S + base + offset) * 1000;
              expect(await outcome(withCache.verify(token))).toBe(await outcome(without.verify(token)));
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('never lets a different token string through because a similar one was remembered', async () => {
    const v = verifier();
    const token = await signToken(key, claims({ sub: 'svc' }));
    expect(await outcome(v.verify(token))).toBe('accepted');
    expect(await outcome(v.verify(tamperPayload(token, (c) => ({ ...c, sub: 'admin' }))))).toBe('bad_signature');
    const [h, p, sig] = token.split('.');
    expect(await outcome(v.verify(`${h}.${p}.${sig!.slice(0, -2)}AA`))).toBe('bad_signature');
  });

  it('re-verifies remembered tokens after a key rotation: a rotated-out key no longer verifies', async () => {
    const server = await startJwksServer({ keys: [key] });
    servers.push(server);
    const next = await generateTestKey('RS256', { kid: 'cache-next' });
    const v = verifier({ jwksUri: server.jwksUri }, { jwksCooldownMs: 300 });
    const oldToken = await signToken(key, claims());
    expect(await outcome(v.verify(oldToken))).toBe('accepted');
    expect(await outcome(v.verify(oldToken))).toBe('accepted');
    server.rotate(next);
    await sleep(350);
    // A token with the new kid makes the verifier refetch; the old key is gone from the new set.
    expect(await outcome(v.verify(await signToken(next, claims())))).toBe('accepted');
    expect(server.count('jwks')).toBe(2);
    expect(await outcome(v.verify(oldToken))).toBe('unknown_key');
  });

  it('does not use remembered tokens once the key set is past its maximum age (refetch first)', async () => {
    const server = await startJwksServer({ keys: [key] });
    servers.push(server);
    const v = verifier({ jwksUri: server.jwksUri }, { jwksMaxAgeMs: 200 });
    const token = await signToken(key, claims());
    expect(await outcome(v.verify(token))).toBe('accepted');
    const checks = signatureChecks();
    await sleep(250);
    expect(await outcome(v.verify(token))).toBe('accepted');
    expect(server.count('jwks')).toBe(2);
    expect(checks).toHaveBeenCalledTimes(1);
    // Fresh again: remembered.
    expect(await outcome(v.verify(token))).toBe('accepted');
    expect(checks).toHaveBeenCalledTimes(1);
  });

  it('with the JWKS endpoint down past the maximum age: stale keys keep verifying (stale-if-error), each time in full, never remembered', async () => {
    const server = await startJwksServer({ keys: [key] });
    servers.push(server);
    const v = verifier({ jwksUri: server.jwksUri }, { jwksMaxAgeMs: 200, jwksCooldownMs: 100, jwksMaxStaleMs: 60_000 });
    const token = await signToken(key, claims());
    expect(await outcome(v.verify(token))).toBe('accepted');
    server.setBehaviour({ kind: 'status', status: 503 }, 'jwks');
    await sleep(250);
    const checks = signatureChecks();
    for (let i = 0; i < 3; i++) expect(await outcome(v.verify(token))).toBe('accepted');
    expect(checks).toHaveBeenCalledTimes(3);
    // A token never seen before also verifies with the stale keys, and is not remembered either.
    const other = await signToken(key, claims({ sub: 'svc-2' }));
    expect(await outcome(v.verify(other))).toBe('accepted');
    expect(await outcome(v.verify(other))).toBe('accepted');
    expect(checks).toHaveBeenCalledTimes(5);
  });

  it('is bounded: the oldest entry goes first', async () => {
    const v = verifier({}, { verifiedTokenCacheSize: 2 });
    const tokens = await Promise.all(['a', 'b', 'c'].map((sub) => signToken(key, claims({ sub }))));
    for (const t of tokens) await v.verify(t);
    const checks = signatureChecks();
    await v.verify(tokens[2]!);
    await v.verify(tokens[1]!);
    expect(checks).toHaveBeenCalledTimes(0);
    await v.verify(tokens[0]!);
    expect(checks).toHaveBeenCalledTimes(1);
  });

  it('does not bypass revocation: a remembered token is refused once its token id or subject is revoked', async () => {
    const config = loadConfig({
      issuers: [issuer()],
      models: [{ name: 'm', provider: 'local' }],
      policy: { rules: [{ id: 'all', effect: 'allow', match: {}, models: '*' }] },
    });
    const revocations = new InMemoryRevocationList({ now: () => clock });
    const gateway = new Gateway({
      config,
      verifier: new TokenVerifier(config, { now: () => clock, fetch: networkKeySetFetch }),
      provider: () => ({ kind: 'x', embed: async () => Promise.reject(new Error('not called')) }),
      revocations,
      archive: { put: async (r) => ({ key: r.session_id }) },
      clock: { now: () => clock },
      ids: { sessionId: () => 's' },
    });
    const token = await signToken(key, claims({ jti: 'tok-9', sub: 'svc-9' }));
    const models = () =>
      gateway.handle({
        method: 'GET',
        path: '/v1/models',
        headers: { authorization: `Bearer ${token}` },
        rawQueryString: '',
        body: undefined,
        isBase64Encoded: false,
        requestId: null,
        sourceIp: null,
      });
    const checks = signatureChecks();
    expect((await models()).response.status).toBe(200);
    expect((await models()).response.status).toBe(200);
    expect(checks).toHaveBeenCalledTimes(1);
    await revocations.put({
      kind: 'token',
      value: 'tok-9',
      issuer: idp.issuer,
      reason: null,
      until: null,
      createdAt: clock,
      createdBy: 'test',
    });
    expect((await models()).record.decision).toMatchObject({ status: 403, reason: 'revoked_token' });
    await revocations.delete('token', 'tok-9', idp.issuer);
    expect((await models()).response.status).toBe(200);
    await revocations.put({
      kind: 'subject',
      value: 'svc-9',
      issuer: null,
      reason: null,
      until: null,
      createdAt: clock,
      createdBy: 'test',
    });
    expect((await models()).record.decision).toMatchObject({ status: 403, reason: 'revoked_subject' });
    expect(checks).toHaveBeenCalledTimes(1);
  });
});
