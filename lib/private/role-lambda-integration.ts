/**
 * An HTTP API Lambda proxy integration (payload 2.0) that API Gateway calls with a role of its own,
 * instead of the resource-based permission per route `HttpLambdaIntegration` adds: the function has
 * no resource policy (Control Tower CT.LAMBDA.PR.2), and what may invoke it is one IAM role that
 * only API Gateway of this account may assume, allowed `lambda:InvokeFunction` on this function alone.
 */
import { Aws } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';

export class RoleLambdaIntegration extends apigwv2.HttpRouteIntegration {
  private role: iam.Role | undefined;

  constructor(
    id: string,
    private readonly handler: lambda.IFunction,
    private readonly roleScope: Construct,
  ) {
    super(id);
  }

  bind(_options: apigwv2.HttpRouteIntegrationBindOptions): apigwv2.HttpRouteIntegrationConfig {
    this.role ??= invokeRole(this.roleScope, this.handler);
    return {
      type: apigwv2.HttpIntegrationType.AWS_PROXY,
      uri: this.handler.functionArn,
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
      credentials: apigwv2.IntegrationCredentials.fromRole(this.role),
    };
  }
}

function invokeRole(scope: Construct, handler: lambda.IFunction): iam.Role {
  const role = new iam.Role(scope, 'ApiInvokeRole', {
    description: 'API Gateway invokes the embedgate proxy function with this role',
    assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
    }),
  });
  role.addManagedPolicy(
    new iam.ManagedPolicy(scope, 'ApiInvokePolicy', {
      description: 'Invoke the embedgate proxy function (this function only, no version or alias)',
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [handler.functionArn] })],
    }),
  );
  return role;
}
