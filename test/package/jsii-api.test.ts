/**
 * The public API as other languages see it: the jsii assembly `npm run build` writes (.jsii),
 * read with jsii-reflect, and jsii-diff against the committed baseline (api/baseline/assembly.jsii, the
 * assembly of the last release, with a package.json for its dependencies): a breaking change fails unless declared in
 * api/allowed-breaking-changes.txt.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TypeSystem, type Assembly, type Type } from 'jsii-reflect';

const exec = promisify(execFile);
const ROOT = join(__dirname, '..', '..');

/** Every exported type: a change here is a change of the public API, made on purpose. */
const EXPORTED = [
  'ApprovalConditions',
  'ApprovalPattern',
  'ApprovalRequirement',
  'ApprovalReviewers',
  'ApprovalWorkflow',
  'ApprovalWorkflowProps',
  'ArchiveFailureMode',
  'ArchiveJournal',
  'ArchiveJournalProps',
  'ArchiveRetention',
  'ArchiveRetentionMode',
  'AuditDigests',
  'AuditDigestsProps',
  'AzureOpenAiModelOptions',
  'CohereModelOptions',
  'ComprehendLanguage',
  'CustomMaskingDetector',
  'EmbeddingGateway',
  'EmbeddingGatewayProps',
  'GatewayMasking',
  'GatewayNetwork',
  'GatewayNetworkProps',
  'GatewayRecording',
  'JwtAlgorithm',
  'KeyedModelOptions',
  'MaskingDetector',
  'MaskingStrategy',
  'ModelLimits',
  'ModelOptions',
  'OpenAiCompatibleModelOptions',
  'OpenAiModelOptions',
  'PolicyEffect',
  'PolicyRule',
  'PolicyTests',
  'RateLimitScope',
  'RateLimits',
  'RecordedInputText',
  'ReviewerChatChannel',
  'ReviewerPageOptions',
  'RevocationTable',
  'RevocationTableProps',
  'SessionArchive',
  'SessionArchiveProps',
  'TrustedIssuer',
  'UpstreamCallOptions',
  'UpstreamModel',
  'UpstreamModelBindOptions',
  'UpstreamModelBinding',
  'UsageTable',
  'UsageTableProps',
];
const CONSTRUCTS = [
  'ApprovalWorkflow',
  'ArchiveJournal',
  'AuditDigests',
  'EmbeddingGateway',
  'GatewayNetwork',
  'RevocationTable',
  'SessionArchive',
  'UsageTable',
];

let assembly: Assembly;
let types: readonly Type[];

beforeAll(async () => {
  if (!existsSync(join(ROOT, '.jsii'))) throw new Error('no .jsii assembly: run npm run build (npm test does) first');
  const ts = new TypeSystem();
  // aws-cdk-lib's assembly uses intersection types (of its own API, not ours: the test below checks ours has none).
  assembly = await ts.load(ROOT, { validate: false, supportedFeatures: ['intersection-types'] });
  types = assembly.allTypes;
}, 120_000);

test('the assembly exports exactly the known types', () => {
  expect(types.map((t) => t.name).sort()).toEqual(EXPORTED);
  expect(assembly.name).toBe('embedgate');
  expect(assembly.dependencies.map((d) => d.assembly.name).sort()).toEqual(['aws-cdk-lib', 'constructs']);
});

test.each(CONSTRUCTS)('%s is a construct: (scope, id, props)', (name) => {
  const t = types.find((x) => x.name === name)!;
  if (!t.isClassType()) throw new Error(`${name} is not a class`);
  expect(t.getAncestors().map((a) => a.fqn)).toContain('constructs.Construct');
  expect(t.initializer!.parameters.map((p) => p.name)).toEqual(['scope', 'id', 'props']);
  expect(t.initializer!.parameters[2]!.type.fqn).toBe(`embedgate.${name}Props`);
});

