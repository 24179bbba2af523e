/** Where an approval can be polled and decided: absolute URLs on the gateway's own domain. */
import type { GatewayConfig } from '../../../shared/config';
import type { GatewayRequest } from '../exchange';
import { resolveRoute } from '../routes';

export interface ApprovalUrls {
  readonly poll: string;
  readonly decision: string;
}

/** Absolute URLs of an approval's resources, on the host and issuer prefix the client used. */
export function approvalUrls(config: GatewayConfig, req: GatewayRequest, id: string, prefix?: string): ApprovalUrls {
  const pre = prefix ?? resolveRoute(config, req.path).prefix;
  // The API's own domain, never the client's Host or X-Forwarded-* headers: these URLs reach
  // reviewers, and a requester must not be able to point them elsewhere.
  const host = req.domainName;
  const base = host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? `${isLoopbackHost(host) ? 'http' : 'https'}://${host}` : '';
  const poll = `${base}${pre}/v1/approvals/${id}`;
  return { poll, decision: `${poll}/decision` };
}

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}
