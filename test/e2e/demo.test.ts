/** The README's first command must work: `npm run demo` runs the compiled demo and exits 0. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

test('the demo runs end to end and every step behaves as expected', () => {
  const r = spawnSync(process.execPath, [join(__dirname, '..', '..', 'dist', 'cli', 'demo.js')], { encoding: 'utf8', timeout: 60_000 });
  const out = `${r.stdout}${r.stderr}`;
  expect(out).toContain('demo passed');
  expect(out).not.toContain('FAIL');
  expect(out).toMatch(/ok {3}revoked without a restart: 403 principal_revoked/);
  expect(out).toMatch(/ok {3}one record per request: (\d+) records for \1 requests/);
  expect(r.status).toBe(0);
});
