/**
 * An issuer's signing keys, as the verifier gets them: OIDC discovery (the `jwks_uri`), then the
 * key set, both through the `KeySetFetch` port (the network where the gateway has egress; a key
 * mirror where its VPC has none), kept fresh and resilient (see {@link resilientKeySet}).
 */
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwksCache } from 'jose';
import type { FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters, JWTVerifyGetKey } from 'jose';
import type { IssuerConfig } from '../../shared/config';
import { isLoopback } from '../../shared/config-runtime';
import type { KeySetFetch } from './ports';

/** `jwksUri` from the config, or from the issuer's OIDC discovery document (fetched through `fetchKeys`). */
export async function discoverJwksUri(issuer: IssuerConfig, fetchKeys: KeySetFetch, timeoutMs: number): Promise<string> {
  if (issuer.jwksUri) return issuer.jwksUri;
  const url = `${issuer.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await fetchKeys(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = (await res.json()) as typeof doc;
  } catch (e) {
    throw new JwksUnavailable(`OIDC discovery failed: ${(e as Error).message}`);
  }
  // Mix-up protection: the discovery document must name exactly the configured issuer.
  if (doc.issuer !== issuer.issuer || typeof doc.jwks_uri !== 'string') {
    throw new JwksUnavailable('OIDC discovery document does not match the configured issuer');
  }
  const jwks = new URL(doc.jwks_uri);
  if (jwks.protocol !== 'https:' && !(jwks.protocol === 'http:' && isLoopback(jwks.hostname))) {
    throw new JwksUnavailable('jwks_uri must use https');
  }
  return doc.jwks_uri;
}

/** The issuer's keys cannot be had now (discovery or JWKS failed): every token of it fails closed. */
export class JwksUnavailable extends Error {}

export type VerificationKey = Awaited<ReturnType<JWTVerifyGetKey>>;

/** An issuer's keys: jose's remote key set with the guarantees of {@link resilientKeySet}. */
export interface ResilientKeySet {
  /**
   * The key for a token's header; `current` is true when it came from the current, fresh key set
   * (not the stale fallback). jose imports each key of a fetched set once: the same key object
   * comes back until the set is fetched again.
   */
  resolve(header: JWSHeaderParameters, token?: FlattenedJWSInput): Promise<{ key: VerificationKey; current: boolean }>;
}

/**
 * Wraps jose's remote key set with two guarantees it does not give on its own:
 * - a failing JWKS endpoint is asked at most once per cooldown (jose's cooldown only covers
 *   unknown kids; without keys it would fetch on every request);
 * - when a refresh fails, the last keys fetched successfully keep verifying for `maxStaleMs`
 *   (stale-if-error), so an IdP outage does not lock out every caller; new kids fail closed.
 * The fetched set is read through jose's `jwksCache` object (no copy per verification).
 */
export function resilientKeySet(
  url: URL,
  remoteOptions: Parameters<typeof createRemoteJWKSet>[1],
  o: { cooldownMs: number; maxStaleMs: number; now: () => number },
): ResilientKeySet {
  // jose writes the last successfully fetched set (a new object each time) and its time here.
  const fetched: { jwks?: JSONWebKeySet; uat?: number } = {};
  const remote = createRemoteJWKSet(url, { ...remoteOptions, [jwksCache]: fetched } as Parameters<typeof createRemoteJWKSet>[1]);
  let lastFailure = -Infinity;
  let lastGood: { keys: JSONWebKeySet; at: number } | undefined;
  const fallback = (header: JWSHeaderParameters, cause: unknown) => {
    if (lastGood && o.now() - lastGood.at <= o.maxStaleMs) return createLocalJWKSet(lastGood.keys)(header);
    throw cause instanceof JwksUnavailable ? cause : new JwksUnavailable('JWKS unavailable');
  };
  return {
    async resolve(header, token) {
      if (o.now() - lastFailure < o.cooldownMs && (fetched.jwks === undefined || remote.fresh === false)) {
        return { key: await fallback(header, new JwksUnavailable('JWKS fetch failed recently')), current: false };
      }
      try {
        const key = await remote(header, token as FlattenedJWSInput);
        if (fetched.jwks) lastGood = { keys: fetched.jwks, at: o.now() };
        return { key, current: true };
      } catch (e) {
        if (
          e instanceof joseErrors.JWKSNoMatchingKey ||
          e instanceof joseErrors.JWKSMultipleMatchingKeys ||
          e instanceof joseErrors.JOSENotSupported
        )
          throw e;
        lastFailure = o.now();
        return { key: await fallback(header, e), current: false };
      }
    },
  };
}
