/**
 * The deny list's key layout and rules, shared by the DynamoDB adapter, the in-memory list of
 * `embedgate dev`, the construct and the CLI. Pure: no SDK, no I/O.
 *
 * One partition key per revocation:
 *
 * | kind      | issuer-specific               | any issuer             |
 * |-----------|-------------------------------|------------------------|
 * | `subject` | `sub#<issuer>#<subject>`      | `sub#*#<subject>`      |
 * | `client`  | `client#<issuer>#<clientId>`  | `client#*#<clientId>`  |
 * | `token`   | `jti#<issuer>#<tokenId>`      | (none: a `jti` is only unique per issuer) |
 *
 * An issuer never contains `#` (OIDC issuers are URLs without a fragment) and is never `*`, so a
 * key splits back unambiguously at its first two `#`; the value may contain `#`.
 */
import type { Revocation } from './ports';

/** The kinds of revocation. */
export type RevocationKind = Revocation['kind'];

/** The principal fields a revocation can match. */
export interface RevocationSubject {
  readonly issuer: string;
  readonly subject: string;
  readonly clientId: string | null;
  readonly tokenId: string | null;
}

/** The issuer placeholder of an any-issuer revocation. */
export const ANY_ISSUER = '*';

const PREFIX: Readonly<Record<RevocationKind, string>> = { subject: 'sub', client: 'client', token: 'jti' };
const KIND_OF_PREFIX: Readonly<Record<string, RevocationKind>> = { sub: 'subject', client: 'client', jti: 'token' };

/** Why a revocation or one of its key parts is not acceptable. */
export class InvalidRevocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRevocationError';
  }
}

/**
 * The partition key of a revocation (see the module doc). `issuer` null means any issuer.
 * Throws {@link InvalidRevocationError} for an empty value, an issuer that is empty, `*` or
 * contains `#`, or a token revocation without an issuer.
 */
export function revocationKey(kind: RevocationKind, issuer: string | null, value: string): string {
  const prefix = PREFIX[kind];
  if (prefix === undefined) throw new InvalidRevocationError(`unknown revocation kind ${JSON.stringify(kind)}`);
  if (typeof value !== 'string' || value === '') throw new InvalidRevocationError(`a ${kind} revocation needs a non-empty value`);
  if (issuer === null) {
    if (kind === 'token') throw new InvalidRevocationError('a token revocation needs its issuer: a token id is only unique per issuer');
    return `${prefix}#${ANY_ISSUER}#${value}`;
  }
  if (issuer === '' || issuer === ANY_ISSUER || issuer.includes('#')) {
    throw new InvalidRevocationError(
      `issuer ${JSON.stringify(issuer)} is not usable in a revocation: use null for any issuer; an issuer never contains "#"`,
    );
  }
  return `${prefix}#${issuer}#${value}`;
}

/** The parts of a partition key made by {@link revocationKey}; undefined when it is not one. */
export function parseRevocationKey(key: string): { kind: RevocationKind; issuer: string | null; value: string } | undefined {
  const first = key.indexOf('#');
  const second = first < 0 ? -1 : key.indexOf('#', first + 1);
  if (second < 0) return undefined;
  const kind = KIND_OF_PREFIX[key.slice(0, first)];
  const issuer = key.slice(first + 1, second);
  const value = key.slice(second + 1);
  if (kind === undefined || issuer === '' || value === '') return undefined;
  if (issuer === ANY_ISSUER && kind === 'token') return undefined;
  return { kind, issuer: issuer === ANY_ISSUER ? null : issuer, value };
}

/**
 * The keys that can revoke this principal, in precedence order: its token, its subject (at this
 * issuer, then at any issuer), its client (likewise). `find` returns the first that applies.
 * A principal field that cannot form a key (e.g. an issuer with `#`) contributes no key; the
 * issuer-independent keys still apply.
 */
export function applicableRevocationKeys(p: RevocationSubject): string[] {
  const keys: string[] = [];
  const add = (kind: RevocationKind, issuer: string | null, value: string | null): void => {
    if (value === null || value === '') return;
    try {
      keys.push(revocationKey(kind, issuer, value));
    } catch (e) {
      if (!(e instanceof InvalidRevocationError)) throw e;
    }
  };
  add('token', p.issuer, p.tokenId);
  add('subject', p.issuer, p.subject);
  add('subject', null, p.subject);
  add('client', p.issuer, p.clientId);
  add('client', null, p.clientId);
  return keys;
}

/** Whether a revocation is in force at `nowMs` (`until` is exclusive: at `until` it has ended). */
export function isRevocationActive(r: Pick<Revocation, 'until'>, nowMs: number): boolean {
  return r.until === null || nowMs < r.until;
}

/**
 * The first active revocation among `found`, taking keys in the order of `keys`
 * (see {@link applicableRevocationKeys}); null when none applies.
 */
export function firstActiveRevocation(
  keys: readonly string[],
  found: ReadonlyMap<string, Revocation | null>,
  nowMs: number,
): Revocation | null {
  for (const key of keys) {
    const r = found.get(key);
    if (r && isRevocationActive(r, nowMs)) return r;
  }
  return null;
}

/** Check a revocation before storing it; returns its key. Throws {@link InvalidRevocationError}. */
export function validateRevocation(r: Revocation): string {
  const key = revocationKey(r.kind, r.issuer, r.value);
  if (r.until !== null && !Number.isSafeInteger(r.until))
    throw new InvalidRevocationError('until must be an integer epoch-ms time or null');
  if (!Number.isSafeInteger(r.createdAt) || r.createdAt < 0)
    throw new InvalidRevocationError('createdAt must be a non-negative integer epoch-ms time');
  return key;
}
