/**
 * A tiny embedded OpenID Connect issuer for local development (`embedgate dev --issuer`), the demo and
 * the end-to-end tests. It issues RFC 9068 JWT access tokens (`typ: at+jwt`) through the OAuth 2.0
 * `client_credentials` grant only, so a developer can get a real service-principal token with curl:
 *
 *   curl -s -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials http://127.0.0.1:PORT/token
 *
 * With `users` and `publicClients`, it also signs people in through the authorization-code flow
 * with PKCE (a login page at `/interaction/<uid>`), for the reviewers' page: the access token of a
 * user carries `sub` = the username and the user's extra claims (e.g. `groups`).
 *
 * It is built on `oidc-provider`, which is ESM-only and a devDependency: it is loaded lazily inside
 * {@link startDevIssuer}, so importing this module (from CommonJS, or from jest) never loads it.
 * Never use this issuer in production: keys live in memory and are regenerated at every start.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A confidential client (service principal) registered with the dev issuer. */
export interface DevClient {
  /** The OAuth client id; it is also the `sub` and `client_id` of the tokens issued to it. */
  clientId: string;
  /** The client secret, sent with HTTP Basic authentication (`client_secret_basic`). */
  clientSecret: string;
  /**
   * The scopes the client may request. A token request without `scope` is granted all of them.
   * Other scopes are never granted: oidc-provider refuses (`invalid_scope`) a scope registered to
   * another client when this client has scopes, and silently leaves out any other unknown scope.
   */
  scopes?: string[];
  /**
   * Extra access-token claims, e.g. `{ groups: ['ml-team'] }`. They cannot override the standard
   * claims (iss, sub, aud, exp, iat, jti, client_id, scope).
   */
  claims?: Record<string, unknown>;
  /** Lifetime of this client's access tokens in seconds; default: the issuer's `accessTokenTtlSeconds`. */
  accessTokenTtlSeconds?: number;
}

/** A person who can sign in at the dev issuer's login page (authorization-code flow). */
export interface DevUser {
  /** The login name; it is also the `sub` of the user's tokens. */
  username: string;
  /** The password typed on the login page (dev only: compared as given). */
  password: string;
  /** Extra access-token and ID-token claims, e.g. `{ groups: ['reviewers'] }`. */
  claims?: Record<string, unknown>;
}

/**
 * A public client (no secret, PKCE required) that signs users in, e.g. the reviewers' page. Its
 * redirect URIs are loopback URLs; any port is accepted for them (RFC 8252), so a dev server on
 * an ephemeral port works.
 */
export interface DevPublicClient {
  clientId: string;
  /** e.g. `http://127.0.0.1/review`. */
  redirectUris: string[];
  /** Scopes of the access token (besides `openid`). */
  scopes?: string[];
}

/** Options of {@link startDevIssuer}. */
export interface DevIssuerOptions {
  /** The TCP port to listen on; 0 (the default) picks an ephemeral port. */
  port?: number;
  /** The interface to bind; default `127.0.0.1`. */
  host?: string;
  /** The resource indicator and `aud` of every issued access token. */
  audience: string;
  /** The registered clients. */
  clients: DevClient[];
  /** People who can sign in (authorization-code flow with PKCE); default none. */
  users?: DevUser[];
  /** Public clients that sign users in; default none. */
  publicClients?: DevPublicClient[];
  /** The lifetime of access tokens in seconds; default 300. */
  accessTokenTtlSeconds?: number;
  /** The JWS algorithm of access tokens; default `RS256`. */
  signingAlg?: 'RS256' | 'ES256';
}

/** A running dev issuer. */
export interface DevIssuer {
  /** The issuer identifier, without trailing slash, e.g. `http://127.0.0.1:PORT`. */
  issuer: string;
  /** The OAuth 2.0 token endpoint. */
  tokenEndpoint: string;
  /** The JWKS URI holding the public signing key. */
  jwksUri: string;
  /** Stops the server, closing idle keep-alive connections too. */
  close(): Promise<void>;
}

/** The slice of the `oidc-provider` module this file uses (the package ships no type declarations). */
interface OidcProviderModule {
  Provider: new (issuer: string, configuration: Record<string, unknown>) => OidcProvider;
  errors: { InvalidTarget: new (description?: string) => Error };
}

