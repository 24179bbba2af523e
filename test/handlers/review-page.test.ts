/**
 * The reviewer page as the proxy handler serves it: static files with security headers, no token,
 * no record, nothing but GET/HEAD, the sign-in settings from the configuration.
 */
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { loadConfig, ConfigError } from '../../shared/config';
import type { Gateway } from '../../lambda/core/gateway';
import { proxyCore } from '../../lambda/handlers/proxy';
import {
  createReviewPage,
  readReviewFiles,
  REVIEW_FILES,
  reviewPageSettings,
  shippedReviewFileName,
} from '../../lambda/handlers/review-page';
import { REVIEW_PAGE_FILES } from '../../lib/private/review-page-routes';

const ISSUERS = [
  { id: 'corp', issuer: 'https://idp.example.com', audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' },
  { id: 'people', issuer: 'https://login.example.org/tenant/v2.0', audiences: 'embedgate', jwksUri: 'https://login.example.org/keys' },
];
const BASE = {
  issuers: ISSUERS,
  models: [{ name: 'local', provider: 'local', dimensions: 4 }],
  policy: { rules: [{ id: 'all', effect: 'allow', match: { groups: 'g' } }] },
};
const config = loadConfig({
  ...BASE,
  reviewerPage: {
    issuerId: 'people',
    clientId: 'review-spa',
    scopes: ['api://embedgate/approvals'],
    tokenEndpoint: 'https://auth.example.net/oauth2/token',
  },
});
const files = readReviewFiles(join(__dirname, '..', '..', 'reviewer-page'));
const page = createReviewPage(config, files)!;

const event = (path: string, method = 'GET', headers: Record<string, string> = {}): APIGatewayProxyEventV2 =>
  ({ rawPath: path, rawQueryString: '', headers, requestContext: { http: { method } } }) as unknown as APIGatewayProxyEventV2;

test('serves the page and its files with their types and a strict Content-Security-Policy', () => {
  const html = page(event('/review'))!;
  expect(html.statusCode).toBe(200);
  expect(html.headers!['content-type']).toBe('text/html; charset=utf-8');
  expect(html.body).toBe(files['index.html']);
  const csp = String(html.headers!['content-security-policy']);
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("style-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('unsafe-eval');
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("require-trusted-types-for 'script'");
  // Network to this origin, the issuer (discovery) and the token endpoint only.
  expect(csp).toContain("connect-src 'self' https://login.example.org https://auth.example.net;");
  expect(html.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' });
  for (const [name, type] of Object.entries(REVIEW_FILES)) {
    if (name === 'index.html') continue;
    const r = page(event(`/review/${name}`))!;
    expect([r.statusCode, r.headers!['content-type']]).toEqual([200, type]);
  }
});

test('the page has no inline script or style and loads nothing from another origin', () => {
  for (const name of ['index.html', 'app.js', 'style.css'] as const) {
    expect(files[name]).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=|https?:\/\//i);
  }
  // Text only: the page never parses data as HTML.
  expect(files['app.js']).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
  // The token lives in memory only.
  expect(files['app.js']).not.toMatch(/localStorage|document\.cookie/);
});

test('config.json carries the sign-in settings and the API path of the reviewers\u2019 issuer (not the primary one)', () => {
  const r = page(event('/review/config.json'))!;
  expect(JSON.parse(r.body!)).toEqual({
    issuer: 'https://login.example.org/tenant/v2.0',
    clientId: 'review-spa',
    scopes: ['openid', 'api://embedgate/approvals'],
    apiPath: '/people/v1',
    tokenEndpoint: 'https://auth.example.net/oauth2/token',
  });
  const primary = reviewPageSettings(loadConfig({ ...BASE, reviewerPage: { issuerId: 'corp', clientId: 'c' } }))!;
  expect(primary.apiPath).toBe('/v1');
});

test('unknown files are 404, other methods 405, a matching ETag 304, HEAD has no body', () => {
  expect(page(event('/review/secrets.json'))!.statusCode).toBe(404);
  expect(page(event('/review/../config.json'))!.statusCode).toBe(404);
  const post = page(event('/review', 'POST'))!;
  expect([post.statusCode, post.headers!.allow]).toEqual([405, 'GET, HEAD']);
  const etag = String(page(event('/review/app.js'))!.headers!.etag);
  expect(page(event('/review/app.js', 'GET', { 'If-None-Match': etag }))!.statusCode).toBe(304);
  expect(page(event('/review/app.js', 'GET', { 'if-none-match': '"other"' }))!.statusCode).toBe(200);
  expect(page(event('/review', 'HEAD'))!.body).toBe('');
  expect(page(event('/reviews'))).toBeUndefined();
  expect(page(event('/v1/approvals'))).toBeUndefined();
});

test('the proxy answers the page without the gateway: no token asked, no record written', async () => {
  const gateway = { handle: jest.fn() } as unknown as Gateway;
  const core = proxyCore(gateway, { reviewPage: page });
  const r = await core(event('/review'), {} as Context);
  expect(r.statusCode).toBe(200);
  expect(gateway.handle).not.toHaveBeenCalled();
});

test('no reviewerPage section: no page (the request goes to the gateway)', () => {
  expect(createReviewPage(loadConfig(BASE), files)).toBeUndefined();
});

test('fails when reviewerPage names an unknown issuer, or a file is missing', () => {
  expect(() => loadConfig({ ...BASE, reviewerPage: { issuerId: 'nope', clientId: 'c' } })).toThrow(ConfigError);
  expect(() => loadConfig({ ...BASE, reviewerPage: { issuerId: 'nope', clientId: 'c' } })).toThrow(
    /reviewerPage.issuerId "nope" names no issuer/,
  );
  expect(() => createReviewPage(config, { ...files, 'app.js': '' })).toThrow(/app.js is missing/);
});

test('the construct ships exactly the files the handler reads, under the names it reads them by', () => {
  expect([...REVIEW_PAGE_FILES].sort()).toEqual(Object.keys(REVIEW_FILES).sort());
  expect(shippedReviewFileName('app.js')).toBe('review-app.js');
});
