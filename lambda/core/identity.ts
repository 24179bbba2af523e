/**
 * Identity: from an HTTP request's bearer token to a verified `Principal`.
 *
 * Defence in depth behind API Gateway's JWT authorizer: the token is verified again here with
 * `jose`, with exact rules per trusted issuer (algorithm allow-list, `typ`, audience, clock
 * tolerance, sane `iat`). Keys come from the issuer's JWKS, cached; an unknown `kid` triggers at
 * most one refetch per cooldown period, so a flood of made-up kids cannot hammer the IdP.
 *
 * Verified tokens are remembered (by the SHA-256 of the token): the same token presented again
 * skips the signature check, but only when its header still resolves, in the issuer's current
 * and fresh key set, to the very key object that verified it (jose imports each key of a fetched
 * set once, so a refetch, a rotation or the stale-if-error fallback all send the token through the
 * full check again), and every claim rule (`exp`, `nbf`, `iat`, token age, issuer, audience) is
 * checked again on every request by jose's own claim validation. Revocation is not part of
 * verification: the gateway checks it after, on every request.
 */
import { hash } from 'node:crypto';
import {
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  customFetch,
  UnsecuredJWT,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JWTClaimVerificationOptions,
  type JWTPayload,
} from 'jose';
import type { GatewayConfig, IssuerConfig } from '../../shared/config';
import type { Principal } from './principal';
import type { KeyRefreshRequest, KeySetFetch } from './ports';
import { discoverJwksUri, JwksUnavailable, resilientKeySet, type ResilientKeySet, type VerificationKey } from './issuer-keys';
import { unauthenticated, type GatewayError } from './errors';

export interface VerifierOptions {
  /** Where discovery documents and key sets come from (the `KeySetFetch` port). */
  readonly fetch: KeySetFetch;
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
  /**
   * Most verified tokens remembered, so a token presented again skips the signature check (see
   * the module doc: claims are still checked on every request). 0 turns it off. @default 1024
   */
  readonly verifiedTokenCacheSize?: number;
  /**
   * Asked (and awaited, errors reported to `onKeyRefreshError`) when a token names a `kid` the
   * issuer's fetched key set does not hold, at most once per `keyRefreshIntervalMs` per issuer:
   * where keys come from a mirror, it makes the mirror fetch now. The token is still refused.
   * @default - none
   */
  readonly requestKeyRefresh?: KeyRefreshRequest;
  /** Least time between two `requestKeyRefresh` calls for one issuer, ms. @default 10000 */
  readonly keyRefreshIntervalMs?: number;
  /** A `requestKeyRefresh` that rejected. @default - ignored */
  readonly onKeyRefreshError?: (error: unknown) => void;
  /** Options for one issuer on top of these (e.g. its keys fetched from elsewhere). @default - the same for every issuer */
  readonly forIssuer?: (issuer: IssuerConfig) => Partial<Omit<VerifierOptions, 'forIssuer'>>;
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

/** A token verified before: what it proved, and the key that proved it. */
interface VerifiedToken {
  readonly issuer: IssuerVerifier;
  readonly header: JWSHeaderParameters;
  /** The token's payload part (base64url), to check its claims again at each use. */
  readonly payload: string;
  readonly principal: Principal;
  /** The key object that verified the signature (from the issuer's current, fresh key set). */
  readonly key: VerificationKey;
}

/** Verifies access tokens against the configured trusted issuers. Create once per process. */
export class TokenVerifier {
  private readonly byIssuer: Map<string, IssuerVerifier>;
  private readonly verified = new Map<string, VerifiedToken>();
  private readonly cacheSize: number;

  constructor(
    config: GatewayConfig,
    private readonly opts: VerifierOptions,
  ) {
    this.byIssuer = new Map(
      config.issuers.map((i) => [i.issuer, new IssuerVerifier(i, opts.forIssuer ? { ...opts, ...opts.forIssuer(i) } : opts)]),
    );
    this.cacheSize = opts.verifiedTokenCacheSize ?? 1024;
  }

