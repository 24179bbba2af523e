/**
 * Identity: from an HTTP request's bearer token to a verified `Principal`.
 *
 * Defence in depth behind API Gateway's JWT authorizer: the token is verified again here with
 * `jose`, with exact rules per trusted issuer (algorithm allow-list, `typ`, audience, clock
 * tolerance, sane `iat`). Keys come from the issuer's JWKS, cached; an unknown `kid` triggers at
 * most one refetch per cooldown period, so a flood of made-up kids cannot hammer the IdP.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  customFetch,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { isLoopback, type GatewayConfig, type IssuerConfig } from '../../shared/config';
import { unauthenticated, type GatewayError } from './errors';

/** A verified service principal. */
export interface Principal {
  /** The `id` of the trusted-issuer entry that verified the token. */
  readonly issuerId: string;
  readonly issuer: string;
  readonly subject: string;
  readonly clientId: string | null;
  readonly groups: readonly string[];
  readonly scopes: readonly string[];
  /** The token's `jti`, if any. */
  readonly tokenId: string | null;
  /** The token's `exp`, seconds since the epoch. */
  readonly expiresAt: number | null;
}

export interface VerifierOptions {
  /** Injected fetch (tests). */
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch (tests). */
  readonly now?: () => number;
  /** Least time between two JWKS fetches of one issuer, ms. @default 30000 */
  readonly jwksCooldownMs?: number;
  /** How long fetched keys are trusted before a refresh, ms. @default 600000 */
  readonly jwksMaxAgeMs?: number;
  /** How long the last good keys keep verifying while the JWKS endpoint fails, ms. @default 3600000 */
  readonly jwksMaxStaleMs?: number;
  /** Timeout of a JWKS or discovery fetch, ms. @default 5000 */
  readonly fetchTimeoutMs?: number;
}

/** The request facts identity needs; header names lower-cased, repeated headers comma-joined. */
export interface TokenSource {
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly rawQueryString?: string;
}

const QUERY_TOKEN_PARAMS = new Set(['access_token', 'token', 'id_token', 'api_key', 'api-key', 'apikey', 'key']);

/**
 * Take the bearer token out of a request, refusing the ambiguous and oversized shapes:
 * tokens in the query string, several Authorization headers, other schemes, oversized tokens.
 */
export function extractBearerToken(req: TokenSource, maxTokenBytes: number): string {
  if (req.rawQueryString) {
    for (const [name] of new URLSearchParams(req.rawQueryString)) {
      if (QUERY_TOKEN_PARAMS.has(name.toLowerCase())) {
        throw unauthenticated('Credentials in the query string are not accepted; send "Authorization: Bearer <token>".', 'token_in_query');
      }
    }
  }
  const header = req.headers['authorization'];
  if (header === undefined || header.trim() === '') {
    throw unauthenticated('Missing bearer token: send "Authorization: Bearer <access token>".', 'missing_token');
  }
  if (header.length > maxTokenBytes + 64) {
    throw unauthenticated('The bearer token is too large.', 'token_too_large');
  }
  // API Gateway (and `embedgate dev`) join repeated headers with commas; a JWT never has one.
  if (header.includes(',')) {
    throw unauthenticated('Send exactly one Authorization header with one bearer token.', 'multiple_authorization_headers');
  }
  const m = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(header);
  if (!m) {
    throw unauthenticated('The Authorization header must be "Bearer <access token>".', 'malformed_authorization');
  }
  const token = m[1]!;
  if (Buffer.byteLength(token) > maxTokenBytes) {
    throw unauthenticated('The bearer token is too large.', 'token_too_large');
  }
  return token;
}

/** Verifies access tokens against the configured trusted issuers. Create once per process. */
export class TokenVerifier {
  private readonly byIssuer: Map<string, IssuerVerifier>;

  constructor(config: GatewayConfig, private readonly opts: VerifierOptions = {}) {
    this.byIssuer = new Map(config.issuers.map((i) => [i.issuer, new IssuerVerifier(i, opts)]));
  }

