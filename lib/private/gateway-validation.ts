import { Token } from 'aws-cdk-lib';
import type { EmbeddingGatewayProps } from '../embedding-gateway-props';
import { JwtAlgorithm } from '../policy';

/** Checks of the `EmbeddingGateway` props that can be made before anything is built (unresolved tokens skipped). */
export function validateGatewayProps(props: EmbeddingGatewayProps): void {
  if (!props.issuers || props.issuers.length === 0) throw new Error('EmbeddingGateway: issuers must list at least one trusted OIDC issuer');
  if (!props.models || props.models.length === 0) throw new Error('EmbeddingGateway: models must list at least one UpstreamModel');
  for (const issuer of props.issuers) {
    if (!Token.isUnresolved(issuer.issuerUrl) && !issuer.issuerUrl.startsWith('https://')) {
      throw new Error(
        `EmbeddingGateway: issuer "${issuer.id}" has issuerUrl ${JSON.stringify(issuer.issuerUrl)}; API Gateway's JWT authorizer needs an https:// issuer (use embedgate dev for a local issuer)`,
      );
    }
    for (const alg of issuer.algorithms ?? []) {
      if (!Object.values(JwtAlgorithm).includes(alg))
        throw new Error(
          `EmbeddingGateway: issuer "${issuer.id}" algorithm ${String(alg)} is not supported; use JwtAlgorithm.RS256, RS384 or RS512`,
        );
    }
  }
  const names = props.models.map((m) => m.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`EmbeddingGateway: two models are named "${dup}"; give one a different name with the "name" option`);
  const size = props.maxRequestSize?.toBytes();
  if (size !== undefined && size > 6 * 1024 * 1024) {
    throw new Error('EmbeddingGateway: maxRequestSize must be at most 6 MiB (the Lambda payload limit)');
  }
}
