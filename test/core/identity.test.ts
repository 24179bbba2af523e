/**
 * Identity: bearer-token extraction and token verification against real local JWKS / discovery
 * servers (test/support/jwks.ts), with jose unmocked. Every rejection is asserted as a 401 with its
 * exact reason code. Token time is controlled with the verifier's `now` option (tokens live in
 * 2030, so a verifier that ignored `now` would see them differently); JWKS cooldowns are real time.
 */
import { loadConfig } from '../../shared/config';
import type { GatewayConfigInput } from '../../shared/config';
import { GatewayError } from '../../lambda/core/errors';
import { extractBearerToken, TokenVerifier } from '../../lambda/core/identity';
import { networkKeySetFetch } from '../../lambda/adapters/network/key-set-fetch';
import type { TokenSource, VerifierOptions } from '../../lambda/core/identity';
import {
  decodeToken,
  generateTestKey,
  jweToken,
  keyConfusionToken,
  signCompact,
  signToken,
  sleep,
  startJwksServer,
  tamperPayload,
  unsignedToken,
  withKid,
} from '../support/jwks';
import type { EndpointBehaviour, JwksServer, PublicKeySecretForm, TestKey } from '../support/jwks';

const NOW_S = 1_893_456_000; // 2030-01-01T00:00:00Z
const now = () => NOW_S * 1000;
const AUD = 'https://embedgate.test/api';
const TOLERANCE = 30;
const MAX_TOKEN_BYTES = 512;

type IssuerInput = GatewayConfigInput['issuers'][number];

function configWith(issuers: IssuerInput[]) {
  return loadConfig({ issuers, models: [{ name: 'test-model', provider: 'local' }], policy: { rules: [] } });
}

function verifierFor(issuers: IssuerInput[], opts: Partial<VerifierOptions> = {}): TokenVerifier {
  return new TokenVerifier(configWith(issuers), { now, fetchTimeoutMs: 2000, fetch: networkKeySetFetch, ...opts });
}

type Outcome = 'accepted' | { status: number; reason: string };

/** The outcome of a verification: 'accepted', or the GatewayError's status and reason. */
async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    if (!(e instanceof GatewayError)) throw e;
    return { status: e.status, reason: e.reason };
  }
}

function syncOutcome(f: () => unknown): Outcome {
  try {
    f();
    return 'accepted';
  } catch (e) {
    if (!(e instanceof GatewayError)) throw e;
    return { status: e.status, reason: e.reason };
  }
}

const rejected = (reason: string): Outcome => ({ status: 401, reason });

/** Claims without `undefined` members (so overrides can remove a claim). */
function defined(c: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
}

// -----------------------------------------------------------------------------------------------
// extractBearerToken
// -----------------------------------------------------------------------------------------------

describe('extractBearerToken', () => {
  const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
  const extract = (req: TokenSource) => syncOutcome(() => extractBearerToken(req, MAX_TOKEN_BYTES));

  it('returns the token of a single "Authorization: Bearer <token>" header', () => {
    expect(extractBearerToken({ headers: { authorization: `Bearer ${TOKEN}` } }, MAX_TOKEN_BYTES)).toBe(TOKEN);
  });

  it('rejects a request without a token: missing_token', () => {
    expect(extract({ headers: {} })).toEqual(rejected('missing_token'));
    expect(extract({ headers: { authorization: '' } })).toEqual(rejected('missing_token'));
    expect(extract({ headers: { authorization: '   ' } })).toEqual(rejected('missing_token'));
  });

  it.each(['access_token', 'token', 'id_token', 'api_key', 'ACCESS_TOKEN'])(
    'rejects credentials in the query string (%s=), even with a valid header: token_in_query',
    (param) => {
      expect(extract({ headers: { authorization: `Bearer ${TOKEN}` }, rawQueryString: `a=1&${param}=${TOKEN}` })).toEqual(
        rejected('token_in_query'),
      );
      expect(extract({ headers: {}, rawQueryString: `${param}=${TOKEN}` })).toEqual(rejected('token_in_query'));
    },
  );

  it('ignores unrelated query parameters', () => {
    expect(extractBearerToken({ headers: { authorization: `Bearer ${TOKEN}` }, rawQueryString: 'model=x&tokens=3' }, MAX_TOKEN_BYTES)).toBe(
      TOKEN,
    );
  });

  it('rejects two Authorization headers joined with a comma: multiple_authorization_headers', () => {
    expect(extract({ headers: { authorization: `Bearer ${TOKEN},Bearer ${TOKEN}` } })).toEqual(rejected('multiple_authorization_headers'));
    expect(extract({ headers: { authorization: `Bearer ${TOKEN}, Basic dXNlcjpwYXNz` } })).toEqual(
      rejected('multiple_authorization_headers'),
    );
  });

  it.each([
    ['the Basic scheme', 'Basic dXNlcjpwYXNzd29yZA=='],
    ['a bare token without scheme', TOKEN],
    ['another scheme', `Token ${TOKEN}`],
    ['"Bearer" with no token', 'Bearer'],
    ['"Bearer" glued to the token', `Bearer${TOKEN}`],
    ['two tokens after Bearer', `Bearer ${TOKEN} ${TOKEN}`],
    ['characters outside the token alphabet', 'Bearer abc.def.g"h'],
  ])('rejects %s: malformed_authorization', (_what, header) => {
    expect(extract({ headers: { authorization: header } })).toEqual(rejected('malformed_authorization'));
  });

  it('accepts the scheme in any case and extra spaces around the token', () => {
    for (const header of [`bearer ${TOKEN}`, `BEARER ${TOKEN}`, `Bearer    ${TOKEN}`, `Bearer ${TOKEN}   `, `bearer  ${TOKEN}  `]) {
      expect(extractBearerToken({ headers: { authorization: header } }, MAX_TOKEN_BYTES)).toBe(TOKEN);
    }
  });

  it('rejects a token larger than maxTokenBytes: token_too_large (exactly maxTokenBytes is accepted)', () => {
    const ofLength = (n: number) => 'a'.repeat(n);
    expect(extractBearerToken({ headers: { authorization: `Bearer ${ofLength(MAX_TOKEN_BYTES)}` } }, MAX_TOKEN_BYTES)).toBe(
      ofLength(MAX_TOKEN_BYTES),
    );
    expect(extract({ headers: { authorization: `Bearer ${ofLength(MAX_TOKEN_BYTES + 1)}` } })).toEqual(rejected('token_too_large'));
    expect(extract({ headers: { authorization: `Bearer ${ofLength(100 * MAX_TOKEN_BYTES)}` } })).toEqual(rejected('token_too_large'));
  });
});