  /** Verify a compact JWS access token; throws a 401 `GatewayError` with a reason code. */
  async verify(token: string): Promise<Principal> {
    const parts = token.split('.');
    if (parts.length === 5) throw unauthenticated('Encrypted tokens (JWE) are not accepted; send a signed access token.', 'jwe_not_accepted');
    if (parts.length !== 3) throw unauthenticated('The bearer token is not a JWT.', 'malformed_token');
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw unauthenticated('The bearer token is not a well-formed JWT.', 'malformed_token');
    }
    const iss = typeof unverified.iss === 'string' ? unverified.iss : undefined;
    if (iss === undefined) throw unauthenticated('The token has no "iss" claim.', 'missing_issuer');
    const verifier = this.byIssuer.get(iss);
    if (!verifier) throw unauthenticated('The token was not issued by a trusted issuer.', 'untrusted_issuer');
    if (typeof header.alg !== 'string' || !verifier.config.algorithms.includes(header.alg)) {
      throw unauthenticated('The token is signed with an algorithm this issuer may not use.', 'algorithm_not_allowed');
    }
    return verifier.verify(token, this.opts.now?.() ?? Date.now());
  }
}

class IssuerVerifier {
  private keys: Promise<JWTVerifyGetKey> | undefined;
  private lastDiscoveryFailure = 0;

  constructor(readonly config: IssuerConfig, private readonly opts: VerifierOptions) {}

  async verify(token: string, nowMs: number): Promise<Principal> {
    const c = this.config;
    let payload: JWTPayload;
    try {
      const keys = await this.getKeys(nowMs);
      ({ payload } = await jwtVerify(token, keys, {
        issuer: c.issuer,
        audience: c.audiences,
        algorithms: c.algorithms,
        clockTolerance: c.clockToleranceSeconds,
        currentDate: new Date(nowMs),
        requiredClaims: ['exp'],
        ...(c.requiredTyp ? { typ: c.requiredTyp } : {}),
        ...(c.maxTokenAgeSeconds ? { maxTokenAge: c.maxTokenAgeSeconds } : {}),
      }));
    } catch (e) {
      throw toUnauthenticated(e);
    }
    const nowS = Math.floor(nowMs / 1000);
    if (payload.iat !== undefined && payload.iat > nowS + c.clockToleranceSeconds) {
      throw unauthenticated('The token is issued in the future.', 'token_issued_in_future');
    }
    return toPrincipal(c, payload);
  }

  private getKeys(nowMs: number): Promise<JWTVerifyGetKey> {
    if (!this.keys) {
      const cooldown = this.opts.jwksCooldownMs ?? 30_000;
      if (nowMs - this.lastDiscoveryFailure < cooldown) {
        return Promise.reject(new JwksUnavailable('discovery failed recently'));
      }
      this.keys = this.resolveJwksUri().then((uri) =>
        resilientKeySet(
          createRemoteJWKSet(new URL(uri), {
            cooldownDuration: cooldown,
            cacheMaxAge: this.opts.jwksMaxAgeMs ?? 600_000,
            timeoutDuration: this.opts.fetchTimeoutMs ?? 5000,
            ...(this.opts.fetch ? { [customFetch]: this.opts.fetch } : {}),
          }),
          { cooldownMs: cooldown, maxStaleMs: this.opts.jwksMaxStaleMs ?? 3_600_000, now: () => this.opts.now?.() ?? Date.now() },
        ),
      );
      this.keys.catch(() => {
        this.keys = undefined;
        this.lastDiscoveryFailure = nowMs;
      });
    }
    return this.keys;
  }

