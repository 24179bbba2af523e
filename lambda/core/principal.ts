/** Who is calling: the verified identity of a service principal, as the core sees it. */

/** A verified service principal. */
export interface Principal {
  /** The `id` of the trusted-issuer entry that verified the token. */
  readonly issuerId: string;
  readonly issuer: string;
  readonly subject: string;
  readonly clientId: string | null;
  readonly groups: readonly string[];
  readonly scopes: readonly string[];
  /** The token's `jti`, if any. */
  readonly tokenId: string | null;
  /** The token's `exp`, seconds since the epoch. */
  readonly expiresAt: number | null;
}