test('props are data types of readonly fields, no union types anywhere in the API (other languages have none)', () => {
  const unions: string[] = [];
  const mutable: string[] = [];
  for (const t of types) {
    if (!t.isClassType() && !t.isInterfaceType()) continue;
    for (const p of t.ownProperties) {
      if (p.type.unionOfTypes) unions.push(`${t.name}.${p.name}`);
      if (t.isDataType() && !p.immutable) mutable.push(`${t.name}.${p.name}`);
    }
    for (const m of t.ownMethods) for (const p of m.parameters) if (p.type.unionOfTypes) unions.push(`${t.name}.${m.name}(${p.name})`);
  }
  expect(unions).toEqual([]);
  expect(mutable).toEqual([]);
  for (const name of EXPORTED.filter((n) => n.endsWith('Props'))) expect(types.find((t) => t.name === name)!.isDataType()).toBe(true);
});

test('every optional prop of a construct documents its default', () => {
  const missing: string[] = [];
  for (const name of CONSTRUCTS) {
    const props = types.find((t) => t.name === `${name}Props`)!;
    if (!props.isInterfaceType()) continue;
    for (const p of props.allProperties) if (p.optional && p.docs.docs.default === undefined) missing.push(`${props.name}.${p.name}`);
  }
  expect(missing).toEqual([]);
});

test('targets are configured for Python, Java, .NET and Go', () => {
  expect(Object.keys(assembly.targets ?? {}).sort()).toEqual(['dotnet', 'go', 'java', 'js', 'python']);
  expect(assembly.targets!.python).toMatchObject({ distName: 'embedgate', module: 'embedgate' });
});

test('API.md (jsii-docgen) documents every exported type', () => {
  const api = readFileSync(join(ROOT, 'API.md'), 'utf8');
  for (const name of EXPORTED) expect(api).toContain(`id="embedgate.${name}"`);
});

describe('jsii-diff against the baseline', () => {
  const diff = (original: string, updated: string) =>
    exec(process.execPath, [join(ROOT, 'node_modules', 'jsii-diff', 'bin', 'jsii-diff.js'), original, updated, '--error-on', 'all'], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });

  // The baseline, staged outside the repository as a package jsii-diff reads (scripts/api-diff.mjs).
  let baseline: string;
  beforeAll(() => {
    baseline = mkdtempSync(join(tmpdir(), 'embedgate-api-baseline-'));
    copyFileSync(join(ROOT, 'api', 'baseline', 'assembly.jsii'), join(baseline, '.jsii'));
    copyFileSync(join(ROOT, 'api', 'baseline', 'package.json'), join(baseline, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(baseline, 'node_modules'));
  });
  afterAll(() => rmSync(baseline, { recursive: true, force: true }));

  test('the current assembly breaks nothing of the baseline (npm run api:diff)', async () => {
    await expect(diff(baseline, '.')).resolves.toBeDefined();
  }, 120_000);

  test('fails on a removed type and on a removed prop', async () => {
    const jsii = JSON.parse(readFileSync(join(ROOT, '.jsii'), 'utf8')) as {
      types: Record<string, { properties?: { name: string }[] }>;
      fingerprint: string;
    };
    delete jsii.types['embedgate.AuditDigests'];
    const props = jsii.types['embedgate.EmbeddingGatewayProps']!;
    props.properties = props.properties!.filter((p) => p.name !== 'archiveRetention');
    jsii.fingerprint = 'changed';
    // Outside the repository (jsii-docgen of a concurrent build must not find it), with the
    // repository's node_modules linked in for its dependencies.
    const dir = mkdtempSync(join(tmpdir(), 'embedgate-jsii-diff-'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, '.jsii'), JSON.stringify(jsii));
    writeFileSync(join(dir, 'package.json'), readFileSync(join(ROOT, 'api', 'baseline', 'package.json')));
    const err = (await diff(baseline, dir).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: number; stdout?: string; stderr?: string } | undefined;
    expect(err?.code).toBe(1);
    const out = `${err!.stdout}${err!.stderr}`;
    expect(out).toMatch(/embedgate\.AuditDigests/);
    expect(out).toMatch(/archiveRetention/);
  }, 120_000);
});
