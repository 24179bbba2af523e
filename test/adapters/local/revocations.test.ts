import { InMemoryRevocationList } from '../../../lambda/adapters/local/revocations';
import { describeRevocationList, ISSUER, revocation, T0 } from '../../support/revocation-cases';

describeRevocationList('InMemoryRevocationList', async (now) => new InMemoryRevocationList({ now }));

it('can start with revocations (e.g. from the dev configuration)', async () => {
  const r = revocation('subject', 'svc-a', ISSUER);
  const list = new InMemoryRevocationList({ now: () => T0, revocations: [r] });
  await expect(list.find({ issuer: ISSUER, subject: 'svc-a', clientId: null, tokenId: null })).resolves.toEqual(r);
  expect(() => new InMemoryRevocationList({ revocations: [revocation('token', 'j', null)] })).toThrow(/needs its issuer/);
});

it('hands out copies: changing a found or listed revocation does not change the list', async () => {
  const list = new InMemoryRevocationList({ now: () => T0 });
  await list.put(revocation('subject', 'svc-a', ISSUER));
  const [listed] = await list.list();
  (listed as { reason: string | null }).reason = 'tampered';
  const found = await list.find({ issuer: ISSUER, subject: 'svc-a', clientId: null, tokenId: null });
  expect(found?.reason).toBe('subject svc-a revoked');
});
