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
import {
  closeServer,
  formEncode,
  isAbsoluteUri,
  isLoopbackOrigin,
  listen,
  loadOidcProvider,
  loginPage,
  MemoryAdapter,
  plainClaims,
  urlHost,
  validate,
  type AdapterStore,
  type OidcClient,
  type OidcContext,
  type OidcToken,
} from './issuer-oidc';
import type { DevIssuer, DevIssuerOptions } from './issuer-types';

export type { DevClient, DevIssuer, DevIssuerOptions, DevPublicClient, DevUser } from './issuer-types';

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
