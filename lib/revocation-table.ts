import type { RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { ttlTable } from './private/ttl-table';

/** Properties of a `RevocationTable`. */
export interface RevocationTableProps {
  /**
   * Key that encrypts the table.
   * @default - an AWS managed key (`alias/aws/dynamodb`)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the table when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The runtime deny list: a DynamoDB table of revoked subjects, client ids and token ids, read by
 * the proxy on every request (through a short cache) and written by operators with
 * `embedgate revoke`. On-demand, point-in-time recovery, encrypted, deletion-protected;
 * expired revocations are removed by DynamoDB TTL on `expiresAt`.
 *
 * Items: partition key `pk` = `sub#<issuer|*>#<subject>`, `client#<issuer|*>#<client id>` or
 * `jti#<issuer>#<token id>`; attributes `reason`, `until`, `createdAt`, `createdBy`, `expiresAt`.
 */
export class RevocationTable extends Construct {
  /** The table. */
  public readonly table: dynamodb.TableV2;
  private readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: RevocationTableProps = {}) {
    super(scope, id);
    this.encryptionKey = props.encryptionKey;
    this.table = ttlTable(this, props);
  }

  /** Read the deny list (what the proxy needs): `GetItem` and `BatchGetItem` only. */
  public grantCheck(grantee: iam.IGrantable): iam.Grant {
    this.encryptionKey?.grantDecrypt(grantee);
    return this.table.grant(grantee, 'dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:DescribeTable');
  }

  /** Revoke, list and lift revocations (operators, `embedgate revoke`). */
  public grantRevoke(grantee: iam.IGrantable): iam.Grant {
    this.encryptionKey?.grantEncryptDecrypt(grantee);
    return this.table.grant(
      grantee,
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:PutItem',
      'dynamodb:DeleteItem',
      'dynamodb:Scan',
      'dynamodb:Query',
      'dynamodb:DescribeTable',
    );
  }
}
