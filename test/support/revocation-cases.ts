/**
 * The deny list's behaviour as one table of cases, run against every implementation of the
 * `RevocationList` port (the DynamoDB adapter against dynalite, the in-memory list of
 * `embedgate dev`), so both keep the same semantics.
 */
import type { Revocation, RevocationList } from '../../lambda/core/ports';
import { InvalidRevocationError } from '../../lambda/core/revocation';
import type { RevocationKind } from '../../lambda/core/revocation';

/** The port plus the operator methods both implementations offer. */
export interface RevocationAdmin extends RevocationList {
  put(r: Revocation): Promise<void>;
  delete(kind: RevocationKind, value: string, issuer: string | null): Promise<boolean>;
  list(): Promise<Revocation[]>;
}

/** Makes a fresh, empty list whose clock is `now`. */
export type RevocationListFactory = (now: () => number) => Promise<RevocationAdmin>;

/** The issuer of the test principals. */
export const ISSUER = 'https://idp.example.com';
/** Another trusted issuer. */
export const OTHER_ISSUER = 'https://login.other.example';
/** The clock's start, epoch ms. */
export const T0 = 1_750_000_000_000;

/** A revocation with defaults. */
export function revocation(kind: RevocationKind, value: string, issuer: string | null, extra: Partial<Revocation> = {}): Revocation {
  return {
    kind,
    value,
    issuer,
    reason: `${kind} ${value} revoked`,
    until: null,
    createdAt: T0 - 60_000,
    createdBy: 'ops@example.com',
    ...extra,
  };
}

type Who = { issuer: string; subject: string; clientId: string | null; tokenId: string | null };
const who = (over: Partial<Who> = {}): Who => ({ issuer: ISSUER, subject: 'svc-a', clientId: 'client-1', tokenId: 'jti-1', ...over });

interface FindCase {
  readonly name: string;
  readonly stored: readonly Revocation[];
  readonly principal: Who;
  /** Index into `stored` of the revocation `find` must return, or null. */
  readonly expected: number | null;
  /** Advance the clock by this much after storing, before finding. */
  readonly advanceMs?: number;
}

const FIND_CASES: readonly FindCase[] = [
  { name: 'nothing stored -> null', stored: [], principal: who(), expected: null },
  { name: 'subject at its issuer', stored: [revocation('subject', 'svc-a', ISSUER)], principal: who(), expected: 0 },
  {
    name: 'subject at another issuer does not apply',
    stored: [revocation('subject', 'svc-a', OTHER_ISSUER)],
    principal: who(),
    expected: null,
  },
  {
    name: 'subject at any issuer applies at every issuer',
    stored: [revocation('subject', 'svc-a', null)],
    principal: who({ issuer: OTHER_ISSUER }),
    expected: 0,
  },
  { name: 'another subject does not apply', stored: [revocation('subject', 'svc-b', null)], principal: who(), expected: null },
  { name: 'client at its issuer', stored: [revocation('client', 'client-1', ISSUER)], principal: who(), expected: 0 },
  { name: 'client at any issuer', stored: [revocation('client', 'client-1', null)], principal: who({ issuer: OTHER_ISSUER }), expected: 0 },
  {
    name: 'client at another issuer does not apply',
    stored: [revocation('client', 'client-1', OTHER_ISSUER)],
    principal: who(),
    expected: null,
  },
  {
    name: 'a principal without client id is not hit by client revocations',
    stored: [revocation('client', 'client-1', null)],
    principal: who({ clientId: null }),
    expected: null,
  },
  { name: 'token id at its issuer', stored: [revocation('token', 'jti-1', ISSUER)], principal: who(), expected: 0 },
  {
    name: 'the same token id at another issuer does not apply',
    stored: [revocation('token', 'jti-1', OTHER_ISSUER)],
    principal: who(),
    expected: null,
  },
  { name: 'another token id does not apply', stored: [revocation('token', 'jti-2', ISSUER)], principal: who(), expected: null },
  {
    name: 'a principal without token id is not hit by token revocations',
    stored: [revocation('token', 'jti-1', ISSUER)],
    principal: who({ tokenId: null }),
    expected: null,
  },
  { name: 'a subject value is not a client id', stored: [revocation('client', 'svc-a', null)], principal: who(), expected: null },
  {
    name: 'values may contain "#"',
    stored: [revocation('subject', 'team#svc#a', ISSUER)],
    principal: who({ subject: 'team#svc#a' }),
    expected: 0,
  },
  {
    name: 'active before until',
    stored: [revocation('subject', 'svc-a', null, { until: T0 + 1000 })],
    principal: who(),
    expected: 0,
    advanceMs: 999,
  },
  {
    name: 'ended at until (exclusive)',
    stored: [revocation('subject', 'svc-a', null, { until: T0 + 1000 })],
    principal: who(),
    expected: null,
    advanceMs: 1000,
  },
  {
    name: 'already ended when stored',
    stored: [revocation('token', 'jti-1', ISSUER, { until: T0 - 1 })],
    principal: who(),
    expected: null,
  },
  {
    name: 'precedence: token, then subject, then client',
    stored: [revocation('client', 'client-1', ISSUER), revocation('subject', 'svc-a', null), revocation('token', 'jti-1', ISSUER)],
    principal: who(),
    expected: 2,
  },
  {
    name: 'precedence: issuer-specific subject before any-issuer subject',
    stored: [revocation('subject', 'svc-a', null), revocation('subject', 'svc-a', ISSUER)],
    principal: who(),
    expected: 1,
  },
  {
    name: 'an ended revocation does not hide one still in force',
    stored: [revocation('token', 'jti-1', ISSUER, { until: T0 + 10 }), revocation('client', 'client-1', null, { until: T0 + 5000 })],
    principal: who(),
    expected: 1,
    advanceMs: 100,
  },
];