  /** Verify a compact JWS access token; throws a 401 `GatewayError` with a reason code. */
  async verify(token: string): Promise<Principal> {
    const nowMs = this.opts.now?.() ?? Date.now();
    const cacheKey = this.cacheSize > 0 ? hash('sha256', token, 'base64') : undefined;
    const known = cacheKey === undefined ? undefined : this.verified.get(cacheKey);
    if (known) {
      // The same bytes, verified with the key their header still resolves to: only the
      // time-dependent rules can give another answer now.
      if (await known.issuer.stillResolvesTo(known.header, known.key, nowMs)) {
        try {
          known.issuer.checkClaims(known.payload, nowMs);
        } catch (e) {
          this.verified.delete(cacheKey!);
          throw e;
        }
        return known.principal;
      }
      this.verified.delete(cacheKey!);
    }
    const parts = token.split('.');
    if (parts.length === 5)
      throw unauthenticated('Encrypted tokens (JWE) are not accepted; send a signed access token.', 'jwe_not_accepted');
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
    const { principal, key } = await verifier.verify(token, nowMs);
    if (cacheKey !== undefined && key !== undefined) {
      if (this.verified.size >= this.cacheSize) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(cacheKey, { issuer: verifier, header, payload: parts[1]!, principal, key });
    }
    return principal;
  }
}

/** An unsecured JWS header (`{"alg":"none"}`): checking a verified payload's claims again needs no signature. */
const NONE_HEADER = Buffer.from('{"alg":"none"}').toString('base64url');

class IssuerVerifier {
  private keys: Promise<ResilientKeySet> | undefined;
  private lastDiscoveryFailure = 0;
  private lastRefreshRequest = -Infinity;

  constructor(
    readonly config: IssuerConfig,
    private readonly opts: VerifierOptions,
  ) {}

