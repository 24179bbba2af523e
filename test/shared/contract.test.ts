/**
 * shared/contract.ts is the one place where the names the constructs and the handlers share are
 * written: no other source file spells an `EMBEDGATE_` name, every bundle has its entry, and the
 * names are unique (two roles under one name would be read by the wrong side).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  ACCESS_LOG_FORMAT,
  CLI_ENV,
  DEPLOY_REF_ENV_PREFIX,
  EDGE_ENTRY_FILTER,
  HANDLER_BUNDLES,
  HANDLER_ENV,
  METRIC,
} from '../../shared/contract';

const root = join(__dirname, '..', '..');
const SOURCE_DIRS = ['lib', 'lambda', 'shared', 'cli', 'bin', 'scripts'];

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|mts|mjs|js)$/.test(e.name))
    .map((e) => relative(root, join(e.parentPath, e.name)).split('\\').join('/'));
}

/** The files (outside the contract) that spell a name of the contract's form, with the names. */
function spellings(files: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of files) {
    if (f === 'shared/contract.ts') continue;
    const found = readFileSync(join(root, f), 'utf8').match(/EMBEDGATE_[A-Z0-9_]*/g);
    if (found) out[f] = [...new Set(found)];
  }
  return out;
}

test('no source file but shared/contract.ts spells an EMBEDGATE_ name (tests aside)', () => {
  const files = SOURCE_DIRS.flatMap((d) => sourceFiles(join(root, d)));
  expect(files).toEqual(expect.arrayContaining(['lib/embedding-gateway.ts', 'lambda/handlers/proxy.lambda.ts', 'cli/approvals.ts']));
  expect(spellings(files)).toEqual({});
});

test('the check finds a name spelled outside the contract', () => {
  // The fixture spells a name the way a regression would; the check must report it.
  expect(spellings(['test/shared/contract.test.ts'])).toEqual({ 'test/shared/contract.test.ts': expect.arrayContaining(['EMBEDGATE_']) });
});

test('every handler bundle has its entry, lambda/handlers/<name>.lambda.ts', () => {
  for (const name of HANDLER_BUNDLES) expect(existsSync(join(root, 'lambda', 'handlers', `${name}.lambda.ts`))).toBe(true);
  const entries = readdirSync(join(root, 'lambda', 'handlers')).filter((f) => f.endsWith('.lambda.ts'));
  expect(entries.map((f) => f.replace(/\.lambda\.ts$/, '')).sort()).toEqual([...HANDLER_BUNDLES].sort());
});

test('environment names are unique and of their side', () => {
  const handler = Object.values(HANDLER_ENV);
  const cli = Object.values(CLI_ENV);
  expect(new Set([...handler, ...cli]).size).toBe(handler.length + cli.length);
  for (const name of [...handler, ...cli]) expect(name).toMatch(/^(EMBEDGATE|POWERTOOLS)_[A-Z0-9_]+$/);
  // A deploy-time reference variable can never shadow a named one.
  for (const name of [...handler, ...cli]) expect(name.startsWith(DEPLOY_REF_ENV_PREFIX)).toBe(false);
});

test('metric names are unique CloudWatch names', () => {
  const names = Object.values(METRIC);
  expect(new Set(names).size).toBe(names.length);
  for (const n of names) expect(n).toMatch(/^[A-Z][A-Za-z]+$/);
});

test('the access log names each API Gateway variable once, and the edge filter reads one of its fields', () => {
  const variables = Object.values(ACCESS_LOG_FORMAT);
  expect(new Set(variables).size).toBe(variables.length);
  for (const v of variables) expect(v).toMatch(/^\$context\.[A-Za-z_.]+$/);
  expect(ACCESS_LOG_FORMAT.requestId).toBe('$context.requestId');
  expect(ACCESS_LOG_FORMAT[EDGE_ENTRY_FILTER.field]).toBe('$context.integrationStatus');
});
