import { Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { CT_RULES } from './control-tower';
import { RoleLambdaIntegration } from './role-lambda-integration';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ACCESS_LOG_FORMAT } from '../../shared/contract';
import type { EmbeddingGatewayProps } from '../embedding-gateway-props';
import { gatewayLogGroup, type GatewayLogs } from './gateway-functions';

/** The gateway's HTTP API, its stage and its access log. */
export interface GatewayApi {
  readonly accessLogGroup: logs.LogGroup;
  readonly api: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  /** The base URL clients of the primary issuer use (`<url>/v1`). */
  readonly url: string;
  /** The proxy's integration (more routes to the proxy use it). */
  readonly integration: RoleLambdaIntegration;
}

/**
 * The HTTP API (construct ids `AccessLogs`, `Api`, `Stage`): one JWT authorizer per issuer, the
 * primary issuer at /v1, the others at /<id>/v1; the approval routes when there is a workflow;
 * `GET /health` without a token.
 */
export function addGatewayApi(
  scope: Construct,
  c: {
    readonly props: EmbeddingGatewayProps;
    readonly logs: GatewayLogs;
    readonly proxyFunction: lambda.IFunction;
    readonly approvals: boolean;
  },
): GatewayApi {
  const props = c.props;
  const accessLogGroup = gatewayLogGroup(scope, 'AccessLogs', c.logs);
  const api = new apigwv2.HttpApi(scope, 'Api', {
    description: 'embedgate: identity-aware embeddings gateway',
    createDefaultStage: false,
    ...(props.domainName ? { defaultDomainMapping: { domainName: props.domainName } } : {}),
  });
  const stage = new apigwv2.HttpStage(scope, 'Stage', {
    httpApi: api,
    stageName: '$default',
    autoDeploy: true,
    throttle: { rateLimit: props.throttlingRateLimit ?? 100, burstLimit: props.throttlingBurstLimit ?? 200 },
    accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogGroup), format: accessLogFormat() },
  });
  const integration = new RoleLambdaIntegration('Proxy', c.proxyFunction, scope);
  props.issuers.forEach((issuer, i) => {
    const authorizer = new HttpJwtAuthorizer(`Jwt-${issuer.id}`, issuer.issuerUrl, {
      jwtAudience: issuer.audiences,
      authorizerName: `jwt-${issuer.id}`,
    });
    const prefix = i === 0 ? '' : `/${issuer.id}`;
    api.addRoutes({ path: `${prefix}/v1/embeddings`, methods: [apigwv2.HttpMethod.POST], integration, authorizer });
    api.addRoutes({ path: `${prefix}/v1/models`, methods: [apigwv2.HttpMethod.GET], integration, authorizer });
    if (c.approvals) {
      api.addRoutes({ path: `${prefix}/v1/approvals`, methods: [apigwv2.HttpMethod.GET], integration, authorizer });
      api.addRoutes({ path: `${prefix}/v1/approvals/{id}`, methods: [apigwv2.HttpMethod.GET], integration, authorizer });
      api.addRoutes({ path: `${prefix}/v1/approvals/{id}/decision`, methods: [apigwv2.HttpMethod.POST], integration, authorizer });
    }
  });
  const [health] = api.addRoutes({ path: '/health', methods: [apigwv2.HttpMethod.GET], integration });
  const healthReason =
    'GET /health is the liveness probe: it answers a constant {"status":"ok"} without reading a body, a token or any data, and writes no record.';
  Validations.of(health!).acknowledge(
    { id: 'AwsSolutions-APIG4', reason: healthReason },
    { id: CT_RULES.routeAuthorization, reason: `CT.APIGATEWAY.PR.5: ${healthReason}` },
  );
  return { accessLogGroup, api, stage, url: `${stage.url.replace(/\/$/, '')}/v1`, integration };
}

/** One JSON line per request: what API Gateway decided, even when the function never ran (fields: shared/contract.ts). */
function accessLogFormat(): AccessLogFormat {
  return AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FORMAT));
}
