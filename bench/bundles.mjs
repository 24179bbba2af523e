// Bundle sizes and cold load: for each Lambda bundle, its size (raw and gzip) and the time to
// start node and import it, against a bare `node -e 0`, over N runs (median, min, max).
// Usage: npm run build && node bench/bundles.mjs [--runs 15]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 15;
const config = {
  issuers: [{ id: 'corp', issuer: 'https://idp.example.com', audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
  models: [{ name: 'local', provider: 'local' }],
  policy: { rules: [] },
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
const rows = [];
for (const name of ['proxy', 'edge-recorder', 'digest']) {
  const bundle = join(root, 'assets', name, 'index.mjs');
  const dir = mkdtempSync(join(tmpdir(), `embedgate-bench-${name}-`));
  copyFileSync(bundle, join(dir, 'index.mjs'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const raw = statSync(bundle).size;
  const gz = gzipSync(readFileSync(bundle)).length;
  const load = time(['--input-type=module', '-e', "await import('./index.mjs')"], dir, { ...env, LAMBDA_TASK_ROOT: dir });
  rows.push({ name, raw, gz, load });
}

const f = (ms) => ms.toFixed(1);
console.log(`node ${process.version}, ${cpus()[0].model} x${cpus().length}, ${runs} runs each, ${new Date().toISOString()}`);
console.log(`bare node -e 0: median ${f(bare.median)} ms (min ${f(bare.min)}, max ${f(bare.max)})`);
console.log('| bundle | size (minified) | gzip | cold load median (min-max) | over bare node (median) |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.name} | ${(r.raw / 1024).toFixed(1)} KiB | ${(r.gz / 1024).toFixed(1)} KiB | ${f(r.load.median)} ms (${f(r.load.min)}-${f(r.load.max)}) | +${f(r.load.median - bare.median)} ms |`);
}
