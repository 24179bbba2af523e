/**
 * Test keys, a local JWKS / OIDC discovery server, and token builders — honest and forged.
 *
 * - `generateTestKey(alg)`: a key pair with a `kid`, its public JWK (as published) and its SPKI
 *   in PEM and DER (the bytes a key-confusion attacker would use as an HMAC secret).
 * - `startJwksServer()`: `node:http` on 127.0.0.1 serving `GET <jwksPath>` (default `/jwks`) and
 *   `GET <issuerPath>/.well-known/openid-configuration`. It records every request (to assert
 *   fetch and refetch counts), publishes keys that can be added, removed and rotated at run time,
 *   lets the discovery document lie (`issuer`, `jwks_uri`), and can go down (an HTTP status, a
 *   closed connection, a hang, a raw body) per endpoint.
 * - Token builders: `signToken` (jose `SignJWT`, defaults `alg`/`kid`/`typ` from the key),
 *   `signCompact` (any header and payload bytes, signed with the key's algorithm whatever the
 *   header says), `unsignedToken` (`alg: none`), `hmacToken` / `keyConfusionToken` (HS* with the
 *   RSA public key's PEM/DER/JWK bytes as secret), `tamperPayload` / `tamperHeader` (re-encode a
 *   part, keep the signature), `jweToken` (a real five-part compact JWE), `decodeToken`.
 *
 * Shared by the identity unit tests and the adversarial-token suites.
 */
import { createHmac, KeyObject, sign as nodeSign, constants as cryptoConstants, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactEncrypt, exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** base64url without padding, of bytes, a string (UTF-8) or a value (its JSON). */
export function b64url(input: Uint8Array | string | object): string {
  const bytes =
    input instanceof Uint8Array
      ? input
      : typeof input === 'string'
        ? Buffer.from(input, 'utf8')
        : Buffer.from(JSON.stringify(input), 'utf8');
  return Buffer.from(bytes).toString('base64url');
}

/** A compact JWS's three parts, decoded (header and payload parsed as JSON when they are). */
export interface DecodedToken {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  readonly signature: Buffer;
  readonly parts: readonly [string, string, string];
}

/** Decode a compact JWS without verifying anything. Throws on a non-three-part or non-JSON token. */
export function decodeToken(token: string): DecodedToken {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error(`not a compact JWS: ${parts.length} parts`);
  const [h, p, s] = parts as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>,
    signature: Buffer.from(s, 'base64url'),
    parts: [h, p, s],
  };
}

/** Replace the payload (re-encoded JSON) and keep header and signature: the signature no longer matches. */
export function tamperPayload(token: string, mutate: (claims: Record<string, unknown>) => Record<string, unknown>): string {
  const { payload, parts } = decodeToken(token);
  return `${parts[0]}.${b64url(mutate({ ...payload }))}.${parts[2]}`;
}

/** Replace the protected header (re-encoded JSON) and keep payload and signature. */
export function tamperHeader(token: string, mutate: (header: Record<string, unknown>) => Record<string, unknown>): string {
  const { header, parts } = decodeToken(token);
  return `${b64url(mutate({ ...header }))}.${parts[1]}.${parts[2]}`;
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/** Algorithms `generateTestKey` can make keys for. */
export type TestKeyAlg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA' | 'Ed25519';

/** A signing key pair with everything tests need about its public half. */
export interface TestKey {
  readonly kid: string;
  /** The JWS algorithm the key signs with. */
  readonly alg: TestKeyAlg;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** The public JWK as the JWKS server publishes it (`kid`, `use: sig`, and `alg` unless omitted). */
  readonly publicJwk: JWK;
  /** SPKI PEM of the public key, with the trailing newline jose writes. */
  readonly spkiPem: string;
  /** SPKI DER of the public key. */
  readonly spkiDer: Uint8Array;
}

/** Options of {@link generateTestKey}. */
export interface TestKeyOptions {
  /** @default a random `kid` such as `k-rs256-1f2e3d4c` */
  readonly kid?: string;
  /** `alg` member of the published JWK; `null` leaves it out. @default the key's algorithm */
  readonly jwkAlg?: string | null;
  /** `use` member of the published JWK; `null` leaves it out. @default 'sig' */
  readonly use?: string | null;
  /** RSA modulus length. @default 2048 */
  readonly modulusLength?: number;
}

/** Generate a key pair (extractable, so the public half can be exported in every form). */
export async function generateTestKey(alg: TestKeyAlg = 'RS256', opts: TestKeyOptions = {}): Promise<TestKey> {
  const isRsa = alg.startsWith('RS') || alg.startsWith('PS');
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(isRsa ? { modulusLength: opts.modulusLength ?? 2048 } : {}),
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const kid = opts.kid ?? `k-${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`;
  const jwk = await exportJWK(publicKey);
  const publicJwk: JWK = { ...jwk, kid };
  const jwkAlg = opts.jwkAlg === undefined ? alg : opts.jwkAlg;
  if (jwkAlg !== null) publicJwk.alg = jwkAlg;
  const use = opts.use === undefined ? 'sig' : opts.use;
  if (use !== null) publicJwk.use = use;
  const spkiPem = await exportSPKI(publicKey);
  const spkiDer = new Uint8Array(KeyObject.from(publicKey).export({ type: 'spki', format: 'der' }));
  return { kid, alg, privateKey, publicKey, publicJwk, spkiPem, spkiDer };
}

/** A copy of `key` published under another `kid` (same key material). */
export function withKid(key: TestKey, kid: string): TestKey {
  return { ...key, kid, publicJwk: { ...key.publicJwk, kid } };
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

/** Header parameters of a test token; `undefined` values remove a parameter. */
export type HeaderOverrides = Readonly<Record<string, unknown>>;

function cleanHeader(h: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined));
}

