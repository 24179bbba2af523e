import { Token } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { GatewayNetworkProps } from '../gateway-network-props';

const PREFIX = 'GatewayNetwork';

function fail(message: string, cause?: unknown): never {
  throw new Error(
    cause === undefined ? `${PREFIX}: ${message}` : `${PREFIX}: ${message} (${cause instanceof Error ? cause.message : String(cause)})`,
  );
}

function isWholeNumber(n: number, min: number): boolean {
  return Number.isInteger(n) && n >= min;
}

/**
 * Checks the props that can be checked before anything is built. Unresolved tokens are skipped:
 * their value is only known at deploy time.
 */
export function validateNetworkProps(props: GatewayNetworkProps): void {
  const imported = props.vpc !== undefined;
  const egress = props.allowInternetEgress === true;

  if (props.maxAzs !== undefined) {
    if (imported) fail('maxAzs applies only to the VPC created here; remove maxAzs, or remove vpc to let GatewayNetwork create the VPC');
    if (!Token.isUnresolved(props.maxAzs) && !isWholeNumber(props.maxAzs, 1)) {
      fail(
        `maxAzs must be a whole number of at least 1 (got ${props.maxAzs}); use 2 or more so the gateway survives the loss of an Availability Zone`,
      );
    }
  }

  if (props.natGateways !== undefined) {
    if (imported)
      fail("natGateways applies only to the VPC created here; an imported VPC's NAT gateways belong to its owner. Remove natGateways");
    if (!egress) {
      fail(
        `natGateways (${props.natGateways}) is set but allowInternetEgress is not true: NAT gateways exist only for models outside AWS. Set allowInternetEgress: true, or remove natGateways`,
      );
    }
    if (!Token.isUnresolved(props.natGateways)) {
      if (!isWholeNumber(props.natGateways, 1)) {
        fail(
          `natGateways must be a whole number of at least 1 when allowInternetEgress is true (got ${props.natGateways}); without a NAT gateway the private subnets have no way out`,
        );
      }
      const maxAzs = props.maxAzs ?? 2;
      if (!Token.isUnresolved(maxAzs) && props.natGateways > maxAzs) {
        fail(
          `natGateways (${props.natGateways}) exceeds maxAzs (${maxAzs}): there is at most one NAT gateway per Availability Zone. Lower natGateways or raise maxAzs`,
        );
      }
    }
  }

  if (!imported) {
    if (props.vpcSubnets !== undefined) {
      fail(
        'vpcSubnets applies only to an imported vpc: the VPC created here has a single subnet group for the Lambdas and endpoints. Remove vpcSubnets, or pass the vpc they belong to',
      );
    }
    if (props.createEndpoints === false) {
      fail(
        'createEndpoints: false applies only to an imported vpc that already has the endpoints; the VPC created here has no other way to reach AWS services. Remove createEndpoints, or pass vpc',
      );
    }
  } else {
    if (props.flowLogRetention !== undefined || props.flowLogEncryptionKey !== undefined) {
      fail(
        "flowLogRetention and flowLogEncryptionKey apply only to the VPC created here; an imported VPC's flow logs belong to its owner. Remove them, or remove vpc",
      );
    }
  }

  const hasS3 = props.s3PrefixList !== undefined;
  const hasDynamoDb = props.dynamoDbPrefixList !== undefined;
  if (hasS3 !== hasDynamoDb) {
    fail(
      `${hasS3 ? 's3PrefixList' : 'dynamoDbPrefixList'} is set without ${hasS3 ? 'dynamoDbPrefixList' : 's3PrefixList'}: the Lambdas need both S3 and DynamoDB, so give both prefix lists or neither`,
    );
  }
  if (hasS3 && egress) {
    fail(
      "s3PrefixList and dynamoDbPrefixList narrow the Lambdas' egress when allowInternetEgress is false; with allowInternetEgress: true they already reach 0.0.0.0/0 on 443. Remove the prefix lists, or set allowInternetEgress: false",
    );
  }
}

/**
 * Resolves the subnet selection, turning the VPC's own error into one that names the fix, and
 * refuses public subnets and empty selections.
 */
export function selectNetworkSubnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection, explicit: boolean): ec2.SelectedSubnets {
  let selected: ec2.SelectedSubnets;
  try {
    selected = vpc.selectSubnets(selection);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    fail(
      explicit
        ? `vpcSubnets does not match the subnets of the VPC: ${reason}`
        : `the default subnet selection ${describeSelection(selection)} does not match the imported VPC: ${reason}. Pass vpcSubnets to choose the Lambdas' subnets`,
      e,
    );
  }
  if (selected.isPendingLookup) return selected;
  if (selected.subnets.length === 0) {
    fail(
      `${explicit ? 'vpcSubnets' : `the default subnet selection ${describeSelection(selection)}`} selects no subnets in the VPC; pass vpcSubnets that select at least one private subnet`,
    );
  }
  if (selected.hasPublic) {
    fail(
      'vpcSubnets selects public subnets: the Lambdas and interface endpoints belong in private subnets (a Lambda in a public subnet gets no public IP, so it cannot use the internet gateway anyway). Select PRIVATE_ISOLATED or PRIVATE_WITH_EGRESS subnets',
    );
  }
  return selected;
}

/**
 * Gateway endpoints add routes to the route tables of the selected subnets: an imported subnet
 * without a route table id would produce a template that fails at deploy time.
 */
export function assertRouteTablesKnown(selected: ec2.SelectedSubnets): void {
  const missing = selected.subnets.filter(
    (s) => !s.routeTable || s.routeTable.routeTableId === undefined || s.routeTable.routeTableId === null,
  );
  if (missing.length > 0) {
    fail(
      `cannot add the S3 and DynamoDB gateway endpoints: the route table of subnet(s) ${missing.map((s) => s.subnetId).join(', ')} is unknown. ` +
        'Pass the *SubnetRouteTableIds to Vpc.fromVpcAttributes, or set createEndpoints: false if the VPC already has the endpoints',
    );
  }
}

const SUBNET_TYPE_NAMES: Record<string, string> = { Isolated: 'PRIVATE_ISOLATED', Private: 'PRIVATE_WITH_EGRESS', Public: 'PUBLIC' };

function describeSelection(selection: ec2.SubnetSelection): string {
  const type = selection.subnetType;
  return type ? `{ subnetType: ${SUBNET_TYPE_NAMES[type] ?? type} }` : '{}';
}
