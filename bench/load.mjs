// Load with nothing lost: N requests at concurrency C through `embedgate dev` (a child process),
// with seeded random upstream faults from the fake upstream running in another process, and a mix
// of allowed, forbidden, invalid and unauthenticated requests. Checks that every request got
// exactly one record, that the records' counts by status equal the clients' counts, that no
// session id repeats, and that the dev process's memory (RSS, sampled) stays flat. Exits 1 when an
// invariant fails.
//
// Usage: npm run build && node bench/load.mjs [--requests 10000] [--concurrency 50] [--seed 1]
//        [--fault-rate 0.2] [--markdown]
// The small version of the same invariants runs in `npm test` (test/security/load.test.ts).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setInterval, clearInterval } from 'node:timers';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'dist', 'package.json'));
const { auditArchive, LOAD_AUDIENCE, loadScenarioConfig, requestMix, runLoad, sampleRss } = require('./test/support/load-driver.js');
const { generateTestKey, signToken, startJwksServer } = require('./test/support/jwks.js');
const { startGateway } = require('./test/support/security-harness.js');
const { readJournal } = require('./lambda/adapters/local/journal.js');
const { readLocalArchive } = require('./cli/archive-reader.js');

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    'fault-rate': { type: 'string', default: '0.2' },
    markdown: { type: 'boolean', default: false },
  },
});
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const SEED = Number(values.seed);
const UPSTREAM_KEY = 'sk-bench-load-upstream-key-0000';

