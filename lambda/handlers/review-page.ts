/**
 * The reviewers' web page: `GET /review` and its static files, served by the proxy handler itself
 * (like `/health`: no token, no record). The files are plain HTML, CSS and an ES module written by
 * hand (`reviewer-page/` in the package); the page signs the reviewer in with OIDC authorization
 * code + PKCE and calls the gateway's approval API with the access token, which it keeps in memory.
 *
 * Every answer is static for a deployment (the files and the page's configuration are read once, at
 * init) and carries a strict Content-Security-Policy: scripts and styles of this origin only, no
 * inline code, network only to this origin and the reviewers' issuer, no framing, no referrer.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { GatewayConfig, ReviewerPageConfig } from '../../shared/config';

/** The page's route; its files are under it (`/review/app.js`). */
export const REVIEW_PATH = '/review';

/** The files of the page: name as served under `/review/` (the page itself is `index.html`), and content type. */
export const REVIEW_FILES = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
} as const;

export type ReviewFileName = keyof typeof REVIEW_FILES;

/** What the page reads from `/review/config.json`: how to sign in and where the approval API is. */
export interface ReviewPageSettings {
  /** The reviewers' issuer URL (discovery: `<issuer>/.well-known/openid-configuration`). */
  readonly issuer: string;
  readonly clientId: string;
  /** Scopes asked for, `openid` first. */
  readonly scopes: readonly string[];
  /** Base path of the approval API for tokens of this issuer, relative to the gateway root (`/v1` or `/<issuer id>/v1`). */
  readonly apiPath: string;
  readonly authorizationEndpoint?: string;
  readonly tokenEndpoint?: string;
  readonly authorizationParams?: Readonly<Record<string, string>>;
}

/** The page's settings from the gateway configuration (null when the page is not configured). */
export function reviewPageSettings(config: GatewayConfig): ReviewPageSettings | null {
  const page: ReviewerPageConfig | undefined = config.reviewerPage;
  if (!page) return null;
  const issuer = config.issuers.find((i) => i.id === page.issuerId);
  if (!issuer) throw new Error(`reviewerPage.issuerId ${JSON.stringify(page.issuerId)} names no issuer`);
  const prefix = config.issuers[0]?.id === issuer.id ? '' : `/${issuer.id}`;
  return {
    issuer: issuer.issuer,
    clientId: page.clientId,
    scopes: ['openid', ...page.scopes.filter((s) => s !== 'openid')],
    apiPath: `${prefix}/v1`,
    ...(page.authorizationEndpoint ? { authorizationEndpoint: page.authorizationEndpoint } : {}),
    ...(page.tokenEndpoint ? { tokenEndpoint: page.tokenEndpoint } : {}),
    ...(page.authorizationParams ? { authorizationParams: page.authorizationParams } : {}),
  };
}

/** The Content-Security-Policy of the page: nothing inline, nothing third-party, network to this origin and the issuer only. */
export function reviewPageCsp(settings: ReviewPageSettings): string {
  const origins = new Set<string>();
  for (const u of [settings.issuer, settings.tokenEndpoint]) if (u) origins.add(new URL(u).origin);
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self' ${[...origins].join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
  ].join('; ');
}

type Result = APIGatewayProxyStructuredResultV2;

/** Answers the page's routes; `undefined` for every other request (the gateway handles it). */
export type ReviewPage = (event: APIGatewayProxyEventV2) => Result | undefined;

/**
 * The page, from its files and the gateway configuration. `files` holds the content of every
 * {@link REVIEW_FILES} entry. Methods other than GET and HEAD get 405; unknown files under
 * `/review/` get 404 (never the gateway: no record, no token asked).
 */
export function createReviewPage(config: GatewayConfig, files: Readonly<Record<ReviewFileName, string>>): ReviewPage | undefined {
  const settings = reviewPageSettings(config);
  if (!settings) return undefined;
  const security: Record<string, string> = {
    'content-security-policy': reviewPageCsp(settings),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
  };
  const served = new Map<string, { type: string; body: string; etag: string }>();
  const add = (path: string, type: string, body: string): void => {
    served.set(path, { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  };
  for (const [name, type] of Object.entries(REVIEW_FILES) as [ReviewFileName, string][]) {
    const body = files[name];
    if (typeof body !== 'string' || body.length === 0) throw new Error(`the reviewer page file ${name} is missing`);
    add(name === 'index.html' ? REVIEW_PATH : `${REVIEW_PATH}/${name}`, type, body);
  }
  add(`${REVIEW_PATH}/config.json`, 'application/json', JSON.stringify(settings));

  return (event) => {
    const path = event.rawPath;
    if (path !== REVIEW_PATH && !path.startsWith(`${REVIEW_PATH}/`)) return undefined;
    const method = event.requestContext?.http?.method ?? 'GET';
    const file = served.get(path);
    const plain = (status: number, text: string, extra: Record<string, string> = {}): Result => ({
      statusCode: status,
      headers: { ...security, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...extra },
      body: text,
    });
    if (!file) return plain(404, 'Not found.\n');
    if (method !== 'GET' && method !== 'HEAD') return plain(405, 'GET only.\n', { allow: 'GET, HEAD' });
    const headers = { ...security, 'content-type': file.type, 'cache-control': 'no-cache', etag: file.etag };
    const inm = headerOf(event, 'if-none-match');
    if (inm && inm.split(',').some((t) => t.trim() === file.etag)) return { statusCode: 304, headers, body: '' };
    return { statusCode: 200, headers, body: method === 'HEAD' ? '' : file.body };
  };
}

/** Reads the page's files from a directory (the package's `reviewer-page/`, or the function's code). */
export function readReviewFiles(dir: string, nameOf: (file: ReviewFileName) => string = (f) => f): Record<ReviewFileName, string> {
  const out = {} as Record<ReviewFileName, string>;
  for (const name of Object.keys(REVIEW_FILES) as ReviewFileName[]) out[name] = readFileSync(join(dir, nameOf(name)), 'utf8');
  return out;
}

/** Names of the page's files in the function's code (next to config.json; the construct ships them). */
export const shippedReviewFileName = (f: ReviewFileName): string => `review-${f}`;

function headerOf(event: APIGatewayProxyEventV2, name: string): string | undefined {
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === name) return v;
  return undefined;
}