  /** `jwksUri` from the config, or from the issuer's OIDC discovery document. */
  private async resolveJwksUri(): Promise<string> {
    if (this.config.jwksUri) return this.config.jwksUri;
    const url = `${this.config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const f = this.opts.fetch ?? fetch;
    let doc: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const res = await f(url, { signal: AbortSignal.timeout(this.opts.fetchTimeoutMs ?? 5000), headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as typeof doc;
    } catch (e) {
      throw new JwksUnavailable(`OIDC discovery failed: ${(e as Error).message}`);
    }
    // Mix-up protection: the discovery document must name exactly the configured issuer.
    if (doc.issuer !== this.config.issuer || typeof doc.jwks_uri !== 'string') {
      throw new JwksUnavailable('OIDC discovery document does not match the configured issuer');
    }
    const jwks = new URL(doc.jwks_uri);
    if (jwks.protocol !== 'https:' && !(jwks.protocol === 'http:' && isLoopback(jwks.hostname))) {
      throw new JwksUnavailable('jwks_uri must use https');
    }
    return doc.jwks_uri;
  }
}

class JwksUnavailable extends Error {}

type RemoteKeySet = ReturnType<typeof createRemoteJWKSet>;

/**
 * Wraps jose's remote key set with two guarantees it does not give on its own:
 * - a failing JWKS endpoint is asked at most once per cooldown (jose's cooldown only covers
 *   unknown kids; without keys it would fetch on every request);
 * - when a refresh fails, the last keys fetched successfully keep verifying for `maxStaleMs`
 *   (stale-if-error), so an IdP outage does not lock out every caller; new kids fail closed.
 */
function resilientKeySet(remote: RemoteKeySet, o: { cooldownMs: number; maxStaleMs: number; now: () => number }): JWTVerifyGetKey {
  let lastFailure = -Infinity;
  let lastGood: { keys: JSONWebKeySet; at: number } | undefined;
  const fallback = (header: JWSHeaderParameters, cause: unknown) => {
    if (lastGood && o.now() - lastGood.at <= o.maxStaleMs) return createLocalJWKSet(lastGood.keys)(header);
    throw cause instanceof JwksUnavailable ? cause : new JwksUnavailable('JWKS unavailable');
  };
  return async (header, token) => {
    if (o.now() - lastFailure < o.cooldownMs && (remote.jwks() === undefined || remote.fresh === false)) {
      return fallback(header, new JwksUnavailable('JWKS fetch failed recently'));
    }
    try {
      const key = await remote(header, token);
      const current = remote.jwks();
      if (current) lastGood = { keys: current, at: o.now() };
      return key;
    } catch (e) {
      if (e instanceof joseErrors.JWKSNoMatchingKey || e instanceof joseErrors.JWKSMultipleMatchingKeys || e instanceof joseErrors.JOSENotSupported) throw e;
      lastFailure = o.now();
      return fallback(header, e);
    }
  };
}

function toUnauthenticated(e: unknown): GatewayError {
  if (e instanceof JwksUnavailable) return unauthenticated('The token could not be verified.', 'jwks_unavailable');
  if (e instanceof joseErrors.JWTExpired) {
    return e.claim === 'iat' ? unauthenticated('The token is too old.', 'token_too_old') : unauthenticated('The token has expired.', 'token_expired');
  }
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    const reason =
      { nbf: 'token_not_yet_valid', iss: 'wrong_issuer', aud: 'wrong_audience', typ: 'wrong_token_type', exp: 'missing_expiry', iat: e.reason === 'check_failed' ? 'token_issued_in_future' : 'invalid_claims' }[e.claim] ??
      'invalid_claims';
    return unauthenticated('The token is not valid for this gateway.', reason);
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return unauthenticated('The token signature is invalid.', 'bad_signature');
  if (e instanceof joseErrors.JWKSNoMatchingKey || e instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return unauthenticated('The token was signed with an unknown key.', 'unknown_key');
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return unauthenticated('The token is signed with an algorithm this issuer may not use.', 'algorithm_not_allowed');
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid) return unauthenticated('The token could not be verified.', 'jwks_unavailable');
  if (e instanceof joseErrors.JOSENotSupported) return unauthenticated('The token uses an unsupported feature.', 'unsupported_token');
  if (e instanceof joseErrors.JOSEError) return unauthenticated('The token is invalid.', 'invalid_token');
  // Network errors while fetching keys.
  return unauthenticated('The token could not be verified.', 'jwks_unavailable');
}

function toPrincipal(c: IssuerConfig, payload: JWTPayload): Principal {
  const subject = claim(payload, c.claims.subject);
  if (typeof subject !== 'string' || subject.length === 0) {
    throw unauthenticated(`The token has no "${c.claims.subject}" claim.`, 'missing_subject');
  }
  const clientId = c.claims.clientId.map((n) => claim(payload, n)).find((v): v is string => typeof v === 'string' && v.length > 0) ?? null;
  return {
    issuerId: c.id,
    issuer: c.issuer,
    subject,
    clientId,
    groups: collect(payload, c.claims.groups, false),
    scopes: collect(payload, c.claims.scopes, true),
    tokenId: typeof payload.jti === 'string' ? payload.jti : null,
    expiresAt: typeof payload.exp === 'number' ? payload.exp : null,
  };
}

/** A claim by exact name (`cognito:groups`, `https://example.com/roles`), else by dotted path (`realm_access.roles`). */
function claim(payload: JWTPayload, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let cur: unknown = payload;
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const MAX_VALUES = 256;

function collect(payload: JWTPayload, names: readonly string[], splitSpaces: boolean): string[] {
  const out = new Set<string>();
  for (const n of names) {
    const v = claim(payload, n);
    const values = typeof v === 'string' ? (splitSpaces ? v.split(/\s+/) : [v]) : Array.isArray(v) ? v : [];
    for (const x of values) {
      if (typeof x === 'string' && x.length > 0 && out.size < MAX_VALUES) out.add(x);
    }
  }
  return [...out];
}
