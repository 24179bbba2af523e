/**
 * The issuer-keys table's contract, shared by the construct (IAM conditions, stream filter, TTL)
 * and the runtime (the proxy's reads and refresh requests, the key mirror's writes): one home for
 * its attribute names and the shape of its "refresh wanted" items.
 *
 * Two kinds of item share the partition key `url`:
 * - a mirrored document: the exact https URL it was fetched from (written by the mirror only);
 * - a refresh request: `refresh#` + the exact issuer (`iss`) of a configured issuer, written by the
 *   proxy on an unknown `kid` (the proxy may write nothing else: an IAM condition on the leading
 *   key), read by the mirror from the table's stream. A URL never starts with `refresh#`.
 */
export const ISSUER_KEYS_TABLE = {
  /** Partition key: a document's URL, or a refresh request's key. */
  partitionKey: 'url',
  /** Prefix of a refresh request's key. */
  refreshPrefix: 'refresh#',
  /** Refresh request: epoch ms when it was (last) written. */
  requestedAt: 'requestedAt',
  /** Refresh request: epoch seconds after which DynamoDB deletes it (the table's TTL attribute). */
  expiresAt: 'expiresAt',
  /** At most one refresh request per issuer per this many ms (table-wide, a conditional write; and per proxy instance). */
  refreshIntervalMs: 10_000,
  /** The mirror fetches an issuer on a refresh request at most once per this many ms (per mirror instance). */
  mirrorRefreshIntervalMs: 10_000,
  /** How long a refresh request lives before TTL removes it, seconds. */
  refreshTtlSeconds: 3600,
} as const;

/** The key of an issuer's refresh request. */
export function refreshRequestKey(issuer: string): string {
  return `${ISSUER_KEYS_TABLE.refreshPrefix}${issuer}`;
}

/** The issuer a refresh request's key names, or undefined when the key is not a refresh request. */
export function issuerOfRefreshKey(key: string): string | undefined {
  return key.startsWith(ISSUER_KEYS_TABLE.refreshPrefix) ? key.slice(ISSUER_KEYS_TABLE.refreshPrefix.length) : undefined;
}
