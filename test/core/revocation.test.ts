import {
  applicableRevocationKeys,
  firstActiveRevocation,
  InvalidRevocationError,
  isRevocationActive,
  parseRevocationKey,
  revocationKey,
} from '../../lambda/core/revocation';
import type { Revocation } from '../../lambda/core/ports';

const ISS = 'https://idp.example.com';

describe('revocationKey', () => {
  it.each([
    ['subject', ISS, 'svc-a', `sub#${ISS}#svc-a`],
    ['subject', null, 'svc-a', 'sub#*#svc-a'],
    ['client', ISS, 'c1', `client#${ISS}#c1`],
    ['client', null, 'c1', 'client#*#c1'],
    ['token', ISS, 'jti-1', `jti#${ISS}#jti-1`],
    ['subject', ISS, 'a#b#c', `sub#${ISS}#a#b#c`],
  ] as const)('%s / %s / %s -> %s', (kind, issuer, value, key) => {
    expect(revocationKey(kind, issuer, value)).toBe(key);
    expect(parseRevocationKey(key)).toEqual({ kind, issuer, value });
  });

  it.each([
    ['token', null, 'jti-1', /needs its issuer/],
    ['subject', '*', 'x', /not usable/],
    ['subject', '', 'x', /not usable/],
    ['subject', 'https://a#b', 'x', /not usable/],
    ['client', ISS, '', /non-empty value/],
    ['nope', ISS, 'x', /unknown revocation kind/],
  ] as const)('refuses %s / %s / %s', (kind, issuer, value, message) => {
    expect(() => revocationKey(kind as 'subject', issuer, value)).toThrow(InvalidRevocationError);
    expect(() => revocationKey(kind as 'subject', issuer, value)).toThrow(message);
  });

  it.each(['', 'sub', 'sub#x', 'sub##v', 'sub#x#', 'jti#*#v', 'other#x#v'])('parseRevocationKey(%j) -> undefined', (key) => {
    expect(parseRevocationKey(key)).toBeUndefined();
  });
});

describe('applicableRevocationKeys', () => {
  it('lists token, subject (issuer, any), client (issuer, any) in that order', () => {
    expect(applicableRevocationKeys({ issuer: ISS, subject: 's', clientId: 'c', tokenId: 'j' })).toEqual([
      `jti#${ISS}#j`,
      `sub#${ISS}#s`,
      'sub#*#s',
      `client#${ISS}#c`,
      'client#*#c',
    ]);
  });

  it('leaves out what the principal lacks, and issuer keys an issuer cannot form', () => {
    expect(applicableRevocationKeys({ issuer: ISS, subject: 's', clientId: null, tokenId: null })).toEqual([`sub#${ISS}#s`, 'sub#*#s']);
    expect(applicableRevocationKeys({ issuer: 'https://odd#iss', subject: 's', clientId: 'c', tokenId: 'j' })).toEqual([
      'sub#*#s',
      'client#*#c',
    ]);
  });
});

describe('expiry', () => {
  const r = (until: number | null): Revocation => ({
    kind: 'subject',
    value: 's',
    issuer: null,
    reason: null,
    until,
    createdAt: 0,
    createdBy: null,
  });

  it('is in force before until, not at or after it, and forever when until is null', () => {
    expect(isRevocationActive(r(1000), 999)).toBe(true);
    expect(isRevocationActive(r(1000), 1000)).toBe(false);
    expect(isRevocationActive(r(null), Number.MAX_SAFE_INTEGER)).toBe(true);
  });

  it('firstActiveRevocation follows the key order and skips ended ones', () => {
    const ended = r(10);
    const forever = r(null);
    const found = new Map<string, Revocation | null>([
      ['a', ended],
      ['b', null],
      ['c', forever],
    ]);
    expect(firstActiveRevocation(['a', 'b', 'c'], found, 100)).toBe(forever);
    expect(firstActiveRevocation(['a', 'b', 'c'], found, 5)).toBe(ended);
    expect(firstActiveRevocation(['b', 'missing'], found, 5)).toBeNull();
  });
});