/**
 * Sign `claims` as a JWT with jose's `SignJWT`. The header defaults to `{ alg: key.alg, kid: key.kid,
 * typ: 'JWT' }`; `header` overrides or (with `undefined`) removes members. The claims are taken
 * as given: no `iat`/`exp` is added.
 */
export async function signToken(key: TestKey, claims: JWTPayload, header: HeaderOverrides = {}): Promise<string> {
  const h = cleanHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header });
  return new SignJWT(claims).setProtectedHeader(h as { alg: string }).sign(key.privateKey);
}

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/** Sign raw bytes with `key` as algorithm `alg` (JWS signature encoding: raw R||S for ECDSA). */
export function rawSign(key: TestKey, data: Uint8Array, alg: string = key.alg): Buffer {
  const priv = KeyObject.from(key.privateKey);
  if (alg === 'EdDSA' || alg === 'Ed25519') return nodeSign(null, data, priv);
  const hash = HASH[alg.slice(2)];
  if (!hash) throw new Error(`rawSign: unsupported alg ${alg}`);
  if (alg.startsWith('RS')) return nodeSign(hash, data, priv);
  if (alg.startsWith('PS')) {
    return nodeSign(hash, data, { key: priv, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 });
  }
  if (alg.startsWith('ES')) return nodeSign(hash, data, { key: priv, dsaEncoding: 'ieee-p1363' });
  throw new Error(`rawSign: unsupported alg ${alg}`);
}

/**
 * A compact JWS with exactly this header and payload (an object is JSON-encoded; a string or
 * bytes are taken as-is), signed with `key` using `signingAlg` (default: the key's own algorithm,
 * whatever the header claims). For headers and payloads jose's builders refuse to produce.
 */
export function signCompact(
  key: TestKey,
  header: Record<string, unknown>,
  payload: Uint8Array | string | object,
  signingAlg: string = key.alg,
): string {
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  return `${signingInput}.${b64url(rawSign(key, Buffer.from(signingInput, 'ascii'), signingAlg))}`;
}

/** An unsecured token: `base64url(header).base64url(claims).signature` (default `alg: none`, empty signature). */
export function unsignedToken(claims: object, header: Record<string, unknown> = { alg: 'none', typ: 'JWT' }, signature = ''): string {
  return `${b64url(header)}.${b64url(claims)}.${signature}`;
}

/** A JWT MACed with `secret` (HS256/384/512 from `header.alg`, default HS256). */
export function hmacToken(secret: Uint8Array | string, claims: object, header: HeaderOverrides = {}): string {
  const h = cleanHeader({ alg: 'HS256', typ: 'JWT', ...header });
  const bits = String(h.alg).slice(2);
  const hash = HASH[bits];
  if (!hash) throw new Error(`hmacToken: unsupported alg ${String(h.alg)}`);
  const signingInput = `${b64url(h)}.${b64url(claims)}`;
  return `${signingInput}.${createHmac(hash, secret).update(signingInput).digest('base64url')}`;
}

/** Byte forms of a public key an attacker may try as an HMAC secret. */
export type PublicKeySecretForm = 'pem' | 'pem-trimmed' | 'der' | 'jwk-json';

/** The public key as the bytes a key-confusion attacker would use for `form`. */
export function publicKeySecret(key: TestKey, form: PublicKeySecretForm = 'pem'): Uint8Array {
  switch (form) {
    case 'pem':
      return Buffer.from(key.spkiPem, 'utf8');
    case 'pem-trimmed':
      return Buffer.from(key.spkiPem.trim(), 'utf8');
    case 'der':
      return key.spkiDer;
    case 'jwk-json':
      return Buffer.from(JSON.stringify(key.publicJwk), 'utf8');
  }
}

