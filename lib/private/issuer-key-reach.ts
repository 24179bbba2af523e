/**
 * The synth-time egress check for issuers (the models have theirs in embedding-gateway.ts): every
 * trusted issuer must have a way to its keys at runtime, or synth fails naming the issuer and the
 * fix. Three ways exist:
 * - API Gateway's JWT authorizer, outside the VPC, always discovers the keys from the issuer's
 *   public https URL (`<issuerUrl>/.well-known/openid-configuration`): an issuer URL that is not a
 *   public https address can never work;
 * - the proxy fetches them itself: with internet egress, or, for an issuer marked `keysInVpc`,
 *   through the VPC (an internal load balancer of the identity provider, a private hosted zone);
 * - otherwise the key mirror, a function outside the VPC, fetches them from the internet: a
 *   `jwksUri` at a private address is out of its reach.
 */
import { BlockList, isIP } from 'node:net';
import { Annotations, Token } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { GatewayNetwork } from '../gateway-network';
import type { TrustedIssuer } from '../policy';

const PRIVATE_RANGES = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  PRIVATE_RANGES.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  PRIVATE_RANGES.addSubnet(net, prefix, 'ipv6');

/** Name suffixes that never resolve on the public internet. */
const PRIVATE_SUFFIXES = ['.localhost', '.local', '.internal', '.lan', '.home.arpa', '.intranet'];

/**
 * Why `url`'s host is reachable only from a private network (a private, loopback or link-local
 * address; a name that never resolves publicly), or undefined when it may be public.
 */
export function privateHost(url: string): string | undefined {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
  const bare = host.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family !== 0) return PRIVATE_RANGES.check(bare, family === 4 ? 'ipv4' : 'ipv6') ? `${bare} is a private address` : undefined;
  if (host === 'localhost' || PRIVATE_SUFFIXES.some((s) => host.endsWith(s))) return `${host} is not a public name`;
  if (!host.includes('.')) return `${host} is a single-label name`;
  return undefined;
}

const concrete = (v: string | undefined): v is string => v !== undefined && !Token.isUnresolved(v);

/**
 * Checks that every issuer's keys can be had at runtime on this network (throws naming the issuer
 * and the fix) and warns where the construct cannot tell. Returns the issuers the key mirror must
 * serve: none when the network has egress (the proxy fetches every issuer's keys itself).
 */
export function checkIssuerKeyReach(scope: Construct, issuers: readonly TrustedIssuer[], network: GatewayNetwork): TrustedIssuer[] {
  for (const i of issuers) {
    const where = concrete(i.issuerUrl) ? privateHost(i.issuerUrl) : undefined;
    if (where) {
      throw new Error(
        `EmbeddingGateway: issuer "${i.id}" has issuerUrl ${JSON.stringify(i.issuerUrl)}, but ${where}: API Gateway's JWT authorizer (and the key mirror) fetch the discovery document from the internet, so the issuer needs a public https URL. To keep the proxy's own key fetches inside the VPC, point jwksUri at the internal address and set keysInVpc: true`,
      );
    }
    if (concrete(i.jwksUri) && !i.jwksUri.startsWith('https://')) {
      throw new Error(
        `EmbeddingGateway: issuer "${i.id}" has jwksUri ${JSON.stringify(i.jwksUri)}; keys are fetched over https only: use the https:// URL of the issuer's JWKS`,
      );
    }
    const jwksWhere = concrete(i.jwksUri) ? privateHost(i.jwksUri) : undefined;
    if (jwksWhere && !i.keysInVpc && !network.egressAllowed) {
      throw new Error(
        `EmbeddingGateway: issuer "${i.id}" has jwksUri ${JSON.stringify(i.jwksUri)}, but ${jwksWhere}: the gateway has no internet egress, so its keys come from the key mirror, which runs outside the VPC and cannot reach that address. Set keysInVpc: true on the issuer (the proxy then fetches its keys through the VPC), or use a public jwksUri (or none: the issuer's discovery document names it)`,
      );
    }
    if (i.keysInVpc && !network.egressAllowed && !concrete(i.jwksUri)) {
      Annotations.of(scope).addWarningV2(
        `embedgate:issuerKeysInVpcDiscovery:${i.id}`,
        `issuer "${i.id}" has keysInVpc and no jwksUri: the proxy fetches ${i.issuerUrl}/.well-known/openid-configuration and the jwks_uri it names through the VPC, so those hosts must resolve to addresses inside the VPC (e.g. a private hosted zone) and the Lambda security group must allow 443 to them; otherwise every token of the issuer is refused (jwks_unavailable). Set jwksUri to the internal address to avoid the discovery fetch`,
      );
    }
  }
  if (network.egressAllowed) {
    // An imported VPC (no flow log of ours) says it has egress: only its route tables know.
    if (network.flowLog === undefined) {
      const fetched = issuers.filter((i) => !i.keysInVpc).map((i) => `"${i.id}"`);
      if (fetched.length > 0)
        Annotations.of(scope).addWarningV2(
          'embedgate:issuerKeysOverImportedEgress',
          `issuer(s) ${fetched.join(', ')}: the proxy fetches their keys over the imported VPC's internet egress, which this construct cannot check; if the Lambdas' subnets do not route 0.0.0.0/0 through a NAT gateway, every token is refused (jwks_unavailable). Check the routes, or pass a network without egress (the key mirror then serves the keys)`,
        );
    }
    return [];
  }
  return issuers.filter((i) => !i.keysInVpc);
}
