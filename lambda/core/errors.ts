/**
 * Errors the gateway answers with. Every one carries the HTTP status, the OpenAI error shape
 * (`type`, `code`, `param`) and a stable reason code that goes into the session record.
 */
import type { UpstreamStats } from './ports';

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'server_error';

export interface GatewayErrorOptions {
  readonly status: number;
  readonly type: ErrorType;
  /** Machine-readable code shown to the client (OpenAI `code`). */
  readonly code: string;
  /** The request parameter at fault, if any (OpenAI `param`). */
  readonly param?: string | null;
  /** Reason code for the session record; defaults to `code`. */
  readonly reason?: string;
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string;
  readonly param: string | null;
  readonly reason: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(message: string, opts: GatewayErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.status = opts.status;
    this.type = opts.type;
    this.code = opts.code;
    this.param = opts.param ?? null;
    this.reason = opts.reason ?? opts.code;
    this.headers = opts.headers ?? {};
  }

  /** The OpenAI-compatible error body. */
  toBody(): { error: { message: string; type: string; code: string; param: string | null } } {
    return { error: { message: this.message, type: this.type, code: this.code, param: this.param } };
  }
}

/** The upstream provider failed; carries what was observed for the record. */
export class UpstreamError extends GatewayError {
  readonly upstream: UpstreamStats;
  constructor(message: string, opts: GatewayErrorOptions & { readonly upstream: UpstreamStats }) {
    super(message, opts);
    this.name = 'UpstreamError';
    this.upstream = opts.upstream;
  }
}

export const invalidRequest = (message: string, code: string, param: string | null = null, status = 400): GatewayError =>
  new GatewayError(message, { status, type: 'invalid_request_error', code, param });

export const unauthenticated = (message: string, reason: string): GatewayError =>
  new GatewayError(message, {
    status: 401,
    type: 'authentication_error',
    code: 'invalid_token',
    reason,
    headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
  });

/**
 * 503: something the request needs is unavailable right now; nothing was sent. `retryAfter`
 * (seconds) becomes `Retry-After`; `reason` defaults to `code`.
 */
export const unavailable = (
  message: string,
  code: string,
  opts: { readonly retryAfter?: number; readonly cause?: unknown; readonly reason?: string } = {},
): GatewayError =>
  new GatewayError(message, {
    status: 503,
    type: 'server_error',
    code,
    ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
    ...(opts.retryAfter !== undefined ? { headers: { 'retry-after': String(opts.retryAfter) } } : {}),
    ...(opts.cause !== undefined ? { cause: opts.cause } : {}),
  });

export const forbidden = (message: string, code: string, reason: string = code): GatewayError =>
  new GatewayError(message, { status: 403, type: 'permission_error', code, reason });

/**
 * The archive key already holds a record; nothing was overwritten. Archives reject `put` with
 * this (by `name`) so that a writer that retries with a deterministic session id can tell
 * "written before" from "not written".
 */
export class ArchiveConflictError extends Error {
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`an archived object already exists at ${key}; records are never overwritten`, options);
    this.name = 'ArchiveConflictError';
  }
}

/** True for an {@link ArchiveConflictError}, also across bundle copies of the class (by name). */
export const isArchiveConflict = (e: unknown): boolean => (e as { name?: unknown } | null)?.name === 'ArchiveConflictError';
