import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

/** A customer-managed key of the library: rotated, and retained when it leaves the stack. */
export function retainedKey(scope: Construct, id: string, description: string): kms.Key {
  return new kms.Key(scope, id, { description, enableKeyRotation: true, removalPolicy: RemovalPolicy.RETAIN });
}

/** A `retainedKey` that CloudWatch Logs of the stack's region may use: the key of log groups. */
export function logsKey(scope: Construct, id: string, description: string): kms.Key {
  const key = retainedKey(scope, id, description);
  key.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${Stack.of(scope).region}.amazonaws.com`));
  return key;
}
