import * as ec2 from 'aws-cdk-lib/aws-ec2';

/** One interface endpoint the gateway network may create. */
export interface EndpointSpec {
  /** Construct id of the endpoint (public API: keep stable). */
  readonly id: string;
  readonly service: ec2.InterfaceVpcEndpointAwsService;
}

/**
 * Interface endpoints every gateway network gets: what the Lambdas call on every cold start or
 * request, whatever the configuration.
 *
 * - Secrets Manager: upstream API keys.
 * - KMS: the archive's customer-managed key (S3 SSE-KMS data keys), secrets encrypted with a CMK.
 * - CloudWatch Logs: calls to the Logs API from function code (Lambda's own log delivery does not
 *   go through the VPC, but anything that calls the API, e.g. a log subscription tool, does).
 * - STS: web-identity and assume-role calls made by the SDK's credential chain.
 */
export const ALWAYS_ON_ENDPOINTS: readonly EndpointSpec[] = [
  { id: 'SecretsManagerEndpoint', service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER },
  { id: 'KmsEndpoint', service: ec2.InterfaceVpcEndpointAwsService.KMS },
  { id: 'LogsEndpoint', service: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS },
  { id: 'StsEndpoint', service: ec2.InterfaceVpcEndpointAwsService.STS },
];

/**
 * X-Ray: the gateway's Lambdas run with active tracing. Lambda records the function segment itself,
 * but whatever the function code sends to the X-Ray API (centralised sampling rules, OpenTelemetry /
 * ADOT exporters, `PutTraceSegments` from the SDK) leaves through the function's network interface
 * in the VPC; from an isolated subnet it only arrives through an `xray` interface endpoint.
 */
export const XRAY_ENDPOINT: EndpointSpec = { id: 'XRayEndpoint', service: ec2.InterfaceVpcEndpointAwsService.XRAY };
export const COMPREHEND_ENDPOINT: EndpointSpec = { id: 'ComprehendEndpoint', service: ec2.InterfaceVpcEndpointAwsService.COMPREHEND };
export const BEDROCK_RUNTIME_ENDPOINT: EndpointSpec = {
  id: 'BedrockRuntimeEndpoint',
  service: ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME,
};
export const STEP_FUNCTIONS_ENDPOINT: EndpointSpec = {
  id: 'StepFunctionsEndpoint',
  service: ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
};

/** The port every endpoint and every upstream provider is reached on. */
export const HTTPS = 443;
