/** The README's table of client codes and record reasons is the one the code produces. */
import { readFileSync } from 'node:fs';
import { END, errorCodes, README, renderTable, START, withTable } from '../../scripts/error-codes';

const codes = errorCodes();

test('the README carries the current table (npx tsx scripts/error-codes.ts --write)', () => {
  const readme = readFileSync(README, 'utf8');
  expect(readme).toContain(START);
  expect(withTable(readme, renderTable(codes))).toBe(readme);
});

test('the table maps codes that differ from their reasons, read from the code', () => {
  const table = renderTable(codes);
  expect(table).toContain('| 422 | `sensitive_data_blocked` | `masking_blocked` |');
  expect(table).toContain('| 403 | `principal_revoked` | `revoked_client`, `revoked_subject`, `revoked_token` |');
  expect(table).toContain('| 403 | `model_not_allowed` | `model_unknown`, `no_matching_rule`, `rule_deny` |');
  // a reason chosen from a lookup table (identity.ts) is followed, not lost
  expect(table).toMatch(/\| 401 \| `invalid_token` \| [^|]*`missing_expiry`[^|]*`wrong_audience`/);
  expect(codes.some((c) => c.code === '(computed)' || c.reason === '(computed)')).toBe(false);
});

test('fails when the README has no table markers', () => {
  expect(() => withTable('# readme\n', '| x |')).toThrow(/error-codes:start/);
  expect(END).toBe('<!-- error-codes:end -->');
});
