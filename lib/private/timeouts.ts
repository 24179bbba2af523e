/**
 * The construct's timeouts, made to fit together at synth: the proxy function's timeout within API
 * Gateway's 30 s integration limit (less a margin), and each model's upstream budget (per-attempt
 * timeout x attempts + the longest backoff) within what the function leaves for upstream work (its
 * timeout less the reserve the handler keeps to answer and record). Past these, API Gateway or
 * Lambda would end a request without the gateway's answer and without its record.
 *
 * A model without an explicit upstream timeout gets the longest one that fits.
 */
import { Duration, Token } from 'aws-cdk-lib';
import { API_GATEWAY_INTEGRATION_TIMEOUT_MS, INTEGRATION_MARGIN_MS, maxBackoffMs, RECORD_RESERVE_MS } from '../../shared/limits';
import type { UpstreamModelBinding } from '../upstream-model';

/** Retries after the first attempt when a model does not say (shared/config.ts's default). */
const DEFAULT_MAX_RETRIES = 2;
/** The shortest upstream attempt worth making, ms. */
const MIN_ATTEMPT_MS = 1_000;

/** The longest function timeout API Gateway's integration limit leaves room for. */
export const MAX_FUNCTION_TIMEOUT = Duration.millis(API_GATEWAY_INTEGRATION_TIMEOUT_MS - INTEGRATION_MARGIN_MS);

/** Throws when `timeout` does not fit within API Gateway's integration limit. */
export function validateFunctionTimeout(timeout: Duration): void {
  if (Token.isUnresolved(timeout.toMilliseconds({ integral: false }))) return;
  const ms = timeout.toMilliseconds();
  if (ms > MAX_FUNCTION_TIMEOUT.toMilliseconds()) {
    throw new Error(
      `timeout (${ms / 1000} s) must be at most ${MAX_FUNCTION_TIMEOUT.toSeconds()} seconds: API Gateway ends the integration after ${API_GATEWAY_INTEGRATION_TIMEOUT_MS / 1000} s with its own error and the request gets no record. Set timeout to Duration.seconds(${MAX_FUNCTION_TIMEOUT.toSeconds()}) or less.`,
    );
  }
  if (ms <= RECORD_RESERVE_MS + MIN_ATTEMPT_MS) {
    throw new Error(
      `timeout (${ms / 1000} s) leaves no time for an upstream call: the handler keeps ${RECORD_RESERVE_MS} ms to answer and record. Set timeout to at least Duration.seconds(${Math.ceil((RECORD_RESERVE_MS + MIN_ATTEMPT_MS) / 1000) + 1}).`,
    );
  }
}

/**
 * The bindings with every model's upstream timeout fitted to the function timeout: an explicit one
 * is checked (throws, naming the model, the sum and the fix), a missing one is set to the longest
 * that fits.
 */
export function fitUpstreamTimeouts(functionTimeout: Duration, bindings: readonly UpstreamModelBinding[]): UpstreamModelBinding[] {
  validateFunctionTimeout(functionTimeout);
  const fnMs = functionTimeout.toMilliseconds();
  const budget = fnMs - RECORD_RESERVE_MS;
  return bindings.map((b) => {
    const config = b.config as { name?: unknown; upstream?: { timeoutMs?: number; maxRetries?: number } };
    const upstream = config.upstream ?? {};
    const retries = upstream.maxRetries ?? DEFAULT_MAX_RETRIES;
    if (Token.isUnresolved(retries) || (upstream.timeoutMs !== undefined && Token.isUnresolved(upstream.timeoutMs))) return b;
    const backoff = maxBackoffMs(retries);
    const attempts = 1 + retries;
    const longest = Math.floor((budget - backoff) / attempts);
    const name = String(config.name);
    if (upstream.timeoutMs === undefined) {
      if (longest < MIN_ATTEMPT_MS) {
        throw new Error(
          `model "${name}": ${attempts} upstream attempts (maxRetries ${retries}) do not fit in the ${budget} ms the function has for upstream work (timeout ${fnMs / 1000} s less ${RECORD_RESERVE_MS} ms to answer and record): lower upstream.maxRetries or raise timeout.`,
        );
      }
      return { ...b, config: { ...b.config, upstream: { ...upstream, timeoutMs: longest } } };
    }
    const total = upstream.timeoutMs * attempts + backoff;
    if (total > budget) {
      throw new Error(
        `model "${name}": upstream.timeout ${upstream.timeoutMs} ms x ${attempts} attempts + ${backoff} ms backoff = ${total} ms, more than the ${budget} ms the function has for upstream work (timeout ${fnMs / 1000} s less ${RECORD_RESERVE_MS} ms to answer and record). Set upstream.timeout to at most Duration.millis(${longest}), or lower upstream.maxRetries.`,
      );
    }
    return b;
  });
}
