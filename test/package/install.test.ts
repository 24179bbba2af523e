/**
 * The package as a user gets it: `npm pack` of this checkout (built by `npm test` before jest),
 * installed into an empty folder, and every command the README shows run from there: no
 * devDependency of this repository is reachable from that folder, so a runtime need that is not
 * shipped fails here. Slow (two installs from the npm cache or the registry): one file, one pack.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { startDevProcess, type DevProcess } from '../support/dev-process';

const exec = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};
/** npm and the installed bin run with this test's node first on PATH. */
const ENV: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
  npm_config_audit: 'false',
  npm_config_fund: 'false',
};
const INSTALL_TIMEOUT = 600_000;

let project: string;
let cliEntry: string;

const npm = (args: string[], cwd: string) => exec('npm', args, { cwd, env: ENV, maxBuffer: 64 * 1024 * 1024, timeout: INSTALL_TIMEOUT });

/** Run the installed `embedgate` (through node_modules/.bin, as npx or a package script would). */
function embedgate(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(join(project, 'node_modules', '.bin', 'embedgate'), args, {
    cwd: project,
    env: { ...ENV, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli-bundle', 'main.mjs')) || !existsSync(join(ROOT, 'assets', 'proxy', 'index.mjs')))
    throw new Error('test/package needs the build: run npm run build (npm test does) first');
  const dir = await mkdtemp(join(tmpdir(), 'embedgate-package-'));
  await npm(['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
  const tgz = (await readdir(dir)).find((f) => f.endsWith('.tgz'))!;
  project = join(dir, 'app');
  await mkdir(project);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  // The README's install line: the package and its peers.
  await npm(
    [
      'install',
      '--prefer-offline',
      '--no-package-lock',
      join(dir, tgz),
      `aws-cdk-lib@${PKG.devDependencies['aws-cdk-lib']}`,
      `constructs@${PKG.devDependencies.constructs}`,
    ],
    project,
  );
  cliEntry = join(project, 'node_modules', 'embedgate', 'cli', 'embedgate.js');
}, INSTALL_TIMEOUT);

describe('what the package ships', () => {
  test('no source maps without their sources, no TypeScript sources of its own, a LICENSE', async () => {
    const files = (await readdir(join(project, 'node_modules', 'embedgate'), { recursive: true })).map(String);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts') && !f.startsWith('node_modules'))).toEqual([]);
    expect(files).toContain('LICENSE');
  });

  test('the only installed runtime dependency is the bundled zod (the CLI carries its own)', () => {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules', 'embedgate', 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    expect(Object.keys(installed.dependencies ?? {})).toEqual(['zod']);
  });
});

describe('the CLI, installed', () => {
  test('--version prints the package version', () => {
    const r = embedgate(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: `embedgate ${PKG.version}\n` });
  });

  test.each([[[]], [['dev']], [['config']], [['audit']], [['audit', 'query']], [['revoke']], [['revocations']], [['approvals']]])(
    '%j --help exits 0 with a usage',
    (args) => {
      const r = embedgate([...args, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^usage/);
    },
  );

  test('config validate on the shipped example', () => {
    const r = embedgate(['config', 'validate', join(project, 'node_modules', 'embedgate', 'examples', 'dev.json')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^valid: .* version sha256:[0-9a-f]{64}\n$/);
  });

  test('dev exits 2 naming a missing secret before it listens', () => {
    const env = { ...ENV };
    delete env.EMBEDGATE_PSEUDONYM_KEY;
    const r = spawnSync(process.execPath, [cliEntry, 'dev', '--config', 'node_modules/embedgate/examples/dev.json', '--issuer'], {
      cwd: project,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^embedgate: masking\.pseudonymKey: environment variable EMBEDGATE_PSEUDONYM_KEY is not set: export EMBEDGATE_PSEUDONYM_KEY=/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  test.each([
    ['--port', (p: number) => ['--port', String(p), '--issuer-port', '0']],
    ['--issuer-port', (p: number) => ['--port', '0', '--issuer-port', String(p)]],
  ])('a busy port is one line naming the port and %s', async (flag, args) => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = spawnSync(
        process.execPath,
        [cliEntry, 'dev', '--config', 'node_modules/embedgate/examples/dev.json', '--issuer', ...args(port), '--archive-dir', 'busy'],
        { cwd: project, env: { ...ENV, EMBEDGATE_PSEUDONYM_KEY: 'k'.repeat(32) }, encoding: 'utf8', timeout: 30_000 },
      );
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`embedgate: port ${port} is already in use: choose another with ${flag} <n> (0 picks a free port)\n`);
    } finally {
      blocker.close();
    }
  });

  describe('dev --issuer, then revoke, approvals and audit query against it', () => {
    let dev: DevProcess;
    let token: string;
    const archive = () => join(project, 'archive');
    beforeAll(async () => {
      dev = await startDevProcess(
        ['--config', 'node_modules/embedgate/examples/dev.json', '--issuer', '--issuer-port', '0', '--archive-dir', archive()],
        { EMBEDGATE_PSEUDONYM_KEY: 'package-test-pseudonym-key-0123456789', PATH: ENV.PATH },
        60_000,
        cliEntry,
        project,
      );
      const res = await fetch(dev.tokenEndpoint!, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('batch-indexer:indexer-secret-change-me').toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
      token = ((await res.json()) as { access_token: string }).access_token;
    }, 90_000);
    afterAll(() => dev?.stop());

    const embed = () =>
      fetch(`${dev.url}/v1/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'local-small', input: 'hello' }),
      });

    test('the README call embeds', async () => {
      const r = await embed();
      expect(r.status).toBe(200);
      expect(((await r.json()) as { data: unknown[] }).data).toHaveLength(1);
    });

    test('revoke cuts the principal off; unrevoke lets it back', async () => {
      const r = embedgate(['revoke', '--subject', 'batch-indexer', '--reason', 'package test', '--archive-dir', archive()]);
      expect(r.code).toBe(0);
      await new Promise((d) => setTimeout(d, 1200));
      expect((await embed()).status).toBe(403);
      expect(embedgate(['unrevoke', '--subject', 'batch-indexer', '--archive-dir', archive()]).code).toBe(0);
      await new Promise((d) => setTimeout(d, 1200));
      expect((await embed()).status).toBe(200);
    });

    test('approvals list answers through the gateway', () => {
      const r = embedgate(['approvals', 'list', '--status', 'pending', '--url', dev.url], { EMBEDGATE_TOKEN: token });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    });

    test(
      'audit query without DuckDB names the install command; with it, audit query and usage answer',
      async () => {
        const q = ['audit', 'query', 'calls-by-principal-and-model', '--archive-dir', archive(), '--format', 'json'];
        const without = embedgate(q);
        expect(without.code).not.toBe(0);
        expect(without.stderr).toMatch(/npm i @duckdb\/node-api/);
        expect(without.stderr.trim().split('\n')).toHaveLength(1);
        await npm(
          ['install', '--prefer-offline', '--no-package-lock', `@duckdb/node-api@${PKG.devDependencies['@duckdb/node-api']}`],
          project,
        );
        const withDuckDb = embedgate(q);
        expect(withDuckDb.stderr).toBe('');
        expect(withDuckDb.code).toBe(0);
        expect(withDuckDb.stdout).toMatch(/batch-indexer/);
        // embedgate usage reads the same archive through DuckDB.
        const usage = embedgate(['usage', '--by', 'principal', '--archive-dir', archive(), '--format', 'json']);
        expect(usage.stderr).toBe('');
        expect(usage.code).toBe(0);
        expect(usage.stdout).toMatch(/batch-indexer/);
      },
      INSTALL_TIMEOUT,
    );
  });
});

describe('the constructs, installed', () => {
  const node = (file: string) =>
    spawnSync(process.execPath, ['--enable-source-maps', file], { cwd: project, env: ENV, encoding: 'utf8', timeout: 120_000 });

  test("the README's app synthesizes from the installed package", async () => {
    const app = join(project, 'app.js');
    await writeFile(
      app,
      `const { App, Stack } = require('aws-cdk-lib');
const { EmbeddingGateway, PolicyEffect, UpstreamModel } = require('embedgate');
const app = new App({ outdir: 'cdk.out' });
new EmbeddingGateway(new Stack(app, 'Embeddings'), 'Gateway', {
  issuers: [{ id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] }],
  models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' })],
  rules: [{ id: 'indexers', effect: PolicyEffect.ALLOW, groups: ['search-team'] }],
});
const t = app.synth().getStackByName('Embeddings').template;
const types = Object.values(t.Resources).map((r) => r.Type);
console.log(JSON.stringify({ api: types.filter((x) => x === 'AWS::ApiGatewayV2::Api').length, functions: types.filter((x) => x === 'AWS::Lambda::Function').length }));
`,
    );
    const r = node(app);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const counts = JSON.parse(r.stdout.trim().split('\n').pop()!) as { api: number; functions: number };
    expect(counts.api).toBe(1);
    expect(counts.functions).toBeGreaterThanOrEqual(2);
  }, 180_000);

  test('invalid props: the error is printed once (no cause repeating it), without a stack into files that do not ship', async () => {
    const app = join(project, 'bad-app.js');
    await writeFile(
      app,
      `const { App, Stack } = require('aws-cdk-lib');
const { EmbeddingGateway, PolicyEffect, UpstreamModel } = require('embedgate');
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
new EmbeddingGateway(new Stack(app, 'S'), 'G', {
  issuers: [{ id: 'okta', issuerUrl: 'https://acme.okta.com', audiences: ['api://x'] }],
  models: [UpstreamModel.bedrock('amazon.titan-embed-text-v2:0')],
  masking: { customDetectors: [{ name: 'TICKET', pattern: '(' }] },
  rules: [{ id: 'r', effect: PolicyEffect.ALLOW, subjects: ['a'] }],
});
`,
    );
    const r = node(app);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /EmbeddingGateway: the gateway configuration built from the props is invalid:\n {2}- masking\.customDetectors\[0\]\.pattern: /,
    );
    expect(r.stderr.match(/Unterminated group/g)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\[cause\]/);
    expect(r.stderr).not.toMatch(/[\\/](lib|shared|lambda)[\\/][\w/-]+\.ts\b/);
  }, 120_000);
});
