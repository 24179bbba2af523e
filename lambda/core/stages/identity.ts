/**
 * Stage `identity`: the bearer token of a request, verified, becomes the `Principal`; a token is
 * accepted on its own issuer's routes only (API Gateway's authorizer binding, enforced again).
 * In: the request and its route. Out: the principal (and the time verification took).
 */
import type { GatewayConfig } from '../../../shared/config';
import { unauthenticated } from '../errors';
import type { GatewayRequest, Session } from '../exchange';
import { extractBearerToken } from '../identity';
import type { Principal } from '../principal';
import type { Clock } from '../ports';
import { issuerPrefix, type ResolvedRoute } from '../routes';

/** Verifies bearer tokens (a `TokenVerifier` in production). */
export interface Verifier {
  verify(token: string): Promise<Principal>;
}

export async function identify(
  deps: { readonly config: GatewayConfig; readonly verifier: Verifier; readonly clock: Clock },
  req: GatewayRequest,
  route: ResolvedRoute,
  s: Session,
): Promise<Principal> {
  const t0 = deps.clock.now();
  const token = extractBearerToken(req, deps.config.gateway.maxTokenBytes);
  const principal = await deps.verifier.verify(token);
  s.principal = principal;
  s.authMs = deps.clock.now() - t0;
  if (principal.issuerId !== route.issuerId) {
    throw unauthenticated(
      `Tokens of this issuer are accepted at ${issuerPrefix(deps.config, principal.issuerId)}/v1 only.`,
      'issuer_route_mismatch',
    );
  }
  return principal;
}
