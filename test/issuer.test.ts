/**
 * The embedded dev issuer (cli/issuer.ts), run in a child process (jest cannot load the ESM-only
 * oidc-provider): discovery, client_credentials JWT access tokens verified against the JWKS, client
 * authentication failures, the ES256 option, and silence on stderr (incl. the Node 20 warning).
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { fetchClientCredentialsToken } from '../cli/issuer';
import { startIssuerProcess } from './support/issuer-process';
import type { IssuerProcess } from './support/issuer-process';

const AUDIENCE = 'https://embedgate.test/api';
const ML = {
  clientId: 'svc-ml',
  clientSecret: 'ml-secret-0123456789',
  scopes: ['embed', 'embed:admin'],
  claims: { groups: ['ml-team'], tier: 'gold' },
};
const OTHER = { clientId: 'svc-other', clientSecret: 'other secret+with:odd%chars', scopes: ['models:read'] };

describe('dev issuer (RS256)', () => {
  let idp: IssuerProcess;

  beforeAll(async () => {
    idp = await startIssuerProcess({ audience: AUDIENCE, clients: [ML, OTHER], accessTokenTtlSeconds: 120 });
  });

  afterAll(async () => {
    await idp?.stop();
  });

  async function verify(token: string, audience = AUDIENCE) {
    const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
    return jwtVerify(token, jwks, { issuer: idp.issuer, audience, typ: 'at+jwt', algorithms: ['RS256'] });
  }

  it('binds 127.0.0.1 on an ephemeral port and serves discovery', async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const discovery = (await response.json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({
      issuer: idp.issuer,
      token_endpoint: idp.tokenEndpoint,
      jwks_uri: idp.jwksUri,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
    });
  });

  it('publishes a single public signing key with a kid', async () => {
    const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    const [key] = jwks.keys;
    expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(typeof key.kid).toBe('string');
    expect(key).not.toHaveProperty('d');
  });

  it('issues an RFC 9068 JWT access token with the client claims', async () => {
    const token = await fetchClientCredentialsToken(idp.tokenEndpoint, ML, { scope: 'embed' });
    const { payload, protectedHeader } = await verify(token);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(typeof protectedHeader.kid).toBe('string');
    expect(payload).toMatchObject({
      iss: idp.issuer,
      sub: 'svc-ml',
      client_id: 'svc-ml',
      aud: AUDIENCE,
      scope: 'embed',
      groups: ['ml-team'],
      tier: 'gold',
    });
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  it('grants all registered scopes when none is requested, and accepts resource = audience', async () => {
    const token = await fetchClientCredentialsToken(idp.tokenEndpoint, ML, { resource: AUDIENCE });
    const { payload } = await verify(token);
    expect(payload.scope).toBe('embed embed:admin');
  });

  it('authenticates client ids and secrets that need form-encoding', async () => {
    const token = await fetchClientCredentialsToken(idp.tokenEndpoint, OTHER);
    const { payload } = await verify(token);
    expect(payload).toMatchObject({ sub: 'svc-other', client_id: 'svc-other', scope: 'models:read' });
    expect(payload).not.toHaveProperty('groups');
  });

  it('refuses a wrong client secret without echoing it', async () => {
    const wrong = 'definitely-not-the-secret';
    const error = await fetchClientCredentialsToken(idp.tokenEndpoint, { clientId: ML.clientId, clientSecret: wrong }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toMatch(/HTTP 401 invalid_client/);
    expect(error!.message).toContain('svc-ml');
    expect(error!.message).not.toContain(wrong);
    expect(error!.message).not.toContain(ML.clientSecret);
  });

  it('refuses an unknown client, a scope of another client and another resource', async () => {
    await expect(fetchClientCredentialsToken(idp.tokenEndpoint, { clientId: 'nobody', clientSecret: 'x' })).rejects.toThrow(
      /HTTP 401 invalid_client/,
    );
    await expect(fetchClientCredentialsToken(idp.tokenEndpoint, ML, { scope: 'models:read' })).rejects.toThrow(/HTTP 400 invalid_scope/);
    await expect(fetchClientCredentialsToken(idp.tokenEndpoint, ML, { resource: 'https://elsewhere.test/' })).rejects.toThrow(
      /HTTP 400 invalid_target/,
    );
  });

  it('refuses grant types other than client_credentials', async () => {
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${ML.clientId}:${ML.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'password', username: 'u', password: 'p' }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('unsupported_grant_type');
  });

  it('prints nothing (no Node 20 "Unsupported runtime" warning, no notices)', () => {
    expect(idp.logs()).toBe('');
  });
});

describe('dev issuer (ES256, non-URI audience)', () => {
  let idp: IssuerProcess;

  beforeAll(async () => {
    idp = await startIssuerProcess({ audience: 'embedgate-dev', signingAlg: 'ES256', clients: [ML] });
  });

  afterAll(async () => {
    await idp?.stop();
  });

  it('signs access tokens with ES256 and defaults the ttl to 300 s', async () => {
    const token = await fetchClientCredentialsToken(idp.tokenEndpoint, ML);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
    const { payload } = await jwtVerify(token, jwks, {
      issuer: idp.issuer,
      audience: 'embedgate-dev',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    expect(payload).toMatchObject({ sub: 'svc-ml', aud: 'embedgate-dev', groups: ['ml-team'] });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(idp.logs()).toBe('');
  });

  it('stops promptly and stops answering', async () => {
    const started = Date.now();
    await idp.stop();
    expect(Date.now() - started).toBeLessThan(3_000);
    await expect(fetch(`${idp.issuer}/.well-known/openid-configuration`)).rejects.toThrow();
  });
});
