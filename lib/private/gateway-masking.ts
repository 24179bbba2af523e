import { Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { MaskingStrategy, type GatewayMasking } from '../masking';
import type { PolicyRule } from '../policy';

/**
 * The HMAC key of masking pseudonyms: the given one, or a new secret (construct id `PseudonymKey`,
 * encrypted with the logs key) when a strategy (global or a rule's) pseudonymizes; none otherwise.
 */
export function gatewayPseudonymKey(
  scope: Construct,
  masking: GatewayMasking | undefined,
  rules: readonly PolicyRule[],
  key: kms.IKey,
): secretsmanager.ISecret | undefined {
  const pseudonymize =
    masking !== undefined &&
    [...Object.values(masking.strategies ?? {}), ...rules.flatMap((r) => Object.values(r.maskingStrategies ?? {}))].includes(
      MaskingStrategy.PSEUDONYMIZE,
    );
  const pseudonymKey =
    masking?.pseudonymKey ??
    (pseudonymize
      ? new secretsmanager.Secret(scope, 'PseudonymKey', {
          description: 'embedgate: HMAC key of masking pseudonyms (the same value always maps to the same token under it)',
          generateSecretString: { passwordLength: 64, excludePunctuation: true },
          encryptionKey: key,
        })
      : undefined);
  if (pseudonymKey && !masking?.pseudonymKey) {
    const reason =
      'Rotating the pseudonym key changes every pseudonym and breaks retrieval over already embedded documents; rotate it deliberately, with a re-embedding plan.';
    Validations.of(pseudonymKey).acknowledge(
      { id: 'AwsSolutions-SMG4', reason },
      { id: 'NIST.800.53.R5-SecretsManagerRotationEnabled', reason },
    );
  }
  return pseudonymKey;
}