/**
 * The classic key-confusion forgery: an HS* token whose HMAC secret is the issuer's *public* key
 * (PEM by default), carrying the real key's `kid`. A verifier that lets the token pick the
 * algorithm and feeds the public key to HMAC accepts it.
 */
export function keyConfusionToken(
  key: TestKey,
  claims: object,
  opts: { readonly form?: PublicKeySecretForm; readonly alg?: 'HS256' | 'HS384' | 'HS512'; readonly header?: HeaderOverrides } = {},
): string {
  return hmacToken(publicKeySecret(key, opts.form), claims, { alg: opts.alg ?? 'HS256', kid: key.kid, ...opts.header });
}

/** A real compact JWE (five parts; `dir` + A256GCM with a random key) carrying `claims`. */
export async function jweToken(claims: object, header: HeaderOverrides = {}): Promise<string> {
  const h = cleanHeader({ alg: 'dir', enc: 'A256GCM', typ: 'JWT', ...header });
  return new CompactEncrypt(Buffer.from(JSON.stringify(claims)))
    .setProtectedHeader(h as { alg: string; enc: string })
    .encrypt(randomBytes(32));
}

// ---------------------------------------------------------------------------------------------
// JWKS / discovery server
// ---------------------------------------------------------------------------------------------

/** What an endpoint does with a request. */
export type EndpointBehaviour =
  /** Serve the key set / discovery document. */
  | { readonly kind: 'up' }
  /** Answer with this status (and optional body). */
  | { readonly kind: 'status'; readonly status: number; readonly body?: string }
  /** Destroy the connection without answering. */
  | { readonly kind: 'close' }
  /** Never answer (until the server stops). */
  | { readonly kind: 'hang' }
  /** Answer 200 (or `status`) with this JSON instead of the real document, e.g. a malformed key set. */
  | { readonly kind: 'json'; readonly body: unknown; readonly status?: number }
  /** Answer with this raw body, e.g. invalid JSON. */
  | { readonly kind: 'raw'; readonly body: string; readonly status?: number; readonly contentType?: string };

/** Which endpoint a behaviour applies to. */
export type Endpoint = 'jwks' | 'discovery';

/** A request the server received. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly endpoint: Endpoint | 'other';
  /** `Date.now()` on arrival. */
  readonly at: number;
}

/** Options of {@link startJwksServer}. */
export interface JwksServerOptions {
  /** Keys published from the start. */
  readonly keys?: readonly TestKey[];
  /** Path of the issuer under the origin: issuer = origin + issuerPath. @default '' */
  readonly issuerPath?: string;
  /** Path of the key set. @default '/jwks' */
  readonly jwksPath?: string;
  /** Serve `<issuer>/.well-known/openid-configuration`. @default true */
  readonly discovery?: boolean;
  /** Members that override or add to the discovery document (e.g. a lying `issuer` or `jwks_uri`). */
  readonly discoveryOverrides?: Readonly<Record<string, unknown>>;
  /** Delay of every answer, ms. @default 0 */
  readonly latencyMs?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
}

/** A running JWKS / discovery server. */
export interface JwksServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The issuer the discovery document names by default: origin + issuerPath. */
  readonly issuer: string;
  /** URL of the key set. */
  readonly jwksUri: string;
  /** URL of the discovery document. */
  readonly discoveryUrl: string;
  /** Every request received, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Requests received for `endpoint` (default: all) since start or the last `resetCounts`. */
  count(endpoint?: Endpoint | 'all'): number;
  /** Forget recorded requests. */
  resetCounts(): void;
  /** Currently published keys. */
  readonly keys: readonly TestKey[];
  /** The JWKS document currently served (when up). */
  jwks(): { keys: JWK[] };
  /** Publish more keys. */
  addKey(...keys: TestKey[]): void;
  /** Stop publishing the key(s) with this kid. */
  removeKey(kid: string): void;
  /** Publish exactly these keys. */
  setKeys(keys: readonly TestKey[]): void;
  /** Publish `next`, dropping every other key unless `keepOld`. */
  rotate(next: TestKey, opts?: { readonly keepOld?: boolean }): void;
  /** Extra published JWKs that are not `TestKey`s (e.g. a symmetric or private JWK). */
  setExtraJwks(jwks: readonly JWK[]): void;
  /** Replace the overrides of the discovery document (`{}` restores the honest one). */
  setDiscoveryOverrides(overrides: Readonly<Record<string, unknown>>): void;
  /** Behaviour of one or both endpoints. */
  setBehaviour(behaviour: EndpointBehaviour, endpoint?: Endpoint | 'all'): void;
  /** Shorthand: both endpoints fail (`status` 500 by default, or `close` / `hang`). */
  goDown(how?: 'status' | 'close' | 'hang', status?: number): void;
  /** Both endpoints serve again. */
  comeUp(): void;
  stop(): Promise<void>;
}

