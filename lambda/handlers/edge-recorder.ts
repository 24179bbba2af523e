/**
 * The edge recorder: one session record for every request API Gateway answered without running
 * the proxy (its JWT authorizer refused the token, no route matched, the stage throttled).
 * Fed by a CloudWatch Logs subscription on the API's access log, filtered to entries whose
 * `integrationStatus` is "-". Each entry is recorded by the same session recorder as a request
 * the proxy refused itself, so edge records have the same shape.
 *
 * Delivery is at least once: the session id is derived from API Gateway's request id, and the
 * archive never overwrites, so a redelivered entry is recognised and skipped. Any other archive
 * failure fails the invocation, and Lambda retries it (then sends it to the dead-letter queue).
 */
import { gunzipSync } from 'node:zlib';
import type { CloudWatchLogsEvent, CloudWatchLogsDecodedData } from 'aws-lambda';
import type { AccessLogEntry } from '../../shared/contract';
import { GatewayError, type ErrorType } from '../core/errors';
import type { GatewayRequest } from '../core/exchange';
import type { SessionRecorder } from '../core/recorder';
import { uuidv7From } from '../core/ids';
import { logger } from './powertools';

/** The fields of the access-log format the construct configures (shared/contract.ts). */
export type { AccessLogEntry } from '../../shared/contract';

const EDGE: Readonly<Record<number, { reason: string; type: ErrorType; code: string; message: string }>> = {
  401: { reason: 'edge_token_rejected', type: 'authentication_error', code: 'invalid_token', message: 'Unauthorized' },
  403: { reason: 'edge_forbidden', type: 'permission_error', code: 'forbidden', message: 'Forbidden' },
  404: { reason: 'edge_route_not_found', type: 'not_found_error', code: 'route_not_found', message: 'Not Found' },
  413: { reason: 'edge_payload_too_large', type: 'invalid_request_error', code: 'request_too_large', message: 'Request Entity Too Large' },
  429: { reason: 'edge_throttled', type: 'rate_limit_error', code: 'throttled', message: 'Too Many Requests' },
};

/** The request and the error API Gateway answered with, from one access-log entry. */
export function fromAccessLog(e: AccessLogEntry): { request: GatewayRequest; error: GatewayError; sessionId: string } {
  const status = Number(e.status);
  const receivedAt = Number(e.time);
  const known = EDGE[status];
  const error = new GatewayError(known?.message ?? `API Gateway answered ${status}`, {
    status: Number.isInteger(status) && status >= 100 ? status : 500,
    type: known?.type ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
    code: known?.code ?? `edge_${status}`,
    reason: known?.reason ?? `edge_status_${e.status ?? 'unknown'}`,
  });
  const dash = (v: string | undefined) => (v === undefined || v === '-' || v === '' ? undefined : v);
  const request: GatewayRequest = {
    method: dash(e.method) ?? 'UNKNOWN',
    path: dash(e.path) ?? '/',
    headers: dash(e.userAgent) ? { 'user-agent': e.userAgent } : {},
    rawQueryString: '',
    body: undefined,
    isBase64Encoded: false,
    requestId: e.requestId,
    sourceIp: dash(e.ip) ?? null,
    ...(Number.isFinite(receivedAt) && receivedAt > 0 ? { receivedAt } : {}),
  };
  return { request, error, sessionId: uuidv7From(Number.isFinite(receivedAt) ? receivedAt : Date.now(), `apigw:${e.requestId}`) };
}

/** Decode a CloudWatch Logs subscription event. */
export function decodeLogsEvent(event: CloudWatchLogsEvent): CloudWatchLogsDecodedData {
  return JSON.parse(gunzipSync(Buffer.from(event.awslogs.data, 'base64')).toString('utf8')) as CloudWatchLogsDecodedData;
}

export function createEdgeRecorder(
  recorder: SessionRecorder,
): (event: CloudWatchLogsEvent) => Promise<{ recorded: number; duplicates: number; skipped: number }> {
  return async (event) => {
    const data = decodeLogsEvent(event);
    let recorded = 0;
    let duplicates = 0;
    let skipped = 0;
    for (const le of data.logEvents) {
      let entry: AccessLogEntry;
      try {
        entry = JSON.parse(le.message) as AccessLogEntry;
      } catch {
        skipped++;
        continue;
      }
      // Requests the proxy handled are recorded by the proxy itself.
      if (
        !entry.requestId ||
        (entry.integrationStatus !== undefined && entry.integrationStatus !== '-' && entry.integrationStatus !== '')
      ) {
        skipped++;
        continue;
      }
      const { request, error, sessionId } = fromAccessLog(entry);
      const handled = await recorder.recordRefusal(request, error, sessionId);
      if (handled.archiveError) {
        if ((handled.archiveError as Error).name === 'ArchiveConflictError') {
          duplicates++;
          continue;
        }
        // Fail the invocation: Lambda retries it, then hands it to the dead-letter queue.
        throw handled.archiveError;
      }
      recorded++;
    }
    logger.info('edge records', { recorded, duplicates, skipped });
    return { recorded, duplicates, skipped };
  };
}