// -----------------------------------------------------------------------------------------------
// TokenVerifier
// -----------------------------------------------------------------------------------------------

describe('TokenVerifier.verify', () => {
  let rsa: TestKey; // issuer A, RS256
  let ec: TestKey; // issuer A, ES256
  let ed: TestKey; // issuer A, EdDSA
  let rsaB: TestKey; // issuer B
  let attacker: TestKey; // published nowhere
  let impostor: TestKey; // different key material, same kid as `rsa`
  let idpA: JwksServer;
  let idpB: JwksServer;
  let issuerA: IssuerInput;
  let issuerB: IssuerInput;
  let verifier: TokenVerifier;
  const servers: JwksServer[] = [];

  const claimsA = (overrides: Record<string, unknown> = {}) =>
    defined({ iss: idpA.issuer, aud: AUD, sub: 'svc-ml', iat: NOW_S - 10, exp: NOW_S + 300, ...overrides });

  async function server(...args: Parameters<typeof startJwksServer>): Promise<JwksServer> {
    const s = await startJwksServer(...args);
    servers.push(s);
    return s;
  }

  beforeAll(async () => {
    [rsa, ec, ed, rsaB, attacker] = await Promise.all([
      generateTestKey('RS256', { kid: 'a-rs256' }),
      generateTestKey('ES256', { kid: 'a-es256' }),
      generateTestKey('EdDSA', { kid: 'a-eddsa' }),
      generateTestKey('RS256', { kid: 'b-rs256' }),
      generateTestKey('RS256', { kid: 'attacker' }),
    ]);
    impostor = await generateTestKey('RS256', { kid: rsa.kid });
    idpA = await server({ keys: [rsa, ec, ed], issuerPath: '/realms/Main' });
    idpB = await server({ keys: [rsaB], issuerPath: '/b' });
    issuerA = {
      id: 'idp-a',
      issuer: idpA.issuer,
      audiences: [AUD, 'https://other-gateway.test'],
      jwksUri: idpA.jwksUri,
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      clockToleranceSeconds: TOLERANCE,
      claims: { groups: ['groups', 'cognito:groups', 'realm_access.roles'] },
    };
    issuerB = {
      id: 'idp-b',
      issuer: idpB.issuer,
      audiences: [AUD],
      jwksUri: idpB.jwksUri,
      algorithms: ['RS256'],
      clockToleranceSeconds: TOLERANCE,
    };
    verifier = verifierFor([issuerA, issuerB]);
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  // --- the happy path ------------------------------------------------------------------------

  it('maps a valid RS256 token to the Principal (issuer, subject, client, groups, scopes, jti, exp)', async () => {
    const token = await signToken(
      rsa,
      claimsA({
        client_id: 'svc-ml-client',
        azp: 'not-preferred',
        groups: ['ml-team'],
        'cognito:groups': ['admins', 'ml-team'],
        realm_access: { roles: ['embedder'] },
        scope: 'embed  models:read',
        scp: ['embed:admin', 'embed'],
        jti: 'tok-0001',
      }),
    );
    await expect(verifier.verify(token)).resolves.toEqual({
      issuerId: 'idp-a',
      issuer: idpA.issuer,
      subject: 'svc-ml',
      clientId: 'svc-ml-client',
      groups: ['ml-team', 'admins', 'embedder'],
      scopes: ['embed', 'models:read', 'embed:admin'],
      tokenId: 'tok-0001',
      expiresAt: NOW_S + 300,
    });
  });

  it('takes clientId from azp when client_id is absent, and leaves absent facts empty', async () => {
    const token = await signToken(rsa, claimsA({ azp: 'svc-azp' }));
    await expect(verifier.verify(token)).resolves.toEqual({
      issuerId: 'idp-a',
      issuer: idpA.issuer,
      subject: 'svc-ml',
      clientId: 'svc-azp',
      groups: [],
      scopes: [],
      tokenId: null,
      expiresAt: NOW_S + 300,
    });
  });

  it('accepts ES256 and EdDSA tokens when the issuer allows them', async () => {
    await expect(verifier.verify(await signToken(ec, claimsA({ sub: 'svc-ec' })))).resolves.toMatchObject({
      issuerId: 'idp-a',
      subject: 'svc-ec',
    });
    await expect(verifier.verify(await signToken(ed, claimsA({ sub: 'svc-ed' })))).resolves.toMatchObject({
      issuerId: 'idp-a',
      subject: 'svc-ed',
    });
  });

  it('accepts an aud array that contains one of our audiences', async () => {
    const token = await signToken(rsa, claimsA({ aud: ['https://someone-else.test', AUD] }));
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'svc-ml' });
  });

  // --- time ---------------------------------------------------------------------------------

  it('rejects an expired token: token_expired', async () => {
    const token = await signToken(rsa, claimsA({ iat: NOW_S - 3600, exp: NOW_S - TOLERANCE - 1 }));
    expect(await outcome(verifier.verify(token))).toEqual(rejected('token_expired'));
  });

  it('rejects a token whose nbf is in the future: token_not_yet_valid', async () => {
    const token = await signToken(rsa, claimsA({ nbf: NOW_S + 600, exp: NOW_S + 3600 }));
    expect(await outcome(verifier.verify(token))).toEqual(rejected('token_not_yet_valid'));
  });

  it('rejects a token issued far in the future: token_issued_in_future', async () => {
    const token = await signToken(rsa, claimsA({ iat: NOW_S + 3600, exp: NOW_S + 7200 }));
    expect(await outcome(verifier.verify(token))).toEqual(rejected('token_issued_in_future'));
  });

  it('rejects a token issued far in the future with token_issued_in_future also when maxTokenAgeSeconds is set', async () => {
    const v = verifierFor([{ ...issuerA, maxTokenAgeSeconds: 600 }]);
    const token = await signToken(rsa, claimsA({ iat: NOW_S + 3600, exp: NOW_S + 7200 }));
    expect(await outcome(v.verify(token))).toEqual(rejected('token_issued_in_future'));
  });

  it.each<[string, Record<string, unknown>, Outcome]>([
    ['exp just inside the tolerance', { iat: NOW_S - 600, exp: NOW_S - TOLERANCE + 1 }, 'accepted'],
    ['exp at the tolerance', { iat: NOW_S - 600, exp: NOW_S - TOLERANCE }, rejected('token_expired')],
    ['nbf at the tolerance', { nbf: NOW_S + TOLERANCE }, 'accepted'],
    ['nbf just past the tolerance', { nbf: NOW_S + TOLERANCE + 1 }, rejected('token_not_yet_valid')],
    ['iat at the tolerance', { iat: NOW_S + TOLERANCE }, 'accepted'],
    ['iat just past the tolerance', { iat: NOW_S + TOLERANCE + 1 }, rejected('token_issued_in_future')],
  ])('honours the clock tolerance (30 s) exactly at the boundary: %s', async (_what, overrides, expected) => {
    const token = await signToken(rsa, claimsA(overrides));
    expect(await outcome(verifier.verify(token))).toEqual(expected);
  });

  it('rejects a token older than maxTokenAgeSeconds (plus tolerance): token_too_old', async () => {
    const v = verifierFor([{ ...issuerA, maxTokenAgeSeconds: 600 }]);
    const atLimit = await signToken(rsa, claimsA({ iat: NOW_S - 600 - TOLERANCE }));
    const tooOld = await signToken(rsa, claimsA({ iat: NOW_S - 600 - TOLERANCE - 1 }));
    expect(await outcome(v.verify(atLimit))).toEqual('accepted');
    expect(await outcome(v.verify(tooOld))).toEqual(rejected('token_too_old'));
    // Without the setting, the same token is fine (exp still in the future).
    expect(await outcome(verifier.verify(tooOld))).toEqual('accepted');
  });

  // --- issuer and audience ---------------------------------------------------------------

  it.each<[string, (iss: string) => string]>([
    ['a trailing slash', (iss) => `${iss}/`],
    ['a different path case', (iss) => iss.replace('/realms/Main', '/realms/main')],
    ['an upper-case scheme and host', (iss) => iss.replace('http://127.0.0.1', 'HTTP://LOCALHOST')],
    ['localhost for 127.0.0.1', (iss) => iss.replace('127.0.0.1', 'localhost')],
    ['https for http', (iss) => iss.replace('http:', 'https:')],
    ['an extended path', (iss) => `${iss}/evil`],
    ['surrounding whitespace', (iss) => ` ${iss}`],
    ['a different issuer altogether', () => 'https://evil.example.com'],
  ])('rejects an iss that differs from the configured issuer by %s: untrusted_issuer', async (_what, variant) => {
    const token = await signToken(rsa, claimsA({ iss: variant(idpA.issuer) }));
    expect(await outcome(verifier.verify(token))).toEqual(rejected('untrusted_issuer'));
  });

  it('rejects a token without iss: missing_issuer', async () => {
    const token = await signToken(rsa, claimsA({ iss: undefined }));
    expect(await outcome(verifier.verify(token))).toEqual(rejected('missing_issuer'));
  });

  it.each<[string, unknown]>([
    ['another audience', 'https://someone-else.test'],
    ['an aud array without ours', ['https://someone-else.test', 'https://embedgate.test']],
    ['our audience with a trailing slash', `${AUD}/`],
    ['an empty aud array', []],
    ['no aud at all', undefined],
  ])('rejects a token for %s: wrong_audience', async (_what, aud) => {
    const token = await signToken(rsa, claimsA({ aud }));
    expect(await outcome(verifier.verify(token))).toEqual(rejected('wrong_audience'));
  });

  // --- algorithms ---------------------------------------------------------------------------

  it.each(['none', 'None', 'NONE', 'nOnE'])('rejects an unsecured token with alg "%s": algorithm_not_allowed', async (alg) => {
    expect(await outcome(verifier.verify(unsignedToken(claimsA(), { alg, typ: 'JWT' })))).toEqual(rejected('algorithm_not_allowed'));
    // Even carrying a real key id and a (meaningless) signature part.
    const withSig = unsignedToken(claimsA(), { alg, kid: rsa.kid }, decodeToken(await signToken(rsa, claimsA())).parts[2]);
    expect(await outcome(verifier.verify(withSig))).toEqual(rejected('algorithm_not_allowed'));
  });

  it.each<[PublicKeySecretForm, 'HS256' | 'HS384' | 'HS512']>([
    ['pem', 'HS256'],
    ['pem-trimmed', 'HS256'],
    ['der', 'HS256'],
    ['jwk-json', 'HS256'],
    ['pem', 'HS384'],
    ['pem', 'HS512'],
  ])('rejects an HMAC token keyed with the RSA public key (%s, %s): algorithm_not_allowed', async (form, alg) => {
    const token = keyConfusionToken(rsa, claimsA(), { form, alg });
    expect(await outcome(verifier.verify(token))).toEqual(rejected('algorithm_not_allowed'));
  });

  it('rejects a disallowed algorithm before any discovery or key fetch (none, HS256, RS256 for an ES256-only issuer)', async () => {
    const idp = await server({ keys: [rsa, ec], issuerPath: '/oidc' });
    const v = verifierFor([{ id: 'idp-precheck', issuer: idp.issuer, audiences: [AUD], algorithms: ['ES256'] }]);
    const claims = claimsA({ iss: idp.issuer });
    expect(await outcome(v.verify(unsignedToken(claims)))).toEqual(rejected('algorithm_not_allowed'));
    expect(await outcome(v.verify(keyConfusionToken(rsa, claims)))).toEqual(rejected('algorithm_not_allowed'));
    expect(await outcome(v.verify(await signToken(rsa, claims)))).toEqual(rejected('algorithm_not_allowed'));
    expect(idp.count()).toBe(0);
    // Positive control: an allowed algorithm does go to the network.
    expect(await outcome(v.verify(await signToken(ec, claims)))).toEqual('accepted');
    expect(idp.count()).toBe(2);
  });

  it('rejects an RS256 token for an issuer that allows only ES256: algorithm_not_allowed', async () => {
    const esOnly = verifierFor([{ ...issuerA, algorithms: ['ES256'] }]);
    expect(await outcome(esOnly.verify(await signToken(ec, claimsA())))).toEqual('accepted');
    expect(await outcome(esOnly.verify(await signToken(rsa, claimsA())))).toEqual(rejected('algorithm_not_allowed'));
  });

  it('rejects EdDSA for an issuer that does not list it: algorithm_not_allowed', async () => {
    const rsOnly = verifierFor([{ ...issuerA, algorithms: ['RS256'] }]);
    expect(await outcome(rsOnly.verify(await signToken(ed, claimsA())))).toEqual(rejected('algorithm_not_allowed'));
  });

  it('rejects a header alg that disagrees with the key that signed (ES256 header, RS256 signature): bad_signature', async () => {
    // The kid selects the ES256 key; the bytes are an RSA signature.
    const token = signCompact(rsa, { alg: 'ES256', kid: ec.kid, typ: 'JWT' }, claimsA());
    expect(await outcome(verifier.verify(token))).toEqual(rejected('bad_signature'));
  });

  // --- signatures and keys ---------------------------------------------------------------

  it('rejects a token whose payload was changed after signing: bad_signature', async () => {
    const token = await signToken(rsa, claimsA());
    expect(await outcome(verifier.verify(token))).toEqual('accepted');
    const tampered = tamperPayload(token, (c) => ({ ...c, sub: 'admin', groups: ['admins'] }));
    expect(await outcome(verifier.verify(tampered))).toEqual(rejected('bad_signature'));
  });

  it('rejects a token signed by a different key that reuses a published kid: bad_signature', async () => {
    const token = await signToken(impostor, claimsA());
    expect(decodeToken(token).header.kid).toBe(rsa.kid);
    expect(await outcome(verifier.verify(token))).toEqual(rejected('bad_signature'));
  });

  it('ignores jwk, jku and x5u headers: a token carrying its own (attacker) key is rejected and nothing is fetched', async () => {
    const evil = await server({ keys: [attacker] });
    const header = { jwk: attacker.publicJwk, jku: evil.jwksUri, x5u: `${evil.origin}/cert.pem` };
    // With a published kid: verified against the published key, so the signature fails.
    const sameKid = await signToken(attacker, claimsA(), { ...header, kid: rsa.kid });
    expect(await outcome(verifier.verify(sameKid))).toEqual(rejected('bad_signature'));
    // With the attacker's own kid: not in the issuer's JWKS.
    const ownKid = await signToken(attacker, claimsA(), header);
    expect(await outcome(verifier.verify(ownKid))).toEqual(rejected('unknown_key'));
    // Without any kid: the only RS256 key of the issuer is tried, and fails.
    const noKid = await signToken(attacker, claimsA(), { ...header, kid: undefined });
    expect(await outcome(verifier.verify(noKid))).toEqual(rejected('bad_signature'));
    expect(evil.count()).toBe(0);
  });

  it("keeps issuers apart: the same sub from issuer B maps to issuer B, and B's key cannot sign for A", async () => {
    const fromB = await signToken(rsaB, { iss: idpB.issuer, aud: AUD, sub: 'svc-ml', iat: NOW_S, exp: NOW_S + 300 });
    const fromA = await signToken(rsa, claimsA({ sub: 'svc-ml' }));
    await expect(verifier.verify(fromB)).resolves.toMatchObject({ issuerId: 'idp-b', issuer: idpB.issuer, subject: 'svc-ml' });
    await expect(verifier.verify(fromA)).resolves.toMatchObject({ issuerId: 'idp-a', issuer: idpA.issuer, subject: 'svc-ml' });
    // Claims issuer A, signed with B's key under B's kid: A's JWKS has no such key.
    expect(await outcome(verifier.verify(await signToken(rsaB, claimsA())))).toEqual(rejected('unknown_key'));
    // Claims issuer A, signed with B's key under A's kid: A's key does not verify it.
    expect(await outcome(verifier.verify(await signToken(withKid(rsaB, rsa.kid), claimsA())))).toEqual(rejected('bad_signature'));
  });

  // --- JWKS fetching: unknown kids, floods, rotation -------------------------------------

  it('answers an unknown kid with unknown_key after exactly one JWKS refetch', async () => {
    const idp = await server({ keys: [rsa] });
    const v = verifierFor([{ ...issuerA, id: 'idp-kid', jwksUri: idp.jwksUri }], { jwksCooldownMs: 300 });
    expect(await outcome(v.verify(await signToken(rsa, claimsA())))).toEqual('accepted');
    expect(idp.count('jwks')).toBe(1);
    const unknown = await signToken(attacker, claimsA(), { kid: 'no-such-kid' });
    await sleep(400); // past the cooldown: an unknown kid may refetch
    expect(await outcome(v.verify(unknown))).toEqual(rejected('unknown_key'));
    expect(idp.count('jwks')).toBe(2);
  });

  it('fetches the JWKS at most once per cooldown under a flood of 50 unknown-kid tokens', async () => {
    const idp = await server({ keys: [rsa] });
    const v = verifierFor([{ ...issuerA, id: 'idp-flood', jwksUri: idp.jwksUri }], { jwksCooldownMs: 1500 });
    const flood = await Promise.all(Array.from({ length: 50 }, (_, i) => signToken(attacker, claimsA(), { kid: `made-up-${i}` })));
    expect(await outcome(v.verify(await signToken(rsa, claimsA())))).toEqual('accepted');
    expect(idp.count('jwks')).toBe(1);
    await sleep(1600); // cooldown over: the first unknown kid may refetch, the rest may not
    const before = idp.count('jwks');
    for (const token of flood) {
      expect(await outcome(v.verify(token))).toEqual(rejected('unknown_key'));
    }
    expect(idp.count('jwks') - before).toBeLessThanOrEqual(1);
    // Concurrently, too.
    const results = await Promise.all(flood.map((t) => outcome(v.verify(t))));
    expect(results).toEqual(flood.map(() => rejected('unknown_key')));
    expect(idp.count('jwks') - before).toBeLessThanOrEqual(1);
    // Known keys keep working throughout.
    expect(await outcome(v.verify(await signToken(rsa, claimsA())))).toEqual('accepted');
  });

  // --- refresh requests on an unknown kid (keys from a mirror) ----------------------------------

  it('asks for a key refresh on an unknown kid: once per interval per issuer, never for a known kid or a bad signature', async () => {
    const idp = await server({ keys: [rsa] });
    let t = now();
    const asked: string[] = [];
    const v = verifierFor([{ ...issuerA, id: 'idp-refresh', jwksUri: idp.jwksUri }], {
      now: () => t,
      keyRefreshIntervalMs: 10_000,
      requestKeyRefresh: async (issuer) => {
        asked.push(issuer);
        return true;
      },
    });
    expect(await outcome(v.verify(await signToken(rsa, claimsA())))).toEqual('accepted');
    expect(await outcome(v.verify(await signToken(impostor, claimsA())))).toEqual(rejected('bad_signature'));
    expect(asked).toEqual([]);
    const flood = await Promise.all(Array.from({ length: 30 }, (_, i) => signToken(attacker, claimsA(), { kid: `forged-${i}` })));
    for (const token of flood) expect(await outcome(v.verify(token))).toEqual(rejected('unknown_key'));
    expect(asked).toEqual([idpA.issuer]);
    t += 9_999;
    expect(await outcome(v.verify(flood[0]!))).toEqual(rejected('unknown_key'));
    expect(asked).toHaveLength(1);
    t += 1;
    expect(await outcome(v.verify(flood[1]!))).toEqual(rejected('unknown_key'));
    expect(asked).toEqual([idpA.issuer, idpA.issuer]);
  });

  it('a refresh request that fails is reported and changes nothing: the token is still unknown_key', async () => {
    const idp = await server({ keys: [rsa] });
    const errors: unknown[] = [];
    const v = verifierFor([{ ...issuerA, id: 'idp-refresh-down', jwksUri: idp.jwksUri }], {
      requestKeyRefresh: () => Promise.reject(new Error('table down')),
      onKeyRefreshError: (e) => errors.push(e),
    });
    expect(await outcome(v.verify(await signToken(attacker, claimsA(), { kid: 'forged' })))).toEqual(rejected('unknown_key'));
    expect(errors).toEqual([new Error('table down')]);
    expect(await outcome(v.verify(await signToken(rsa, claimsA())))).toEqual('accepted');
  });

  it('forIssuer gives one issuer its own key source (an issuer served inside the VPC next to mirrored ones)', async () => {
    const idp = await server({ keys: [rsa] });
    const mirrored: string[] = [];
    const v = verifierFor([{ ...issuerA, id: 'idp-own', jwksUri: idp.jwksUri }], {
      fetch: async (url) => {
        mirrored.push(url);
        return new Response('{}', { status: 404 });
      },
      forIssuer: (i) => (i.id === 'idp-own' ? { fetch: networkKeySetFetch } : {}),
    });
    expect(await outcome(v.verify(await signToken(rsa, claimsA())))).toEqual('accepted');
    expect(mirrored).toEqual([]);
  });

  it('accepts a rotated-in key once the cooldown has passed, and drops the rotated-out key', async () => {
    const next = await generateTestKey('RS256', { kid: 'a-rs256-next' });
    const idp = await server({ keys: [rsa] });
    const v = verifierFor([{ ...issuerA, id: 'idp-rot', jwksUri: idp.jwksUri }], { jwksCooldownMs: 500 });
    const oldToken = await signToken(rsa, claimsA());
    const newToken = await signToken(next, claimsA({ sub: 'svc-next' }));
    expect(await outcome(v.verify(oldToken))).toEqual('accepted');
    idp.rotate(next);
    await sleep(600);
    await expect(v.verify(newToken)).resolves.toMatchObject({ subject: 'svc-next' });
    expect(idp.count('jwks')).toBe(2);
    expect(await outcome(v.verify(oldToken))).toEqual(rejected('unknown_key'));
  });

  // --- token type and required claims --------------------------------------------------------

  it('enforces requiredTyp at+jwt: other or missing typ is wrong_token_type, at+jwt is accepted', async () => {
    const v = verifierFor([{ ...issuerA, requiredTyp: 'at+jwt' }]);
    expect(await outcome(v.verify(await signToken(rsa, claimsA(), { typ: 'JWT' })))).toEqual(rejected('wrong_token_type'));
    expect(await outcome(v.verify(await signToken(rsa, claimsA(), { typ: undefined })))).toEqual(rejected('wrong_token_type'));
    expect(await outcome(v.verify(await signToken(rsa, claimsA(), { typ: 'id_token+jwt' })))).toEqual(rejected('wrong_token_type'));
    expect(await outcome(v.verify(await signToken(rsa, claimsA(), { typ: 'at+jwt' })))).toEqual('accepted');
    expect(await outcome(v.verify(await signToken(rsa, claimsA(), { typ: 'application/at+jwt' })))).toEqual('accepted');
  });

  it.each<[string, unknown]>([
    ['missing', undefined],
    ['empty', ''],
    ['not a string', 42],
  ])('rejects a token whose sub is %s: missing_subject', async (_what, sub) => {
    const token = await signToken(rsa, claimsA({ sub }));
    expect(await outcome(verifier.verify(token))).toEqual(rejected('missing_subject'));
  });

  it('rejects a token without exp: missing_expiry', async () => {
    const token = await signToken(rsa, claimsA({ exp: undefined }));
    expect(await outcome(verifier.verify(token))).toEqual(rejected('missing_expiry'));
  });

  // --- token shapes ---------------------------------------------------------------------------

  it('rejects an encrypted (five-part JWE) token: jwe_not_accepted', async () => {
    const jwe = await jweToken(claimsA());
    expect(jwe.split('.')).toHaveLength(5);
    expect(await outcome(verifier.verify(jwe))).toEqual(rejected('jwe_not_accepted'));
    expect(await outcome(verifier.verify('a.b.c.d.e'))).toEqual(rejected('jwe_not_accepted'));
  });

  it.each([
    ['a word', 'garbage'],
    ['two parts', 'abc.def'],
    ['four parts', 'a.b.c.d'],
    ['three non-base64url-JSON parts', 'abc.def.ghi'],
    ['empty parts', '..'],
    ['the empty string', ''],
    ['a JSON array header', `${Buffer.from('[]').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.sig`],
    ['a non-JSON payload', `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('not json').toString('base64url')}.sig`],
  ])('rejects garbage (%s): malformed_token', async (_what, token) => {
    expect(await outcome(verifier.verify(token))).toEqual(rejected('malformed_token'));
  });

  // --- OIDC discovery and JWKS availability ----------------------------------------------

  it('finds the JWKS through OIDC discovery when no jwksUri is configured, fetching each once', async () => {
    const idp = await server({ keys: [rsa], issuerPath: '/oidc' });
    const v = verifierFor([{ id: 'idp-disc', issuer: idp.issuer, audiences: [AUD] }]);
    const token = await signToken(rsa, claimsA({ iss: idp.issuer }));
    await expect(v.verify(token)).resolves.toMatchObject({ issuerId: 'idp-disc', issuer: idp.issuer });
    await expect(v.verify(token)).resolves.toMatchObject({ issuerId: 'idp-disc' });
    expect({ discovery: idp.count('discovery'), jwks: idp.count('jwks'), all: idp.count() }).toEqual({ discovery: 1, jwks: 1, all: 2 });
  });

  it.each<[string, (iss: string) => Record<string, unknown>]>([
    ['a trailing slash', (iss) => ({ issuer: `${iss}/` })],
    ['a different case', (iss) => ({ issuer: iss.replace('/oidc', '/OIDC') })],
    ['another issuer', () => ({ issuer: 'https://evil.example.com' })],
    ['no issuer', () => ({ issuer: undefined })],
  ])('refuses a discovery document whose issuer differs by %s: jwks_unavailable, and never fetches its jwks_uri', async (_what, lie) => {
    const idp = await server({ keys: [rsa], issuerPath: '/oidc' });
    idp.setDiscoveryOverrides(lie(idp.issuer));
    const v = verifierFor([{ id: 'idp-mixup', issuer: idp.issuer, audiences: [AUD] }]);
    const token = await signToken(rsa, claimsA({ iss: idp.issuer }));
    expect(await outcome(v.verify(token))).toEqual(rejected('jwks_unavailable'));
    expect(idp.count('discovery')).toBe(1);
    expect(idp.count('jwks')).toBe(0);
  });

  it('refuses a discovery document whose jwks_uri is plain http on a host outside the loopback allow-list: jwks_unavailable', async () => {
    // A working key set at http://127.0.0.2 (reachable, but not one of localhost/127.0.0.1/[::1]).
    const keysElsewhere = await server({ keys: [rsa], host: '127.0.0.2' });
    const idp = await server({ keys: [rsa], issuerPath: '/oidc' });
    idp.setDiscoveryOverrides({ jwks_uri: keysElsewhere.jwksUri });
    const v = verifierFor([{ id: 'idp-http', issuer: idp.issuer, audiences: [AUD] }]);
    expect(await outcome(v.verify(await signToken(rsa, claimsA({ iss: idp.issuer }))))).toEqual(rejected('jwks_unavailable'));
    expect(keysElsewhere.count()).toBe(0);
  });

  it('retries failed OIDC discovery only after the cooldown (on the verifier clock)', async () => {
    let clock = NOW_S * 1000;
    const idp = await server({ keys: [rsa], issuerPath: '/oidc' });
    idp.setBehaviour({ kind: 'status', status: 500 }, 'discovery');
    const v = verifierFor([{ id: 'idp-retry', issuer: idp.issuer, audiences: [AUD] }], { now: () => clock, jwksCooldownMs: 30_000 });
    const token = await signToken(rsa, claimsA({ iss: idp.issuer }));
    expect(await outcome(v.verify(token))).toEqual(rejected('jwks_unavailable'));
    idp.comeUp();
    clock += 29_000;
    expect(await outcome(v.verify(token))).toEqual(rejected('jwks_unavailable'));
    expect(idp.count('discovery')).toBe(1);
    clock += 2_000;
    expect(await outcome(v.verify(token))).toEqual('accepted');
    expect(idp.count('discovery')).toBe(2);
  });

  it.each<[string, EndpointBehaviour]>([
    ['answers 500', { kind: 'status', status: 500 }],
    ['answers 503', { kind: 'status', status: 503 }],
    ['answers 404', { kind: 'status', status: 404 }],
    ['closes the connection', { kind: 'close' }],
    ['hangs past the fetch timeout', { kind: 'hang' }],
    ['answers invalid JSON', { kind: 'raw', body: '<html>down</html>' }],
    ['answers a malformed key set', { kind: 'json', body: { keys: 'none' } }],
  ])('rejects tokens with jwks_unavailable when the JWKS endpoint %s and no keys are cached', async (_what, behaviour) => {
    const idp = await server({ keys: [rsa] });
    idp.setBehaviour(behaviour, 'jwks');
    const v = verifierFor([{ ...issuerA, id: 'idp-down', jwksUri: idp.jwksUri }], { fetchTimeoutMs: 300 });
    expect(await outcome(v.verify(await signToken(rsa, claimsA())))).toEqual(rejected('jwks_unavailable'));
    expect(idp.count('jwks')).toBeGreaterThanOrEqual(1);
  });

  it('rejects tokens with jwks_unavailable when nothing listens at the JWKS URL', async () => {
    const idp = await startJwksServer({ keys: [rsa] });
    await idp.stop();
    const v = verifierFor([{ ...issuerA, id: 'idp-gone', jwksUri: idp.jwksUri }]);
    expect(await outcome(v.verify(await signToken(rsa, claimsA())))).toEqual(rejected('jwks_unavailable'));
  });

  it('does not hammer a failing JWKS endpoint: at most one fetch per cooldown while it is down', async () => {
    const idp = await server({ keys: [rsa] });
    idp.setBehaviour({ kind: 'close' }, 'jwks');
    const v = verifierFor([{ ...issuerA, id: 'idp-hammer', jwksUri: idp.jwksUri }], { jwksCooldownMs: 30_000 });
    const token = await signToken(rsa, claimsA());
    for (let i = 0; i < 20; i++) {
      expect(await outcome(v.verify(token))).toEqual(rejected('jwks_unavailable'));
    }
    expect(idp.count('jwks')).toBeLessThanOrEqual(1);
  });

  it('rejects tokens with jwks_unavailable when OIDC discovery is down', async () => {
    const idp = await server({ keys: [rsa], issuerPath: '/oidc' });
    idp.setBehaviour({ kind: 'status', status: 500 }, 'discovery');
    const v = verifierFor([{ id: 'idp-disc-down', issuer: idp.issuer, audiences: [AUD] }]);
    expect(await outcome(v.verify(await signToken(rsa, claimsA({ iss: idp.issuer }))))).toEqual(rejected('jwks_unavailable'));
  });
});