/** Define the shared behavioural tests for one implementation. */
export function describeRevocationList(name: string, factory: RevocationListFactory): void {
  describe(`${name}: shared behaviour`, () => {
    let t = T0;
    const now = (): number => t;
    beforeEach(() => {
      t = T0;
    });

    it.each(FIND_CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const list = await factory(now);
      for (const r of c.stored) await list.put(r);
      t += c.advanceMs ?? 0;
      const found = await list.find(c.principal);
      expect(found).toEqual(c.expected === null ? null : c.stored[c.expected]);
    });

    it('put replaces the revocation of the same kind, issuer and value', async () => {
      const list = await factory(now);
      await list.put(revocation('subject', 'svc-a', ISSUER, { reason: 'first' }));
      await list.put(revocation('subject', 'svc-a', ISSUER, { reason: 'second', until: T0 + 5000, createdBy: null }));
      expect(await list.find(who())).toEqual(
        revocation('subject', 'svc-a', ISSUER, { reason: 'second', until: T0 + 5000, createdBy: null }),
      );
      expect(await list.list()).toHaveLength(1);
    });

    it('delete lifts a revocation and says whether there was one', async () => {
      const list = await factory(now);
      await list.put(revocation('client', 'client-1', null));
      await expect(list.delete('client', 'client-1', ISSUER)).resolves.toBe(false);
      expect(await list.find(who())).not.toBeNull();
      await expect(list.delete('client', 'client-1', null)).resolves.toBe(true);
      expect(await list.find(who())).toBeNull();
      await expect(list.delete('client', 'client-1', null)).resolves.toBe(false);
    });

    it('list returns every revocation, ended ones included, fields intact', async () => {
      const list = await factory(now);
      const all = [
        revocation('token', 'jti-9', ISSUER, { until: T0 - 5, reason: null, createdBy: null }),
        revocation('subject', 'svc-a', null),
        revocation('client', 'c#1', OTHER_ISSUER, { until: T0 + 123_456 }),
      ];
      for (const r of all) await list.put(r);
      const listed = await list.list();
      expect(listed).toHaveLength(3);
      expect(listed).toEqual(expect.arrayContaining(all));
    });

    it('refuses a token revocation without issuer and an issuer containing "#"', async () => {
      const list = await factory(now);
      await expect(list.put(revocation('token', 'jti-1', null))).rejects.toThrow(InvalidRevocationError);
      await expect(list.put(revocation('subject', 'svc-a', 'https://x#y'))).rejects.toThrow(InvalidRevocationError);
      await expect(list.put(revocation('subject', '', ISSUER))).rejects.toThrow(InvalidRevocationError);
      expect(await list.list()).toEqual([]);
    });
  });
}
