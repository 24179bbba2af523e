import type { Duration } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { GatewayNetwork } from '../gateway-network';
import { handlerCode, type BundleName } from './handler-code';

/** What differs between embedgate's functions; everything else is the same for all of them. */
export interface GatewayFunctionProps {
  readonly description: string;
  /** The handler bundle (assets/<bundle>) and the files shipped next to it (e.g. config.json). */
  readonly bundle: BundleName;
  readonly files?: Readonly<Record<string, string>>;
  /** @default lambda.Runtime.NODEJS_24_X */
  readonly runtime?: lambda.Runtime;
  readonly memorySize: number;
  readonly timeout: Duration;
  /** The function's private subnets and security group; outside a VPC when undefined. */
  readonly network?: GatewayNetwork;
  readonly logGroup: logs.ILogGroup;
  /** A role from `functionRole` (no AWS managed policies). */
  readonly role: iam.IRole;
  readonly environment: Readonly<Record<string, string>>;
  /** Anything else of this function alone (dead-letter queue, retries, reserved concurrency). */
  readonly extra?: Partial<Omit<lambda.FunctionProps, 'code' | 'handler' | 'runtime' | 'architecture' | 'tracing'>>;
}

/**
 * An embedgate Lambda function: Node.js (24 unless the props say otherwise) on arm64, the ESM
 * bundle's `index.handler`, X-Ray active tracing, its own log group and role, in the gateway's
 * private subnets when a network is given.
 */
export function gatewayFunction(scope: Construct, id: string, p: GatewayFunctionProps): lambda.Function {
  return new lambda.Function(scope, id, {
    description: p.description,
    runtime: p.runtime ?? lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    code: handlerCode(p.bundle, p.files ?? {}),
    memorySize: p.memorySize,
    timeout: p.timeout,
    ...(p.network ? { vpc: p.network.vpc, vpcSubnets: p.network.vpcSubnets, securityGroups: [p.network.lambdaSecurityGroup] } : {}),
    tracing: lambda.Tracing.ACTIVE,
    logGroup: p.logGroup,
    role: p.role,
    environment: { ...p.environment },
    ...p.extra,
  });
}
