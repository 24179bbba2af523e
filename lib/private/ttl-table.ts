import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

/**
 * The gateway's small key-value tables (revocations, usage counters): partition key `pk`,
 * on-demand, point-in-time recovery, encrypted (the key given, else AWS managed),
 * deletion-protected, DynamoDB TTL on `expiresAt`.
 */
export function ttlTable(
  scope: Construct,
  props: { readonly encryptionKey?: kms.IKey; readonly removalPolicy?: RemovalPolicy },
): dynamodb.TableV2 {
  return new dynamodb.TableV2(scope, 'Resource', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    billing: dynamodb.Billing.onDemand(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: props.encryptionKey
      ? dynamodb.TableEncryptionV2.customerManagedKey(props.encryptionKey)
      : dynamodb.TableEncryptionV2.awsManagedKey(),
    timeToLiveAttribute: 'expiresAt',
    deletionProtection: true,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
}
