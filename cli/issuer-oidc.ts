/**
 * The embedded dev issuer's plumbing (cli/issuer.ts): the slice of `oidc-provider` it uses (loaded
 * lazily: ESM-only), its in-memory storage adapter, the options' checks, the server's lifecycle
 * and the users' login page.
 */
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DevIssuerOptions, DevUser } from './issuer-types';

/** The slice of the `oidc-provider` module this file uses (the package ships no type declarations). */
export interface OidcProviderModule {
  Provider: new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
  errors: { InvalidTarget: new (description?: string) => Error };
}

export interface OidcProvider {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  interactionDetails(req: http.IncomingMessage, res: http.ServerResponse): Promise<OidcInteraction>;
  interactionFinished(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    result: Record<string, unknown>,
    opts?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  Grant: { new (p: { clientId: string; accountId: string }): OidcGrant; find(id: string): Promise<OidcGrant | undefined> };
  on(event: 'server_error', listener: (ctx: unknown, error: unknown) => void): unknown;
}

export interface OidcInteraction {
  uid: string;
  prompt: {
    name: string;
    details: { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  };
  params: { client_id?: string };
  session?: { accountId?: string };
  grantId?: string;
}

export interface OidcGrant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

/** The slice of oidc-provider's request context used by the hooks below. */
export interface OidcContext {
  oidc?: { route?: string; params?: { grant_type?: unknown; scope?: unknown } };
}

/** The slice of oidc-provider's Client model used by the hooks below. */
export interface OidcClient {
  clientId: string;
  scope?: string;
}

/** The slice of oidc-provider's ClientCredentials token model used by the hooks below. */
export interface OidcToken {
  kind?: string;
  clientId?: string;
  accountId?: string;
}

const RUNTIME_WARNING = 'oidc-provider WARNING: Unsupported runtime';

let providerModule: Promise<OidcProviderModule> | undefined;

/**
 * Loads oidc-provider once. On Node.js 20 its entry module prints "Unsupported runtime. Use Node.js
 * v22.x LTS..." with console.warn while it is evaluated; there is no option or environment variable
 * to turn that off, so that one message is filtered out during the import (everything else passes).
 */
export function loadOidcProvider(): Promise<OidcProviderModule> {
  providerModule ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]): void => {
      if (typeof args[0] === 'string' && args[0].includes(RUNTIME_WARNING)) return;
      warn.apply(console, args);
    };
    try {
      // A literal specifier, so that the CLI bundle (scripts/bundle-cli.mjs) carries the package;
      // it has no type declarations (cli/oidc-provider.d.ts), the shape is declared above.
      return (await import('oidc-provider')) as OidcProviderModule;
    } finally {
      console.warn = warn;
    }
  })();
  providerModule.catch(() => {
    providerModule = undefined;
  });
  return providerModule;
}

/**
 * A minimal in-memory storage adapter. Passing one keeps oidc-provider from warning about its own
 * development-only adapter; with JWT access tokens and static clients almost nothing is stored.
 */
export type AdapterStore = Map<string, { payload: Record<string, unknown>; expiresAt: number }>;

export class MemoryAdapter {
  constructor(
    private readonly model: string,
    private readonly store: AdapterStore,
  ) {}

  private key(id: string): string {
    return `${this.model}:${id}`;
  }

  async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    this.store.set(this.key(id), { payload, expiresAt });
  }

  async find(id: string): Promise<Record<string, unknown> | undefined> {
    const key = this.key(id);
    const entry = this.store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.store.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  /** Sessions by their uid (signing users in: an interaction refers to its session by uid). */
  async findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
    for (const [key, entry] of this.store) {
      if (key.startsWith(`${this.model}:`) && entry.payload.uid === uid) return this.find(key.slice(this.model.length + 1));
    }
    return undefined;
  }

  async consume(id: string): Promise<void> {
    const payload = await this.find(id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.store.delete(this.key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const [key, entry] of this.store) {
      if (entry.payload.grantId === grantId) this.store.delete(key);
    }
  }
}

