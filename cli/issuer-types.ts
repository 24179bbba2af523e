/** The embedded dev issuer's public shapes: its clients, users and options (see cli/issuer.ts). */

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
