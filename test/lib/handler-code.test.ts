/**
 * handlerCode: a handler's Lambda code is its whole built bundle directory (index.mjs and every
 * chunk, the lazily loaded ones included) plus the configuration document, and the CDK asset the
 * app synthesizes holds all of it. Needs the bundles: `npm run build`.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { bundleFiles, handlerCode, packageRoot, type BundleName } from '../../lib/private/handler-code';
import { bundleGraph } from '../support/bundle-graph';

const assets = (b: BundleName) => join(packageRoot(), 'assets', b);
/** Every built bundle (assets/<name>/index.mjs). */
const BUNDLES = readdirSync(join(packageRoot(), 'assets')).filter((d) =>
  existsSync(join(packageRoot(), 'assets', d, 'index.mjs')),
) as BundleName[];

test('the three handler bundles are built', () => {
  expect(BUNDLES).toEqual(expect.arrayContaining(['proxy', 'edge-recorder', 'digest']));
});

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'embedgate-handler-code-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("bundleFiles lists every file of a bundle directory, chunks included, but esbuild's meta.json", () => {
  const dir = join(tmp, 'fake-bundle');
  mkdirSync(join(dir, 'chunks'), { recursive: true });
  for (const f of ['index.mjs', 'chunks/chunk-A.mjs', 'chunks/lazy-B.mjs', 'meta.json']) writeFileSync(join(dir, f), f);
  expect(bundleFiles(dir)).toEqual(['chunks/chunk-A.mjs', 'chunks/lazy-B.mjs', 'index.mjs']);
});

describe.each(BUNDLES)('%s', (bundle) => {
  test('the staged code holds every file of the bundle, byte for byte, and the extra files', async () => {
    const code = handlerCode(bundle, { 'config.json': '{"staged":true}' }) as lambda.AssetCode;
    const shipped = bundleFiles(assets(bundle));
    expect(shipped).toContain('index.mjs');
    expect(bundleFiles(code.path)).toEqual([...shipped, 'config.json'].sort());
    for (const f of shipped) expect(readFileSync(join(code.path, f)).equals(readFileSync(join(assets(bundle), f)))).toBe(true);
    expect(readFileSync(join(code.path, 'config.json'), 'utf8')).toBe('{"staged":true}');
    // Every import of the staged entry, static or lazy, resolves to a staged file.
    const graph = await bundleGraph(code.path);
    for (const d of graph.dynamicImports) expect(graph.files).toContain(d.file);
    expect([...graph.start, ...graph.lazy].sort()).toEqual(graph.files);
  });

  test('the asset changes when the extra files do, not otherwise', () => {
    const a = handlerCode(bundle, { 'config.json': '{"v":1}' }) as lambda.AssetCode;
    const b = handlerCode(bundle, { 'config.json': '{"v":1}' }) as lambda.AssetCode;
    const c = handlerCode(bundle, { 'config.json': '{"v":2}' }) as lambda.AssetCode;
    expect(b.path).toBe(a.path);
    expect(c.path).not.toBe(a.path);
  });
});

test('the synthesized proxy asset ships the lazily loaded chunks (Bedrock runtime, Comprehend)', async () => {
  const outdir = join(tmp, 'cdk.out');
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'HandlerCode');
  const code = handlerCode('proxy', { 'config.json': '{"synth":true}' }) as lambda.AssetCode;
  new lambda.Function(stack, 'Proxy', { code, handler: 'index.handler', runtime: lambda.Runtime.NODEJS_24_X });
  app.synth();

  const staged = readdirSync(outdir)
    .filter((d) => d.startsWith('asset.'))
    .map((d) => join(outdir, d));
  expect(staged).toHaveLength(1);
  const asset = staged[0]!;
  expect(bundleFiles(asset)).toEqual(bundleFiles(code.path));
  const graph = await bundleGraph(asset);
  expect(graph.lazy).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^chunks\/bedrock-runtime-[A-Z0-9]+\.mjs$/),
      expect.stringMatching(/^chunks\/comprehend-client-[A-Z0-9]+\.mjs$/),
    ]),
  );
});