  /**
   * Verify signature and claims. `key` is the key that verified the signature when it came from
   * the issuer's current, fresh key set (not the stale fallback): the result may be remembered.
   */
  async verify(token: string, nowMs: number): Promise<{ principal: Principal; key: VerificationKey | undefined }> {
    const c = this.config;
    let payload: JWTPayload;
    let used: { key: VerificationKey; current: boolean } | undefined;
    try {
      const keys = await this.getKeys(nowMs);
      const getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
        used = await keys.resolve(header, token);
        return used.key;
      };
      ({ payload } = await jwtVerify(token, getKey, {
        ...this.claimOptions(nowMs),
        algorithms: c.algorithms,
        ...(c.requiredTyp ? { typ: c.requiredTyp } : {}),
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWKSNoMatchingKey) await this.requestRefresh(nowMs);
      throw toUnauthenticated(e);
    }
    this.checkIssuedAt(payload, nowMs);
    const principal = freezePrincipal(toPrincipal(c, payload));
    return { principal, key: used?.current ? used.key : undefined };
  }

  /** An unknown kid: ask for the issuer's keys to be fetched again (rate-limited here, and by the port). */
  private async requestRefresh(nowMs: number): Promise<void> {
    const request = this.opts.requestKeyRefresh;
    if (!request || nowMs - this.lastRefreshRequest < (this.opts.keyRefreshIntervalMs ?? 10_000)) return;
    this.lastRefreshRequest = nowMs;
    try {
      await request(this.config.issuer);
    } catch (e) {
      this.opts.onKeyRefreshError?.(e);
    }
  }

  /**
   * Whether `header` resolves now, in the current and fresh key set (refetched first when it is
   * too old, exactly as for a full verification), to this very key object. Never throws.
   */
  async stillResolvesTo(header: JWSHeaderParameters, key: VerificationKey, nowMs: number): Promise<boolean> {
    try {
      const r = await (await this.getKeys(nowMs)).resolve(header);
      return r.current && r.key === key;
    } catch {
      return false;
    }
  }

  /**
   * Check the claims of a payload (base64url) whose signature was verified before, as `verify`
   * does: jose's claim validation with the same options (all but `typ`, a header fact that
   * cannot change), then the issued-in-the-future rule. Throws the same 401 errors.
   */
  checkClaims(payloadPart: string, nowMs: number): void {
    let payload: JWTPayload;
    try {
      ({ payload } = UnsecuredJWT.decode(`${NONE_HEADER}.${payloadPart}.`, this.claimOptions(nowMs)));
    } catch (e) {
      throw toUnauthenticated(e);
    }
    this.checkIssuedAt(payload, nowMs);
  }

  private claimOptions(nowMs: number): JWTClaimVerificationOptions {
    const c = this.config;
    return {
      issuer: c.issuer,
      audience: c.audiences,
      clockTolerance: c.clockToleranceSeconds,
      currentDate: new Date(nowMs),
      requiredClaims: ['exp'],
      ...(c.maxTokenAgeSeconds ? { maxTokenAge: c.maxTokenAgeSeconds } : {}),
    };
  }

  private checkIssuedAt(payload: JWTPayload, nowMs: number): void {
    const nowS = Math.floor(nowMs / 1000);
    if (payload.iat !== undefined && payload.iat > nowS + this.config.clockToleranceSeconds) {
      throw unauthenticated('The token is issued in the future.', 'token_issued_in_future');
    }
  }

  private getKeys(nowMs: number): Promise<ResilientKeySet> {
    if (!this.keys) {
      const cooldown = this.opts.jwksCooldownMs ?? 30_000;
      if (nowMs - this.lastDiscoveryFailure < cooldown) {
        return Promise.reject(new JwksUnavailable('discovery failed recently'));
      }
      const keys = discoverJwksUri(this.config, this.opts.fetch, this.opts.fetchTimeoutMs ?? 5000).then((uri) =>
        resilientKeySet(
          new URL(uri),
          {
            cooldownDuration: cooldown,
            cacheMaxAge: this.opts.jwksMaxAgeMs ?? 600_000,
            timeoutDuration: this.opts.fetchTimeoutMs ?? 5000,
            [customFetch]: this.opts.fetch,
          },
          { cooldownMs: cooldown, maxStaleMs: this.opts.jwksMaxStaleMs ?? 3_600_000, now: () => this.opts.now?.() ?? Date.now() },
        ),
      );
      this.keys = keys;
      keys.catch(() => {
        if (this.keys === keys) this.keys = undefined;
        this.lastDiscoveryFailure = nowMs;
      });
    }
    return this.keys;
  }
}

function toUnauthenticated(e: unknown): GatewayError {
  if (e instanceof JwksUnavailable) return unauthenticated('The token could not be verified.', 'jwks_unavailable');
  if (e instanceof joseErrors.JWTExpired) {
    return e.claim === 'iat'
      ? unauthenticated('The token is too old.', 'token_too_old')
      : unauthenticated('The token has expired.', 'token_expired');
  }
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    const reason =
      {
        nbf: 'token_not_yet_valid',
        iss: 'wrong_issuer',
        aud: 'wrong_audience',
        typ: 'wrong_token_type',
        exp: 'missing_expiry',
        iat: e.reason === 'check_failed' ? 'token_issued_in_future' : 'invalid_claims',
      }[e.claim] ?? 'invalid_claims';
    return unauthenticated('The token is not valid for this gateway.', reason);
  }
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return unauthenticated('The token signature is invalid.', 'bad_signature');
  if (e instanceof joseErrors.JWKSNoMatchingKey || e instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return unauthenticated('The token was signed with an unknown key.', 'unknown_key');
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed)
    return unauthenticated('The token is signed with an algorithm this issuer may not use.', 'algorithm_not_allowed');
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid)
    return unauthenticated('The token could not be verified.', 'jwks_unavailable');
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

/** The principal with its arrays frozen: a remembered one is shared by every request that presents the token. */
function freezePrincipal(p: Principal): Principal {
  Object.freeze(p.groups);
  Object.freeze(p.scopes);
  return Object.freeze(p);
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
