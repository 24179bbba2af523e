/**
 * The key mirror: fetches every trusted issuer's OIDC discovery document (unless the issuer has a
 * configured `jwksUri`) and JWKS, checks them as the verifier would, keeps only public key
 * material, and writes each under the exact URL the verifier will ask for. Runs outside the VPC
 * (the proxy has no egress), every minute (EventBridge), so a key an issuer publishes is in the
 * table within a minute. An issuer that cannot be fetched keeps its last good documents (the
 * verifier's own staleness rules then apply); its failure is reported, the others still mirrored.
 *
 * Also run by the table's stream on a proxy's refresh request (an unknown `kid`): then only the
 * issuers the requests name, and only CONFIGURED issuers, by their configured URLs (a request
 * carries an issuer name, never a URL the mirror would follow), each at most once per
 * `mirrorRefreshIntervalMs` (so even a flood of requests cannot make it hammer an IdP).
 */
import type { IssuerConfig } from '../../shared/config';
import { isLoopback } from '../../shared/config-runtime';
import { issuerOfRefreshKey, ISSUER_KEYS_TABLE } from '../../shared/issuer-keys-table';
import type { MirroredDocument } from '../adapters/aws/issuer-keys';

/** What one run did, per issuer. */
export interface MirrorReport {
  readonly mirrored: string[];
  readonly failed: { readonly issuer: string; readonly error: string }[];
}

export interface KeyMirrorDeps {
  readonly issuers: readonly Pick<IssuerConfig, 'issuer' | 'jwksUri'>[];
  readonly fetch: (url: string, init: { signal: AbortSignal; headers: Record<string, string>; redirect: 'manual' }) => Promise<Response>;
  readonly put: (d: MirroredDocument) => Promise<unknown>;
  readonly now: () => number;
  /** @default 5000 */
  readonly timeoutMs?: number;
}

/** Largest document mirrored, bytes (a DynamoDB item holds 400 KB). */
const MAX_DOCUMENT_BYTES = 256 * 1024;

/** Members of a JWK that are private key material: never mirrored. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

/** Mirror every issuer once. */
export async function mirrorIssuerKeys(deps: KeyMirrorDeps): Promise<MirrorReport> {
  const report: MirrorReport = { mirrored: [], failed: [] };
  await Promise.all(
    deps.issuers.map(async (i) => {
      try {
        await mirrorOne(i, deps);
        report.mirrored.push(i.issuer);
      } catch (e) {
        report.failed.push({ issuer: i.issuer, error: (e as Error).message });
      }
    }),
  );
  return report;
}

async function mirrorOne(i: Pick<IssuerConfig, 'issuer' | 'jwksUri'>, deps: KeyMirrorDeps): Promise<void> {
  let jwksUri = i.jwksUri;
  let discovery: MirroredDocument | undefined;
  if (!jwksUri) {
    const url = discoveryUrl(i.issuer);
    const text = await get(url, deps);
    const doc = JSON.parse(text) as { issuer?: unknown; jwks_uri?: unknown };
    // Mix-up protection, as in the verifier: the document must name exactly this issuer.
    if (doc.issuer !== i.issuer || typeof doc.jwks_uri !== 'string') throw new Error('discovery document does not match the issuer');
    const u = new URL(doc.jwks_uri);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopback(u.hostname))) throw new Error('jwks_uri must use https');
    jwksUri = doc.jwks_uri;
    discovery = { url, issuer: i.issuer, body: JSON.stringify({ issuer: doc.issuer, jwks_uri: doc.jwks_uri }), fetchedAt: deps.now() };
  }
  const jwks = JSON.parse(await get(jwksUri, deps)) as { keys?: unknown };
  if (!Array.isArray(jwks.keys)) throw new Error('the JWKS has no "keys" array');
  const keys = jwks.keys.filter((k): k is Record<string, unknown> => k !== null && typeof k === 'object' && !Array.isArray(k));
  if (keys.some((k) => PRIVATE_MEMBERS.some((m) => m in k)))
    throw new Error('the JWKS holds private or symmetric key material; nothing mirrored');
  // The keys first, then the document that points at them.
  await deps.put({ url: jwksUri, issuer: i.issuer, body: JSON.stringify({ keys }), fetchedAt: deps.now() });
  if (discovery) await deps.put(discovery);
}

async function get(url: string, deps: KeyMirrorDeps): Promise<string> {
  const res = await deps.fetch(url, {
    signal: AbortSignal.timeout(deps.timeoutMs ?? 5000),
    headers: { accept: 'application/json' },
    redirect: 'manual',
  });
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  const text = await res.text();
  if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) throw new Error(`${url}: larger than ${MAX_DOCUMENT_BYTES} bytes`);
  return text;
}

/** The issuers the mirror serves: all configured ones but those whose keys are served inside the VPC. */
export function mirroredIssuers<T extends Pick<IssuerConfig, 'issuer' | 'keysInVpc'>>(issuers: readonly T[]): T[] {
  return issuers.filter((i) => i.keysInVpc !== true);
}

/** The DynamoDB stream event the mirror gets (filtered to refresh requests by the event source mapping). */
export interface RefreshStreamEvent {
  readonly Records: readonly {
    readonly eventName?: string;
    readonly dynamodb?: { readonly Keys?: Readonly<Record<string, { readonly S?: string }>> };
  }[];
}

export function isRefreshStreamEvent(event: unknown): event is RefreshStreamEvent {
  return typeof event === 'object' && event !== null && Array.isArray((event as { Records?: unknown }).Records);
}

/**
 * The configured issuers a batch of refresh requests names, each once (in configuration order);
 * `ignored` lists the keys that name no configured (mirrored) issuer, or are no refresh request:
 * nothing is fetched for them.
 */
export function requestedIssuers<T extends Pick<IssuerConfig, 'issuer'>>(
  event: RefreshStreamEvent,
  issuers: readonly T[],
): { issuers: T[]; ignored: string[] } {
  const wanted = new Set<string>();
  const ignored: string[] = [];
  for (const r of event.Records) {
    if (r.eventName !== 'INSERT' && r.eventName !== 'MODIFY') continue;
    const key = r.dynamodb?.Keys?.[ISSUER_KEYS_TABLE.partitionKey]?.S ?? '';
    const issuer = issuerOfRefreshKey(key);
    if (issuer !== undefined && issuers.some((i) => i.issuer === issuer)) wanted.add(issuer);
    else ignored.push(key.slice(0, 200));
  }
  return { issuers: issuers.filter((i) => wanted.has(i.issuer)), ignored };
}

/**
 * Refresh-triggered fetches of one mirror instance: an issuer fetched on a refresh request less
 * than `intervalMs` ago is skipped (the schedule still runs every minute). Returns the issuers to
 * fetch now and marks them.
 */
export function refreshGate(intervalMs: number = ISSUER_KEYS_TABLE.mirrorRefreshIntervalMs) {
  const last = new Map<string, number>();
  return <T extends Pick<IssuerConfig, 'issuer'>>(issuers: readonly T[], now: number): { due: T[]; skipped: string[] } => {
    const due: T[] = [];
    const skipped: string[] = [];
    for (const i of issuers) {
      if (now - (last.get(i.issuer) ?? -Infinity) < intervalMs) skipped.push(i.issuer);
      else {
        last.set(i.issuer, now);
        due.push(i);
      }
    }
    return { due, skipped };
  };
}
