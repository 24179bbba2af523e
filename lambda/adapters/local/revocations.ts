import type { Revocation, RevocationList } from '../../core/ports';
import { applicableRevocationKeys, firstActiveRevocation, revocationKey, validateRevocation } from '../../core/revocation';
import type { RevocationKind, RevocationSubject } from '../../core/revocation';

/**
 * The deny list of `embedgate dev`: the same keys, precedence and expiry rules as the DynamoDB
 * adapter (`lambda/core/revocation.ts`), held in memory. Nothing to cache, nothing to fail.
 */
export class InMemoryRevocationList implements RevocationList {
  private readonly items = new Map<string, Revocation>();
  private readonly now: () => number;

  constructor(opts: { now?: () => number; revocations?: readonly Revocation[] } = {}) {
    this.now = opts.now ?? Date.now;
    for (const r of opts.revocations ?? []) this.items.set(validateRevocation(r), { ...r });
  }

  /** The first revocation in force for this principal (token, subject, client), or null. */
  async find(p: RevocationSubject): Promise<Revocation | null> {
    const keys = applicableRevocationKeys(p);
    const found = new Map<string, Revocation | null>(keys.map((k) => [k, this.items.get(k) ?? null]));
    const r = firstActiveRevocation(keys, found, this.now());
    return r && { ...r };
  }

  /** Add or replace a revocation (one per kind, issuer and value). Async like the DynamoDB adapter's. */
  async put(revocation: Revocation): Promise<void> {
    const key = validateRevocation(revocation);
    this.items.set(key, { ...revocation });
  }

  /** Remove a revocation; true when there was one. */
  async delete(kind: RevocationKind, value: string, issuer: string | null): Promise<boolean> {
    return this.items.delete(revocationKey(kind, issuer, value));
  }

  /** Every stored revocation, expired ones included, in key order. */
  async list(): Promise<Revocation[]> {
    return [...this.items.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => ({ ...r }));
  }
}
