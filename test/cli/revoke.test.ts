/** The local deny list file and the revoke commands. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRevocationList } from '../../lambda/adapters/local/file-revocations';
import { listRevocations, parseUntil, revoke, unrevoke } from '../../cli/revoke';

const principal = { issuer: 'https://idp.example.com', subject: 'svc-a', clientId: 'client-a', tokenId: 'jti-1' };

test('a revocation written by one process is seen by another list on the same file once it re-reads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'embedgate-rev-'));
  let now = 1_000_000;
  const gatewaySide = new FileRevocationList(join(dir, 'revocations.json'), { checkEveryMs: 1000, now: () => now });
  expect(await gatewaySide.find(principal)).toBeNull();
  const out: string[] = [];
  expect(await revoke(['--subject', 'svc-a', '--reason', 'incident 7', '--archive-dir', dir, '--by', 'ops'], (s) => out.push(s))).toBe(0);
  expect(out[0]).toMatch(/^revoked subject svc-a \(any issuer\) in .*revocations\.json$/);
  // Within the check interval the old answer stands; after it, the change applies.
  expect(await gatewaySide.find(principal)).toBeNull();
  now += 1000;
  expect(await gatewaySide.find(principal)).toMatchObject({ kind: 'subject', value: 'svc-a', reason: 'incident 7', createdBy: 'ops' });
  expect(await unrevoke(['--subject', 'svc-a', '--archive-dir', dir], (s) => out.push(s))).toBe(0);
  now += 1000;
  expect(await gatewaySide.find(principal)).toBeNull();
  expect(await unrevoke(['--subject', 'svc-a', '--archive-dir', dir], (s) => out.push(s))).toBe(1);
});

test('token revocations need their issuer; lists show state', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'embedgate-rev-'));
  await expect(revoke(['--token-id', 'jti-1', '--archive-dir', dir], () => undefined)).rejects.toThrow(/--token-id needs --issuer/);
  await expect(revoke(['--archive-dir', dir], () => undefined)).rejects.toThrow(/exactly one of --subject, --client-id or --token-id/);
  await revoke(['--token-id', 'jti-1', '--issuer', 'https://idp.example.com', '--until', '2h', '--archive-dir', dir], () => undefined);
  const out: string[] = [];
  await listRevocations(['--archive-dir', dir], (s) => out.push(s));
  expect(out[0]).toMatch(/token\s+jti-1\s+https:\/\/idp\.example\.com\s+\S+Z\s+active/);
  const list = new FileRevocationList(join(dir, 'revocations.json'), { checkEveryMs: 0 });
  expect(await list.find(principal)).toMatchObject({ kind: 'token' });
});

test('an unreadable file fails closed with 503 until fixed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'embedgate-rev-'));
  const path = join(dir, 'revocations.json');
  writeFileSync(path, '{ not json');
  const list = new FileRevocationList(path, { checkEveryMs: 0 });
  await expect(list.find(principal)).rejects.toMatchObject({ status: 503, code: 'revocation_list_unavailable' });
  writeFileSync(path, JSON.stringify({ revocations: [] }));
  // mtime may not change within the same millisecond on some filesystems: a broken list re-reads regardless.
  expect(await list.find(principal)).toBeNull();
});

test('--until takes an ISO time or a duration, never the past', () => {
  const now = Date.parse('2026-11-29T12:00:00Z');
  expect(parseUntil('30m', now)).toBe(now + 30 * 60_000);
  expect(parseUntil('7d', now)).toBe(now + 7 * 86_400_000);
  expect(parseUntil('2026-12-01T00:00:00Z', now)).toBe(Date.parse('2026-12-01T00:00:00Z'));
  expect(parseUntil(undefined, now)).toBeNull();
  expect(() => parseUntil('2020-01-01T00:00:00Z', now)).toThrow(/in the past/);
  expect(() => parseUntil('tomorrow', now)).toThrow(/ISO time .* or a duration/);
});