/** Start the fake upstream in its own process; resolves with its URL and a stop function. */
function startUpstreamProcess() {
  const child = spawn(
    process.execPath,
    [join(root, 'dist', 'test', 'support', 'run-fake-upstream.js'), '--seed', String(SEED), '--fault-rate', values['fault-rate']],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"url"'));
      if (line && !child.started) {
        child.started = true;
        resolve({
          url: JSON.parse(line).fakeUpstream.url,
          stop: () =>
            new Promise((done) => {
              child.once('exit', () => done(Number(/"requests":(\d+)/.exec(out)?.[1] ?? NaN)));
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`fake upstream exited with ${code}: ${out}`)));
  });
}

const mib = (b) => (b / 1024 / 1024).toFixed(1);
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const upstream = await startUpstreamProcess();
const key = await generateTestKey('RS256', { kid: 'bench-load-1' });
const idp = await startJwksServer({ keys: [key] });
const gw = await startGateway({
  config: loadScenarioConfig({ issuer: idp.issuer, jwksUri: idp.jwksUri, upstreamUrl: upstream.url, keyEnv: 'BENCH_UPSTREAM_KEY' }),
  env: { BENCH_UPSTREAM_KEY: UPSTREAM_KEY },
});
const now = Math.floor(Date.now() / 1000);
const token = (sub, groups, exp = now + 3600) =>
  signToken(key, { iss: idp.issuer, aud: LOAD_AUDIENCE, sub, client_id: sub, groups, iat: now - 10, exp });
const tokens = {
  indexer: await token('svc-indexer', ['indexers']),
  bot: await token('svc-bot', ['bots']),
  expired: await token('svc-old', ['indexers'], now - 60),
};

// RSS of the dev process: every 250 ms, and at each tenth of the run.
const samples = [];
const marks = [];
const sampler = setInterval(() => {
  const rss = sampleRss(gw.pid);
  if (rss !== null) samples.push(rss);
}, 250);
// Never leave the child processes behind, whatever fails below.
let stopped = false;
const cleanup = () => {
  if (stopped) return;
  try {
    process.kill(gw.pid, 'SIGKILL');
  } catch {
    // already gone
  }
};
process.on('exit', cleanup); // also when a top-level await rejects
let result;
try {
  result = await runLoad({
    url: gw.url,
    requests: REQUESTS,
    concurrency: CONCURRENCY,
    next: requestMix(SEED, tokens),
    onProgress: (done) => {
      if (done % Math.max(1, Math.floor(REQUESTS / 10)) === 0) marks.push({ done, rss: sampleRss(gw.pid) });
    },
  });
} finally {
  clearInterval(sampler);
}
const audit = await auditArchive(gw.archiveDir, result);
// The archive is the write-ahead journal (the dev default): each request that reached its upstream
// call journaled an intent first; each intent must have its request's final record, none no_outcome.
const { intents } = await readJournal(gw.archiveDir); // each session once (a carried intent is in two segments)
const finals = new Map((await readLocalArchive(gw.archiveDir)).map((r) => [r.session_id, r]));
const intentsWithoutRecord = intents.filter((i) => !finals.has(i.session_id)).length;
const noOutcome = [...finals.values()].filter((r) => r.decision.reason === 'no_outcome').length;
const intentsByStatus = {};
for (const i of intents) {
  const st = finals.get(i.session_id)?.decision.status ?? 'none';
  intentsByStatus[st] = (intentsByStatus[st] ?? 0) + 1;
}
const output = gw.output();
const upstreamRequests = await upstream.stop();
await gw.stop();
stopped = true;
await idp.stop();

// Memory is flat when the RSS stays within 16 MiB over the last 40 % of the run. Before that the
// V8 heap grows in steps to its working size (JIT, caches, keep-alive sockets): a 30,000-request
// run plateaus there and stays (see BENCHMARKS.md). A leak of 4 KiB per request would break it.
const rssAt = (i) => marks[i]?.rss ?? null;
const tail = marks
  .slice(6)
  .map((m) => m.rss)
  .filter((r) => r !== null);
const warm = rssAt(5) ?? samples[Math.floor(samples.length * 0.6)];
const end = rssAt(marks.length - 1) ?? samples.at(-1);
const peak = Math.max(...samples, ...marks.map((m) => m.rss ?? 0));
const spread = tail.length ? Math.max(...tail, warm) - Math.min(...tail, warm) : NaN;
const flat = spread <= 16 * 1024 * 1024;

const checks = [
  ['every request answered', result.transportErrors.length === 0, `${result.transportErrors.length} transport errors`],
  ['every answer carries a session id', result.withoutSessionId === 0, `${result.withoutSessionId} without`],
  ['no duplicate session ids', result.duplicateSessionIds.length === 0, `${result.duplicateSessionIds.length} duplicates`],
  [
    'exactly one record per request',
    audit.records === REQUESTS &&
      audit.missingRecords.length === 0 &&
      audit.duplicateRecords.length === 0 &&
      audit.unknownRecords.length === 0,
    `${audit.records} records, ${audit.missingRecords.length} missing, ${audit.duplicateRecords.length} duplicated, ${audit.unknownRecords.length} unknown`,
  ],
  [
    'records by status = clients by status',
    JSON.stringify(audit.byStatus) === JSON.stringify(result.byStatus) && audit.statusMismatches.length === 0,
    `${audit.statusMismatches.length} mismatches`,
  ],
  [
    'through the journal: every intent has its final record',
    intents.length > 0 && intentsWithoutRecord === 0 && noOutcome === 0,
    `${intents.length} intents journaled (by their request's status: ${JSON.stringify(intentsByStatus)}), ${intentsWithoutRecord} without a final record, ${noOutcome} no_outcome records`,
  ],
  [
    'no internal errors',
    audit.internalErrors === 0 && !/request failed|response failed|archive write failed/.test(output),
    `${audit.internalErrors} internal_error records`,
  ],
  [
    'memory flat',
    flat,
    `RSS over the last 40 % of the run within ${mib(spread)} MiB (${mib(warm)} MiB at 60 %, ${mib(end)} MiB at the end, peak ${mib(peak)} MiB)`,
  ],
];

const lat = result.latenciesMs;
const statusLine = Object.entries(result.byStatus)
  .map(([s, n]) => `${s}: ${n}`)
  .join(', ');
const lines = [
  `node ${process.version}, ${cpus()[0]?.model} x${cpus().length}, ${mib(totalmem())} MiB, ${new Date().toISOString()}`,
  `${REQUESTS} requests at concurrency ${CONCURRENCY}, seed ${SEED}, upstream fault rate ${values['fault-rate']}: ${(result.durationMs / 1000).toFixed(1)} s, ${(REQUESTS / (result.durationMs / 1000)).toFixed(0)} req/s`,
  `client latency ms: p50 ${pct(lat, 50).toFixed(1)}, p90 ${pct(lat, 90).toFixed(1)}, p99 ${pct(lat, 99).toFixed(1)}, max ${lat.at(-1).toFixed(1)}`,
  `responses by status (clients): ${statusLine}`,
  `records by status (archive):   ${Object.entries(audit.byStatus)
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ')}`,
  `upstream requests (retries included): ${upstreamRequests}`,
  `RSS of the dev process by tenth of the run (MiB): ${marks.map((m) => (m.rss === null ? '?' : mib(m.rss))).join(', ')}`,
  ...checks.map(([name, ok, detail]) => `${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`),
];
if (values.markdown) {
  console.log('```');
  console.log(lines.join('\n'));
  console.log('```');
} else {
  console.log(lines.join('\n'));
}
process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
