/**
 * The platform's limits the construct and the runtime both respect (one place, so the synth-time
 * checks of lib/ and the per-request checks of lambda/ agree).
 */

/** Lambda's limit of a synchronous invocation's request and response payloads, bytes (6 MB). */
export const LAMBDA_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

/** API Gateway's (HTTP API) integration timeout, ms: after it the client gets API Gateway's own error. */
export const API_GATEWAY_INTEGRATION_TIMEOUT_MS = 30_000;

/** Margin kept between the function timeout and API Gateway's integration timeout, ms. */
export const INTEGRATION_MARGIN_MS = 1_000;

/**
 * Time kept at the end of an invocation to answer and write the request's record, ms: the
 * per-request deadline of upstream work is the function's remaining time less this.
 */
export const RECORD_RESERVE_MS = 2_500;

/** Sum of the backoff waits of `retries` retries at most (full jitter, base 100 ms, cap 2 s; see lambda/providers/retry.ts). */
export function maxBackoffMs(retries: number, baseMs = 100, capMs = 2000): number {
  let total = 0;
  for (let r = 0; r < retries; r++) total += Math.min(capMs, baseMs * 2 ** r);
  return total;
}
