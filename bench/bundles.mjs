// Bundle sizes and cold load: for each Lambda bundle (scripts/bundle.mjs), what its entry loads at
// start (index.mjs and the chunks it imports statically) and the whole directory the function
// ships (lazily loaded chunks included), raw and gzip; and the time to start node and import the
// bundle from a task root holding the whole directory, against a bare `node -e 0`, over N runs
// (median, min, max). The proxy is timed twice: with a configuration using neither Bedrock nor
// Comprehend (its chunks are then never read), and with both (their chunks are loaded during init;
// the process only exits once they are, so that time counts).
// Usage: npm run build && node bench/bundles.mjs [--runs 15]
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bundleLayout, bundles } from '../scripts/bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 15;
const config = {
  issuers: [{ id: 'corp', issuer: 'https://idp.example.com', audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
  models: [{ name: 'local', provider: 'local' }],
  policy: { rules: [] },
};
const withAws = {
  ...config,
  models: [...config.models, { name: 'titan', provider: 'bedrock', upstreamModel: 'amazon.titan-embed-text-v2:0' }],
  masking: { enabled: true, strategies: { EMAIL: 'redact' }, comprehend: { enabled: true } },
};
const env = {
  ...process.env,
  EMBEDGATE_ARCHIVE_BUCKET: 'bench-bucket',
  EMBEDGATE_ARCHIVE_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:key/bench',
  EMBEDGATE_REVOCATION_TABLE: 'bench-table',
  AWS_REGION: 'eu-west-1',
  POWERTOOLS_METRICS_DISABLED: 'true',
  EMBEDGATE_DIGEST_SIGNING_KEY: 'arn:aws:kms:eu-west-1:123456789012:key/bench-signing',
  EMBEDGATE_DIGEST_SETTLE_SECONDS: '900',
  EMBEDGATE_DIGEST_LOOKBACK_SECONDS: '21600',
  EMBEDGATE_DIGEST_MAX_PERIOD_SECONDS: '86400',
};

function time(args, cwd, e) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    execFileSync(process.execPath, args, { cwd, env: e, stdio: 'ignore' });
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0], max: samples.at(-1) };
}

const bare = time(['-e', '0'], root, env);
const cases = [...bundles.map((b) => ({ label: b.name, name: b.name, config })), { label: 'proxy, Bedrock + Comprehend', name: 'proxy', config: withAws }];
const rows = [];
for (const c of cases) {
  const dir = join(root, 'assets', c.name);
  const g = await bundleLayout(dir);
  const gz = (files) => gzipSync(Buffer.concat(files.map((f) => readFileSync(join(dir, f))))).length;
  const task = mkdtempSync(join(tmpdir(), `embedgate-bench-${c.name}-`));
  cpSync(dir, task, { recursive: true, filter: (src) => !src.endsWith('meta.json') });
  writeFileSync(join(task, 'config.json'), JSON.stringify(c.config));
  const load = time(['--input-type=module', '-e', "await import('./index.mjs')"], task, { ...env, LAMBDA_TASK_ROOT: task });
  rmSync(task, { recursive: true, force: true });
  rows.push({ ...c, g, startGz: gz(g.start), totalGz: gz(g.files), load });
}

const f = (ms) => ms.toFixed(1);
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`node ${process.version}, ${cpus()[0].model} x${cpus().length}, ${runs} runs each, ${new Date().toISOString()}`);
console.log('| bundle | loaded at start (files) | gzip | whole directory (files) | gzip | loaded on demand |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows.filter((r) => r.config === config)) {
  const lazy = r.g.lazy.map((c) => `${c.replace(/^chunks\//, '').replace(/-[A-Z0-9]{8}\.mjs$/, '')} ${kib(r.g.bytesOf(c))}`).join(', ') || '-';
  console.log(`| ${r.label} | ${kib(r.g.startBytes)} (${r.g.start.length}) | ${kib(r.startGz)} | ${kib(r.g.totalBytes)} (${r.g.files.length}) | ${kib(r.totalGz)} | ${lazy} |`);
}
console.log('');
console.log(`bare node -e 0: median ${f(bare.median)} ms (min ${f(bare.min)}, max ${f(bare.max)})`);
console.log('| cold load | median (min-max) | over bare node (median) |');
console.log('| --- | --- | --- |');
for (const r of rows) console.log(`| ${r.label} | ${f(r.load.median)} ms (${f(r.load.min)}-${f(r.load.max)}) | +${f(r.load.median - bare.median)} ms |`);
