import type { RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ttlTable } from './private/ttl-table';
import { HANDLER_ENV } from '../shared/contract';

/** Properties of a `UsageTable`. */
export interface UsageTableProps {
  /**
   * Key that encrypts the table.
   * @default - an AWS managed key (`alias/aws/dynamodb`)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the table when it leaves the stack (its items are short-lived counters).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The counters of per-principal rate limits and quotas: one item per principal scope and fixed
 * window (`rl#<scope>:<seconds>:<index>`, numbers `requests`, `items`, `tokens`) and one per scope
 * for the requests in flight (`rl#<scope>:inflight`, a map of leases). Every admission is a
 * conditional `UpdateItem`, so limits hold exactly across Lambda instances. On-demand,
 * point-in-time recovery, encrypted, deletion-protected; DynamoDB TTL on `expiresAt` removes a
 * window's item a day after it ends.
 */
export class UsageTable extends Construct {
  /** The table. */
  public readonly table: dynamodb.TableV2;
  private readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: UsageTableProps = {}) {
    super(scope, id);
    this.encryptionKey = props.encryptionKey;
    this.table = ttlTable(this, props);
  }

  /**
   * Count and check (what the proxy needs): `UpdateItem` (the conditional adds and leases),
   * `GetItem` (which limit refused; the lease map) and `PutItem` (a scope's first lease). No
   * scan, query or delete.
   */
  public grantCount(grantee: iam.IGrantable): iam.Grant {
    this.encryptionKey?.grantEncryptDecrypt(grantee);
    return this.table.grant(grantee, 'dynamodb:UpdateItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DescribeTable');
  }

  /** Give the proxy function the table: its name in `HANDLER_ENV.usageTable` and `grantCount`. */
  public attachTo(fn: lambda.Function): void {
    fn.addEnvironment(HANDLER_ENV.usageTable, this.table.tableName);
    this.grantCount(fn);
  }
}