/** Whether `value` is an absolute URI, as oidc-provider requires of resource indicators. */
export function isAbsoluteUri(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

export function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** Whether `origin` is an http:// loopback origin (any port): where public dev clients' pages live. */
export function isLoopbackOrigin(origin: string): boolean {
  const u = parseUrl(origin);
  return !!u && u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

/** Formats a host for a URL authority (brackets IPv6 literals). */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function validate(opts: DevIssuerOptions): void {
  if (typeof opts.audience !== 'string' || opts.audience.length === 0) {
    throw new TypeError('startDevIssuer: audience must be a non-empty string');
  }
  if (!Array.isArray(opts.clients) || opts.clients.length === 0) {
    throw new TypeError('startDevIssuer: at least one client is required');
  }
  const ids = new Set<string>();
  for (const client of opts.clients) {
    if (!client.clientId || !client.clientSecret) {
      throw new TypeError('startDevIssuer: every client needs a clientId and a clientSecret');
    }
    if (ids.has(client.clientId)) {
      throw new TypeError(`startDevIssuer: duplicate clientId ${JSON.stringify(client.clientId)}`);
    }
    ids.add(client.clientId);
    for (const scope of client.scopes ?? []) {
      if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope)) {
        throw new TypeError(`startDevIssuer: invalid scope ${JSON.stringify(scope)} for client ${JSON.stringify(client.clientId)}`);
      }
    }
  }
  const names = new Set<string>();
  for (const user of opts.users ?? []) {
    if (!user.username || !user.password) throw new TypeError('startDevIssuer: every user needs a username and a password');
    if (names.has(user.username)) throw new TypeError(`startDevIssuer: duplicate username ${JSON.stringify(user.username)}`);
    names.add(user.username);
  }
  for (const client of opts.publicClients ?? []) {
    if (!client.clientId || ids.has(client.clientId)) {
      throw new TypeError(`startDevIssuer: public client ${JSON.stringify(client.clientId)} needs a clientId of its own`);
    }
    ids.add(client.clientId);
    if (!Array.isArray(client.redirectUris) || client.redirectUris.length === 0) {
      throw new TypeError(`startDevIssuer: public client ${JSON.stringify(client.clientId)} needs redirectUris`);
    }
    for (const uri of client.redirectUris) {
      const u = parseUrl(uri);
      if (!u || u.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
        throw new TypeError(
          `startDevIssuer: redirect URI ${JSON.stringify(uri)} must be an http:// loopback URL (127.0.0.1, localhost, [::1])`,
        );
      }
    }
  }
  const ttl = opts.accessTokenTtlSeconds;
  if (ttl !== undefined && (!Number.isSafeInteger(ttl) || ttl <= 0)) {
    throw new TypeError('startDevIssuer: accessTokenTtlSeconds must be a positive integer');
  }
}

export function listen(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
  });
}

/**
 * Starts the dev issuer: generates a fresh signing key, registers the clients and listens on
 * `host:port`. Discovery is served at `<issuer>/.well-known/openid-configuration`.
 */

/** Extra claims as a plain JSON object (oidc-provider requires one). */
export function plainClaims(claims: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  return claims ? (JSON.parse(JSON.stringify(claims)) as Record<string, unknown>) : undefined;
}

const LOGIN_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

const escapeHtml = (v: string): string =>
  v.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The dev issuer's login page: `GET /interaction/<uid>` shows a form (user name, password, and the
 * dev users' names as a hint), `POST /interaction/<uid>` checks them and finishes the login.
 */
export async function loginPage(
  provider: OidcProvider,
  users: ReadonlyMap<string, DevUser>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent') {
    // Public dev clients are first-party: what they ask for is granted, without a consent page.
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = details.prompt.details;
    const grant =
      (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ??
      new provider.Grant({ clientId: String(details.params.client_id), accountId: details.session!.accountId! });
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
    await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    return;
  }
  let error = '';
  if (req.method === 'POST') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > 16_384) throw new Error('the form is too large');
      chunks.push(chunk);
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const user = users.get(form.get('username') ?? '');
    if (details.prompt.name === 'login' && user && user.password === form.get('password')) {
      await provider.interactionFinished(req, res, { login: { accountId: user.username } }, { mergeWithLastSubmission: false });
      return;
    }
    error = 'Unknown user name or wrong password.';
  }
  const names = [...users.keys()].map(escapeHtml).join(', ');
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>embedgate dev issuer: sign in</title><style>body{font:16px system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}label,input,button{display:block;width:100%;margin:.25rem 0}input,button{font:inherit;padding:.5rem}p.e{color:#a40e26}</style></head>
<body><h1>embedgate dev issuer</h1><p>Sign in (development users: ${names || 'none configured'}).</p>${error ? `<p class="e" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(details.uid)}"><label for="username">User name</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>`;
  res.writeHead(error ? 401 : 200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': LOGIN_CSP,
    'x-frame-options': 'DENY',
  });
  res.end(html);
}

/** Encodes a client id or secret for HTTP Basic authentication, as RFC 6749 section 2.3.1 requires. */
export function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}
