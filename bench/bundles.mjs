// Bundle sizes and cold load. For each Lambda bundle (scripts/bundle.mjs): what its entry loads at
// start (index.mjs and the chunks it imports statically) and the whole directory the function
// ships (chunks loaded on demand included), raw and gzip; and the time to start node and import
// the entry from a task root holding the whole directory, against a bare node (same flags, nothing
// imported), as wall time and as CPU time (user + system of the node process, read when it exits:
// far less disturbed than wall time when other jobs share the machine), median, min and max.
// The proxy is timed twice: with a configuration using neither Bedrock nor Comprehend (their
// chunks are then never read), and with both (their chunks load during init; the process exits
// only once they have, so that time counts).
// Every case runs once per round, round-robin, for --runs rounds. --baseline <dir> adds the bundles
// of another build of the package (<dir>/assets/, e.g. the commit before a change, built with its
// own scripts/bundle.mjs) to the same rounds, as "before".
// The configuration document is written as the construct ships it: normalised and sealed
// (`shipConfig`, from dist/); a build before sealing reads it as an ordinary document.
// Usage: npm run build && node bench/bundles.mjs [--runs 15] [--baseline <dir>]
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bundleLayout, bundles } from '../scripts/bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { shipConfig } = createRequire(import.meta.url)(join(root, 'dist', 'shared', 'config.js'));
const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const runs = Number(arg('--runs')) || 15;
/** Another build of the package (its assets/), timed in the same rounds: e.g. the commit before a change. */
const baseline = arg('--baseline') && resolve(arg('--baseline'));
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

// The approval task's own variables (given to it only: in the proxy they would turn approvals on).
const approvalEnv = {
  EMBEDGATE_APPROVAL_TABLE: 'bench-approvals',
  EMBEDGATE_APPROVAL_STATE_MACHINE: 'arn:aws:states:eu-west-1:123456789012:stateMachine:bench',
};

// Printed by the timed process when it exits (after any loading started at init has finished).
const CPU_AT_EXIT =
  "process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write(`\\ncpu-us ${u.user + u.system}\\n`); });";

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s.at(-1) };
}

/** One cold start: wall time, and CPU time as the process reported it at exit, in ms. */
function once(script, cwd, e) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `${CPU_AT_EXIT} ${script}`], {
    cwd,
    env: e,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${script} in ${cwd} failed (${r.status}): ${r.stderr}`);
  return { wall, cpu: Number(/cpu-us (\d+)\s*$/.exec(r.stderr)[1]) / 1000 };
}

// Cases: bare node, then every bundle (of the baseline build first, when one is given).
const cases = [{ label: 'bare node', script: '', cwd: root }];
const rows = [];
for (const [side, base] of baseline
  ? [
      ['before', baseline],
      ['after', root],
    ]
  : [['', root]]) {
  const tag = side ? `${side}: ` : '';
  for (const c of [
    ...bundles.map((b) => ({ label: b.name, name: b.name, config })),
    { label: 'proxy, Bedrock + Comprehend', name: 'proxy', config: withAws },
  ]) {
    const dir = join(base, 'assets', c.name);
    const g = await bundleLayout(dir);
    const gz = (files) => gzipSync(Buffer.concat(files.map((f) => readFileSync(join(dir, f))))).length;
    const task = mkdtempSync(join(tmpdir(), `embedgate-bench-${c.name}-`));
    cpSync(dir, task, { recursive: true, filter: (src) => !src.endsWith('meta.json') });
    writeFileSync(join(task, 'config.json'), JSON.stringify(shipConfig(c.config)));
    const k =
      cases.push({
        label: `${tag}${c.label}`,
        script: "await import('./index.mjs');",
        cwd: task,
        env: { ...env, ...(c.name === 'approval-task' ? approvalEnv : {}), LAMBDA_TASK_ROOT: task },
      }) - 1;
    rows.push({ ...c, label: `${tag}${c.label}`, k, g, startGz: gz(g.start), totalGz: gz(g.files) });
  }
}
// Round-robin: every case once per round, so a busy spell on the machine hits all of them alike.
const samples = cases.map(() => ({ wall: [], cpu: [] }));
for (let i = 0; i < runs; i++) {
  for (const [k, c] of cases.entries()) {
    const t = once(c.script, c.cwd, c.env ?? env);
    samples[k].wall.push(t.wall);
    samples[k].cpu.push(t.cpu);
  }
}
for (const c of cases.slice(1)) rmSync(c.cwd, { recursive: true, force: true });
const load = samples.map((s) => ({ wall: stats(s.wall), cpu: stats(s.cpu) }));
const bare = load[0];

const f = (ms) => ms.toFixed(1);
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(
  `node ${process.version}, ${cpus()[0].model} x${cpus().length}, ${runs} rounds, ${new Date().toISOString()}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('| bundle | loaded at start (files) | gzip | whole directory (files) | gzip | loaded on demand |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows.filter((r) => r.config === config)) {
  const lazy =
    r.g.lazy.map((c) => `${c.replace(/^chunks\//, '').replace(/-[A-Z0-9]{8}\.mjs$/, '')} ${kib(r.g.bytesOf(c))}`).join(', ') || '-';
  console.log(
    `| ${r.label} | ${kib(r.g.startBytes)} (${r.g.start.length}) | ${kib(r.startGz)} | ${kib(r.g.totalBytes)} (${r.g.files.length}) | ${kib(r.totalGz)} | ${lazy} |`,
  );
}
console.log('');
const ms = (t) => `${f(t.median)} ms (${f(t.min)}-${f(t.max)})`;
console.log(`bare node: wall ${ms(bare.wall)}, CPU ${ms(bare.cpu)}`);
console.log('| cold load | wall median (min-max) | over bare node | CPU median (min-max) | over bare node |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(
    `| ${r.label} | ${ms(load[r.k].wall)} | +${f(load[r.k].wall.median - bare.wall.median)} ms | ${ms(load[r.k].cpu)} | +${f(load[r.k].cpu.median - bare.cpu.median)} ms |`,
  );