interface OidcProvider {
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

interface OidcInteraction {
  uid: string;
  prompt: {
    name: string;
    details: { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  };
  params: { client_id?: string };
  session?: { accountId?: string };
  grantId?: string;
}

interface OidcGrant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

/** The slice of oidc-provider's request context used by the hooks below. */
interface OidcContext {
  oidc?: { route?: string; params?: { grant_type?: unknown; scope?: unknown } };
}

/** The slice of oidc-provider's Client model used by the hooks below. */
interface OidcClient {
  clientId: string;
  scope?: string;
}

/** The slice of oidc-provider's ClientCredentials token model used by the hooks below. */
interface OidcToken {
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
function loadOidcProvider(): Promise<OidcProviderModule> {
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
type AdapterStore = Map<string, { payload: Record<string, unknown>; expiresAt: number }>;

class MemoryAdapter {
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
function isAbsoluteUri(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** Whether `origin` is an http:// loopback origin (any port): where public dev clients' pages live. */
function isLoopbackOrigin(origin: string): boolean {
  const u = parseUrl(origin);
  return !!u && u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

/** Formats a host for a URL authority (brackets IPv6 literals). */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function validate(opts: DevIssuerOptions): void {
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

function listen(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
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
export async function startDevIssuer(opts: DevIssuerOptions): Promise<DevIssuer> {
  validate(opts);
  const host = opts.host ?? '127.0.0.1';
  const alg = opts.signingAlg ?? 'RS256';
  const ttl = opts.accessTokenTtlSeconds ?? 300;
  const { audience } = opts;
  // oidc-provider only accepts absolute URIs as resource indicators; another audience (e.g. a bare
  // name) is still issued, under a synthetic indicator that token requests get by default.
  const resourceIndicator = isAbsoluteUri(audience) ? audience : `urn:embedgate:dev-audience:${encodeURIComponent(audience)}`;
  const store: AdapterStore = new Map();
  const clientsById = new Map(opts.clients.map((client) => [client.clientId, client]));

  const usersByName = new Map((opts.users ?? []).map((user) => [user.username, user]));
  const publicClients = opts.publicClients ?? [];
  const publicById = new Map(publicClients.map((client) => [client.clientId, client]));
  const [{ Provider, errors }, jose] = await Promise.all([loadOidcProvider(), import('jose')]);
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await jose.exportJWK(privateKey)), alg, use: 'sig' };
  const signingKey = { ...jwk, kid: await jose.calculateJwkThumbprint(jwk) };

  let handler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
  const server = http.createServer((req, res) => {
    if (handler) {
      handler(req, res);
    } else {
      res.writeHead(503).end();
    }
  });
  server.keepAliveTimeout = 5_000;

  const address = await listen(server, opts.port ?? 0, host);
  try {
    const issuer = `http://${urlHost(host)}:${address.port}`;
    const provider = new Provider(issuer, {
      adapter: (model: string) => new MemoryAdapter(model, store),
      jwks: { keys: [signingKey] },
      clients: opts.clients
        .map((client) => ({
          client_id: client.clientId,
          client_secret: client.clientSecret,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          token_endpoint_auth_method: 'client_secret_basic',
          scope: (client.scopes ?? []).join(' ') || undefined,
        }))
        .concat(
          publicClients.map((client) => ({
            client_id: client.clientId,
            // Native (RFC 8252): loopback redirect URIs match on any port.
            application_type: 'native',
            grant_types: ['authorization_code'],
            response_types: ['code'],
            redirect_uris: client.redirectUris,
            token_endpoint_auth_method: 'none',
            scope: ['openid', 'profile', ...(client.scopes ?? [])].join(' '),
          })) as never[],
        ),
      clientDefaults: {
        grant_types: ['client_credentials'],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: alg,
      },
      clientAuthMethods: ['client_secret_basic', ...(publicClients.length > 0 ? ['none'] : [])],
      responseTypes: publicClients.length > 0 ? ['code'] : [],
      scopes: [
        ...new Set([
          ...opts.clients.flatMap((client) => client.scopes ?? []),
          ...(publicClients.length > 0 ? ['openid', 'profile', ...publicClients.flatMap((client) => client.scopes ?? [])] : []),
        ]),
      ],
      claims: publicClients.length > 0 ? { openid: ['sub'], profile: ['preferred_username', 'name'] } : {},
      cookies: { keys: [jose.base64url.encode(crypto.getRandomValues(new Uint8Array(32)))] },
      // The login page (served below, before oidc-provider's routes).
      interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      findAccount: async (_ctx: unknown, sub: string) => {
        const user = usersByName.get(sub);
        if (!user) return undefined;
        return {
          accountId: sub,
          claims: async () => ({ ...plainClaims(user.claims), sub, preferred_username: sub, name: sub }),
        };
      },
      // CORS for the token endpoint: a public client's page on a loopback origin (any port).
      clientBasedCORS: (_ctx: unknown, origin: string, client: OidcClient & { clientAuthMethod?: string }) =>
        client.clientAuthMethod === 'none' && publicById.has(client.clientId) && isLoopbackOrigin(origin),
      ttl: {
        ClientCredentials: (_ctx: unknown, _token: unknown, client: OidcClient) =>
          clientsById.get(client.clientId)?.accessTokenTtlSeconds ?? ttl,
      },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: false },
        revocation: { enabled: false },
        userinfo: { enabled: false },
        pushedAuthorizationRequests: { enabled: false },
        rpInitiatedLogout: { enabled: false },
        dPoP: { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => resourceIndicator,
          useGrantedResource: async () => true,
          getResourceServerInfo: async (ctx: OidcContext, indicator: string, client: OidcClient) => {
            if (indicator !== resourceIndicator) {
              throw new errors.InvalidTarget(`unknown resource indicator, this issuer only serves ${resourceIndicator}`);
            }
            const params = ctx.oidc?.params;
            // A client_credentials request without `scope` gets every scope registered to the
            // client. This hook runs before the grant reads `scope`, which makes it the one place
            // where a default can be applied.
            if (ctx.oidc?.route === 'token' && params?.grant_type === 'client_credentials' && params.scope === undefined && client.scope) {
              params.scope = client.scope;
            }
            return {
              audience,
              scope: client.scope ?? '',
              accessTokenFormat: 'jwt',
              accessTokenTTL: clientsById.get(client.clientId)?.accessTokenTtlSeconds ?? ttl,
              jwt: { sign: { alg } },
            };
          },
        },
      },
      extraTokenClaims: async (_ctx: unknown, token: OidcToken) => {
        if (token.kind === 'AccessToken' && token.accountId) return plainClaims(usersByName.get(token.accountId)?.claims);
        if (token.kind !== 'ClientCredentials' || !token.clientId) return undefined;
        const claims = clientsById.get(token.clientId)?.claims;
        // oidc-provider requires a plain object: copy through JSON (drops undefined, functions).
        return claims ? (JSON.parse(JSON.stringify(claims)) as Record<string, unknown>) : undefined;
      },
    });
    provider.on('server_error', (_ctx, error) => {
      // Only reached on a bug (e.g. in a hook above); never includes request credentials.
      console.error(`embedgate dev issuer: server_error: ${error instanceof Error ? error.message : String(error)}`);
    });
    const callback = provider.callback();
    handler = (req, res) => {
      if (req.url?.startsWith('/interaction/')) {
        loginPage(provider, usersByName, req, res).catch((error: unknown) => {
          if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(`sign-in failed: ${error instanceof Error ? error.message : String(error)}\n`);
        });
        return;
      }
      callback(req, res);
    };

    return {
      issuer,
      tokenEndpoint: `${issuer}/token`,
      jwksUri: `${issuer}/jwks`,
      close: () => closeServer(server),
    };
  } catch (error) {
    await closeServer(server);
    throw error;
  }
}

/** Extra claims as a plain JSON object (oidc-provider requires one). */
function plainClaims(claims: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  return claims ? (JSON.parse(JSON.stringify(claims)) as Record<string, unknown>) : undefined;
}

const LOGIN_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

const escapeHtml = (v: string): string =>
  v.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The dev issuer's login page: `GET /interaction/<uid>` shows a form (user name, password, and the
 * dev users' names as a hint), `POST /interaction/<uid>` checks them and finishes the login.
 */
async function loginPage(
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
function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

/**
 * Requests an access token with the `client_credentials` grant, authenticating with
 * `client_secret_basic`, and returns the access token. Throws an error naming the HTTP status and the
 * OAuth error (never the secret) when the request is refused.
 */
export async function fetchClientCredentialsToken(
  tokenEndpoint: string,
  client: { clientId: string; clientSecret: string },
  opts: { scope?: string; resource?: string } = {},
): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (opts.scope !== undefined) body.set('scope', opts.scope);
  if (opts.resource !== undefined) body.set('resource', opts.resource);
  const credentials = Buffer.from(`${formEncode(client.clientId)}:${formEncode(client.clientSecret)}`).toString('base64');

  let response: Response;
  try {
    response = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${credentials}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`token request to ${tokenEndpoint} failed: ${reason}`, { cause: error });
  }

  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object') json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }

  if (!response.ok) {
    const error = typeof json?.error === 'string' ? json.error : 'unknown_error';
    const description = typeof json?.error_description === 'string' ? ` (${json.error_description})` : '';
    throw new Error(`token request for client ${JSON.stringify(client.clientId)} failed: HTTP ${response.status} ${error}${description}`);
  }
  if (typeof json?.access_token !== 'string') {
    throw new Error(`token response from ${tokenEndpoint} has no access_token`);
  }
  return json.access_token;
}