/** Start a JWKS (and discovery) server on an ephemeral loopback port. */
export async function startJwksServer(opts: JwksServerOptions = {}): Promise<JwksServer> {
  const jwksPath = opts.jwksPath ?? '/jwks';
  const issuerPath = (opts.issuerPath ?? '').replace(/\/$/, '');
  const discoveryPath = `${issuerPath}/.well-known/openid-configuration`;
  const serveDiscovery = opts.discovery ?? true;
  let keys: TestKey[] = [...(opts.keys ?? [])];
  let extra: JWK[] = [];
  let overrides: Readonly<Record<string, unknown>> = opts.discoveryOverrides ?? {};
  const behaviour: Record<Endpoint, EndpointBehaviour> = { jwks: { kind: 'up' }, discovery: { kind: 'up' } };
  const requests: RecordedRequest[] = [];
  let origin = '';

  const jwksDoc = () => ({ keys: [...keys.map((k) => ({ ...k.publicJwk })), ...extra.map((j) => ({ ...j }))] });
  const discoveryDoc = () => ({
    issuer: origin + issuerPath,
    jwks_uri: origin + jwksPath,
    id_token_signing_alg_values_supported: [...new Set(keys.map((k) => k.alg))],
    ...overrides,
  });

  const send = (res: ServerResponse, status: number, body: string, contentType = 'application/json') => {
    res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
  };

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const endpoint: Endpoint | 'other' = path === jwksPath ? 'jwks' : serveDiscovery && path === discoveryPath ? 'discovery' : 'other';
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', endpoint, at: Date.now() });
    if (endpoint === 'other' || req.method !== 'GET') {
      send(res, 404, JSON.stringify({ error: 'not_found' }));
      return;
    }
    const b = behaviour[endpoint];
    switch (b.kind) {
      case 'up':
        send(res, 200, JSON.stringify(endpoint === 'jwks' ? jwksDoc() : discoveryDoc()));
        return;
      case 'status':
        send(res, b.status, b.body ?? JSON.stringify({ error: 'unavailable' }));
        return;
      case 'close':
        req.socket.destroy();
        return;
      case 'hang':
        return;
      case 'json':
        send(res, b.status ?? 200, JSON.stringify(b.body));
        return;
      case 'raw':
        send(res, b.status ?? 200, b.body, b.contentType ?? 'application/json');
        return;
    }
  };

  const server = createServer((req, res) => {
    req.resume();
    if (opts.latencyMs) setTimeout(() => answer(req, res), opts.latencyMs);
    else answer(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://${opts.host ?? '127.0.0.1'}:${port}`;

  const setBehaviour = (b: EndpointBehaviour, endpoint: Endpoint | 'all' = 'all') => {
    if (endpoint === 'all' || endpoint === 'jwks') behaviour.jwks = b;
    if (endpoint === 'all' || endpoint === 'discovery') behaviour.discovery = b;
  };

  return {
    origin,
    issuer: origin + issuerPath,
    jwksUri: origin + jwksPath,
    discoveryUrl: origin + discoveryPath,
    requests,
    count: (endpoint = 'all') => requests.filter((r) => endpoint === 'all' || r.endpoint === endpoint).length,
    resetCounts: () => {
      requests.length = 0;
    },
    get keys() {
      return keys;
    },
    jwks: jwksDoc,
    addKey: (...more) => {
      keys.push(...more);
    },
    removeKey: (kid) => {
      keys = keys.filter((k) => k.kid !== kid);
    },
    setKeys: (next) => {
      keys = [...next];
    },
    rotate: (next, o = {}) => {
      keys = o.keepOld ? [...keys, next] : [next];
    },
    setExtraJwks: (jwks) => {
      extra = [...jwks];
    },
    setDiscoveryOverrides: (o) => {
      overrides = o;
    },
    setBehaviour,
    goDown: (how = 'status', status = 500) => setBehaviour(how === 'status' ? { kind: 'status', status } : { kind: how }),
    comeUp: () => setBehaviour({ kind: 'up' }),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Resolve after `ms` milliseconds (e.g. to let a JWKS cooldown elapse). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
