/**
 * API Gateway HTTP API (payload v2) <-> the core's request and response shapes.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { GatewayRequest, GatewayResponse } from '../core/gateway';

export function toGatewayRequest(event: APIGatewayProxyEventV2): GatewayRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
  const ctx = event.requestContext;
  return {
    method: ctx?.http?.method ?? 'GET',
    path: event.rawPath ?? ctx?.http?.path ?? '/',
    headers,
    rawQueryString: event.rawQueryString ?? '',
    body: event.body,
    isBase64Encoded: event.isBase64Encoded ?? false,
    requestId: ctx?.requestId ?? null,
    sourceIp: ctx?.http?.sourceIp ?? null,
    ...(ctx?.domainName ? { domainName: ctx.domainName } : {}),
    ...(typeof ctx?.timeEpoch === 'number' ? { receivedAt: ctx.timeEpoch } : {}),
  };
}

export function toApiGatewayResult(res: GatewayResponse): APIGatewayProxyStructuredResultV2 {
  return { statusCode: res.status, headers: res.headers, body: res.body, isBase64Encoded: false };
}
