/**
 * Routes and the issuer each serves. API Gateway allows one JWT authorizer per route, so the
 * primary (first) issuer is served at `/v1/...` and every other issuer under its id, at
 * `/<id>/v1/...`. The handler enforces the same binding (defence in depth): a token is only
 * accepted on its own issuer's routes.
 */
import type { GatewayConfig } from '../../shared/config';

export interface ResolvedRoute {
  /** The issuer id this path belongs to. */
  readonly issuerId: string;
  /** The path without the issuer prefix, e.g. `/v1/embeddings`. */
  readonly path: string;
  /** The prefix clients of this issuer use (`''` for the primary issuer). */
  readonly prefix: string;
}

export function resolveRoute(config: GatewayConfig, rawPath: string): ResolvedRoute {
  const path = rawPath.replace(/\/+$/, '') || '/';
  for (const issuer of config.issuers.slice(1)) {
    const prefix = `/${issuer.id}`;
    if (path.startsWith(`${prefix}/`)) return { issuerId: issuer.id, path: path.slice(prefix.length), prefix };
  }
  return { issuerId: config.issuers[0]!.id, path, prefix: '' };
}

/** The base URL path prefix of an issuer's clients. */
export function issuerPrefix(config: GatewayConfig, issuerId: string): string {
  return config.issuers[0]?.id === issuerId ? '' : `/${issuerId}`;
}
