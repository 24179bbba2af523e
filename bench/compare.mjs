// Side by side, in one run, on the same local upstream (issue 7): what a request costs through
//   1. nothing (direct calls to the upstream stand-in),
//   2. a minimal Node reverse proxy (the floor for any HTTP hop, bench/compare/min-proxy.mjs),
//   3. Portkey's gateway (@portkey-ai/gateway, azure-openai provider with a custom host),
//   4. `embedgate dev` with JWT verification, policy, masking and the archive on: its write-ahead
//      journal (group commit, each request's intent during the upstream call, compaction into batch
//      objects), the default; `--archive files` measures the older layout (one fsync'd file per record),
// at each upstream latency and client concurrency, measured with autocannon from this process
// (every server under test, and the upstream, runs in a process of its own).
//
// Before loading, every target must return a valid embeddings response whose vector equals the
// direct one (embedgate must also leave a record whose input was scanned and refuse a request
// without a token); a target that fails that check is reported as failed and not measured, and a
// cell with transport errors or non-2xx answers is marked FAIL. Each cell is measured --runs times
// with the targets interleaved (the same moment of a shared machine for all of them); figures are
// the median of the runs and their spread (min-max). Added latency is per run against the direct
// figure of the same round; throughput is per run against the minimal proxy of the same round.
// Exits 1 when a target fails its checks or a cell has errors; missed goals only print MISS.
//
// Usage: npm run build && node bench/compare.mjs [--duration 5] [--runs 3] [--latency 0,50]
//        [--concurrency 1,8,32] [--warmup 1] [--targets direct,proxy,portkey,embedgate]
//        [--encoding base64|float] [--dimensions 1536] [--input-chars 2048] [--markdown]
//        [--cpu-prof <dir>] (profile the embedgate dev process with node --cpu-prof)
//        [--archive journal|files] (embedgate's archive: the journal, the default, or one file per record)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'dist', 'package.json'));
const { generateTestKey, signToken, startJwksServer } = require('./test/support/jwks.js');
const { readLocalArchive } = require('./cli/archive-reader.js');

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    latency: { type: 'string', default: '0,50' },
    concurrency: { type: 'string', default: '1,8,32' },
    archive: { type: 'string', default: 'journal' },
    warmup: { type: 'string', default: '1' },
    targets: { type: 'string', default: 'direct,proxy,portkey,embedgate' },
    encoding: { type: 'string', default: 'base64' },
    dimensions: { type: 'string', default: '1536' },
    'input-chars': { type: 'string', default: '2048' },
    markdown: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
});
const list = (s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
const DURATION = Number(values.duration);
const RUNS = Number(values.runs);
const LATENCIES = list(values.latency).map(Number);
const CONCURRENCIES = list(values.concurrency).map(Number);
const WARMUP = Number(values.warmup);
const TARGETS = list(values.targets);
const ENCODING = values.encoding;
const ARCHIVE = values.archive;
if (!['journal', 'files'].includes(ARCHIVE)) throw new Error(`--archive must be journal or files, got ${ARCHIVE}`);
const DIMENSIONS = Number(values.dimensions);
const INPUT_CHARS = Number(values['input-chars']);
const ALL_TARGETS = ['direct', 'proxy', 'portkey', 'embedgate', 'embedgate-files'];
for (const t of TARGETS) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t} (known: ${ALL_TARGETS.join(', ')})`);
if (!TARGETS.includes('direct')) throw new Error('--targets must include direct (added latency is measured against it)');
if (!['base64', 'float'].includes(ENCODING)) throw new Error('--encoding must be base64 or float');
for (const n of [DURATION, RUNS, WARMUP, DIMENSIONS, INPUT_CHARS, ...LATENCIES, ...CONCURRENCIES]) {
  if (!Number.isFinite(n) || n < 0) throw new Error('numeric options must be non-negative numbers');
}

const MODEL = 'text-embedding-3-small';
const UPSTREAM_KEY = 'sk-bench-compare-upstream-key-0000';
const AUDIENCE = 'https://embedgate.bench.test';
const AZURE_API_VERSION = '2024-10-21';
const LABEL = {
  direct: 'direct',
  proxy: 'minimal proxy',
  portkey: 'Portkey 1.15.2',
  embedgate: 'embedgate dev',
  'embedgate-files': 'embedgate, file/record',
};
/** The archive of an embedgate target: `embedgate-files` is the older layout, measured side by side on request. */
const archiveOf = (name) => (name === 'embedgate-files' ? 'files' : ARCHIVE);
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

/**
 * About `chars` characters of plain English prose with nothing a PII detector should find (no
 * digits, addresses, names of people or keys): the kind of passage a RAG indexer embeds.
 */
function cleanText(chars) {
  const sentences = [
    'The indexing service splits long documents into passages of a few hundred words before it asks for their embeddings.',
    'Each passage keeps a pointer to its source page, so a search result can always be traced back to the original text.',
    'Retrieval quality depends more on how the passages are cut than on the choice of the embedding model itself.',
    'Overlapping windows help when an answer spans the boundary between two paragraphs of a technical manual.',
    'The team reviews the configuration of the pipeline every quarter and keeps a short changelog of what was tuned.',
    'Caching the vectors of unchanged passages saves most of the cost of a nightly refresh of the whole collection.',
    'When a document is withdrawn, its passages are removed from the index within the hour and the event is logged.',
    'Queries from the support assistant are embedded with the same model, so that both sides share one vector space.',
    'A small evaluation set of questions with known answers tells the team whether a change made retrieval better or worse.',
    'Latency matters less for the batch indexer than for the interactive assistant, which waits for every query vector.',
  ];
  let out = '';
  for (let i = 0; out.length < chars; i++) out += `${out ? ' ' : ''}${sentences[i % sentences.length]}`;
  return out.slice(0, chars).replace(/\s+\S*$/, '.');
}

const TEXT = cleanText(INPUT_CHARS);
const BODY = JSON.stringify({ model: MODEL, input: TEXT, encoding_format: ENCODING });

// ---------------------------------------------------------------------------------------------
// Child processes

const children = new Set();
const killAll = () => {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
};
process.on('exit', killAll); // also when a top-level await rejects
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

/**
 * Spawn `node <args>`; resolves once `ready(output)` returns a value, with that value, the pid, the
 * output so far (bounded) and `stop()` (SIGTERM, SIGKILL after 5 s).
 */
async function startChild(name, args, { ready, env = {}, timeoutMs = 30_000 }) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  const onData = (d) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child);
    return code ?? signal;
  });
  const started = Date.now();
  let value;
  while ((value = ready(out)) === undefined) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${out.slice(-4000)}`);
    if (Date.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`${name}: not ready within ${timeoutMs} ms:\n${out.slice(-4000)}`);
    }
    await sleep(20);
  }
  return {
    value,
    pid: child.pid,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

const jsonLine = (key) => (out) => {
  for (const line of out.split('\n')) {
    if (!line.startsWith(`{"${key}"`)) continue;
    try {
      const v = JSON.parse(line)[key];
      if (v.url) return v;
    } catch {
      // partial line
    }
  }
  return undefined;
};

async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

const startUpstream = (latencyMs) =>
  startChild(
    'upstream',
    [join(root, 'bench', 'compare', 'upstream.mjs'), '--latency', String(latencyMs), '--dimensions', String(DIMENSIONS)],
    { ready: jsonLine('benchUpstream') },
  );

const startProxy = (targetOrigin) =>
  startChild('minimal proxy', [join(root, 'bench', 'compare', 'min-proxy.mjs'), '--target', targetOrigin], { ready: jsonLine('minProxy') });

async function startPortkey() {
  const port = await freePort();
  const child = await startChild(
    'portkey',
    [join(root, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js'), `--port=${port}`, '--headless'],
    {
      ready: (out) => (out.includes('Ready for connections') ? `http://127.0.0.1:${port}` : undefined),
      timeoutMs: 60_000,
    },
  );
  return child;
}

async function startEmbedgate(upstreamUrl, idp, dir, archive) {
  const configFile = join(dir, `config-${archive}.json`);
  const archiveDir = join(dir, `archive-${archive}`);
  await writeFile(
    configFile,
    JSON.stringify({
      issuers: [{ id: 'bench', issuer: idp.issuer, jwksUri: idp.jwksUri, audiences: [AUDIENCE] }],
      models: [{ name: MODEL, provider: 'openai-compatible', baseUrl: upstreamUrl, apiKey: { source: 'env', name: 'BENCH_UPSTREAM_KEY' } }],
      policy: { rules: [{ id: 'indexers', effect: 'allow', match: { issuer: 'bench', groups: 'indexers' }, models: [MODEL] }] },
      masking: { enabled: true },
    }),
  );
  const prof = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof'])] : [];
  const child = await startChild(
    'embedgate dev',
    [
      ...prof,
      join(root, 'cli', 'embedgate.js'),
      'dev',
      '--port',
      '0',
      '--config',
      configFile,
      '--archive-dir',
      archiveDir,
      ...(archive === 'files' ? ['--no-journal'] : []),
    ],
    {
      ready: (out) => /gateway listening on (http:\/\/\S+)/.exec(out)?.[1],
      env: { BENCH_UPSTREAM_KEY: UPSTREAM_KEY },
    },
  );
  return { ...child, archiveDir };
}

// ---------------------------------------------------------------------------------------------
// Correctness

/** One request over a fresh connection; resolves with status, headers and body text. */
function post(url, headers, body) {
  return new Promise((resolvePost, reject) => {
    const u = new URL(url);
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: 'POST',
        agent: false,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolvePost({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The vector bytes (float32 LE) of a valid one-item embeddings response, or a problem. */
function checkEmbeddings(res) {
  if (res.status !== 200) return { problem: `status ${res.status}: ${res.body.slice(0, 300)}` };
  let doc;
  try {
    doc = JSON.parse(res.body);
  } catch {
    return { problem: `not JSON: ${res.body.slice(0, 200)}` };
  }
  if (doc?.object !== 'list' || !Array.isArray(doc.data) || doc.data.length !== 1)
    return { problem: `not a one-item embeddings list: ${res.body.slice(0, 200)}` };
  const [item] = doc.data;
  if (item.object !== 'embedding' || item.index !== 0) return { problem: 'data[0] is not embedding #0' };
  if (typeof doc.usage?.prompt_tokens !== 'number' || typeof doc.usage?.total_tokens !== 'number') return { problem: 'no usage' };
  let bytes;
  if (ENCODING === 'base64') {
    if (typeof item.embedding !== 'string') return { problem: 'embedding is not base64 although base64 was asked for' };
    bytes = Buffer.from(item.embedding, 'base64');
  } else {
    if (!Array.isArray(item.embedding) || !item.embedding.every((x) => typeof x === 'number' && Number.isFinite(x)))
      return { problem: 'embedding is not an array of numbers' };
    bytes = Buffer.from(new Float32Array(item.embedding).buffer);
  }
  if (bytes.length !== DIMENSIONS * 4) return { problem: `embedding has ${bytes.length / 4} dimensions, expected ${DIMENSIONS}` };
  return { bytes, model: doc.model };
}

/** The session's record in the local archive, whatever its layout (journal segment, batch object, one file). */
async function findRecord(archiveDir, sessionId) {
  for (let i = 0; i < 50; i++) {
    const found = (await readLocalArchive(archiveDir).catch(() => [])).find((r) => r.session_id === sessionId);
    if (found) return found;
    await sleep(20);
  }
  return null;
}

/** Check a target before loading it: problems (empty when it passed) and notes. */
async function verifyTarget(name, target, directBytes, extra) {
  const problems = [];
  const notes = [];
  let res;
  try {
    res = await post(target.url, target.headers, BODY);
  } catch (e) {
    return { problems: [`request failed: ${e.message}`], notes };
  }
  const checked = checkEmbeddings(res);
  if (checked.problem) return { problems: [checked.problem], notes };
  if (directBytes && !checked.bytes.equals(directBytes)) problems.push('its vector differs from the direct answer');
  if (name.startsWith('embedgate')) {
    const sid = res.headers['x-embedgate-session-id'];
    if (!sid) problems.push('no x-embedgate-session-id');
    if (!/gateway;dur=/.test(res.headers['server-timing'] ?? '')) problems.push('no Server-Timing');
    const record = sid ? await findRecord(extra.archiveDir, sid) : null;
    if (!record) problems.push('no archive record for the session');
    else {
      if (record.decision?.outcome !== 'allow' || record.decision?.rule_id !== 'indexers')
        problems.push(`record decision ${JSON.stringify(record.decision)}`);
      if (record.masking?.scanned !== true) problems.push('the input was not scanned (masking off?)');
      else
        notes.push(
          `record ${sid}: policy rule ${record.decision.rule_id}, input scanned, ${record.masking.counts.length} finding types, server-timing "${res.headers['server-timing']}"`,
        );
      // The archive really is the one measured: the journal's segments hold the record and its intent.
      const segments = await readdir(join(extra.archiveDir, 'journal')).catch(() => []);
      if (archiveOf(name) === 'journal') {
        const text = (await Promise.all(segments.map((f) => readFile(join(extra.archiveDir, 'journal', f), 'utf8')))).join('');
        if (!text.includes(`{"intent":{"schema"`) || !text.includes(sid))
          problems.push('the record did not go through the journal with its intent');
        else notes.push(`embedgate archive: the write-ahead journal (${segments.length} segment(s)), intent and record journaled`);
      } else if (segments.some((f) => f.endsWith('.jsonl'))) problems.push('--archive files, but the journal is on');
      else notes.push("embedgate archive: one fsync'd file per record (--no-journal)");
    }
    const anon = await post(target.url, { 'content-type': 'application/json' }, BODY);
    if (anon.status !== 401) problems.push(`a request without a token got ${anon.status}, not 401`);
    const badToken = await post(target.url, { 'content-type': 'application/json', authorization: `Bearer ${extra.badToken}` }, BODY);
    if (badToken.status !== 401) problems.push(`a token signed by an unknown key got ${badToken.status}, not 401`);
  }
  return { problems, notes, bytes: checked.bytes };
}

// ---------------------------------------------------------------------------------------------
// Load

/** CPU time (user + system) of a process so far, ms; null where /proc is missing. */
function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks of 10 ms (CLK_TCK 100)
  } catch {
    return null;
  }
}

/** One autocannon run; latencies (ms, float) of 2xx answers, counts, req/s, server CPU per request. */
async function load(target, connections, seconds) {
  const latencies = [];
  const cpu0 = cpuMs(target.pid);
  const byStatus = {};
  const instance = autocannon({
    url: target.url,
    method: 'POST',
    headers: target.headers,
    body: BODY,
    connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
  });
  instance.on('response', (_client, status, _bytes, ms) => {
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const result = await instance;
  const cpu1 = cpuMs(target.pid);
  latencies.sort((a, b) => a - b);
  const ok = latencies.length;
  return {
    cpuPerRequest: cpu0 === null || cpu1 === null || ok === 0 ? NaN : (cpu1 - cpu0) / ok,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    rps: ok / result.duration,
    ok,
    errors: result.errors, // connection errors and timeouts
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    byStatus,
  };
}
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);

// ---------------------------------------------------------------------------------------------
// Run

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });

const startedAt = new Date();
const loadBefore = loadavg();
const key = await generateTestKey('RS256', { kid: 'bench-compare-1' });
const strangerKey = await generateTestKey('RS256', { kid: 'bench-compare-1' });
const idp = await startJwksServer({ keys: [key] });
const now = Math.floor(Date.now() / 1000);
const claims = {
  iss: idp.issuer,
  aud: AUDIENCE,
  sub: 'svc-indexer',
  client_id: 'svc-indexer',
  groups: ['indexers'],
  iat: now - 10,
  exp: now + 24 * 3600,
};
const token = await signToken(key, claims);
const badToken = await signToken(strangerKey, claims);

const portkey = TARGETS.includes('portkey') ? await startPortkey() : null;
const results = []; // { latency, concurrency, target, runs: [...] }
const failed = new Map(); // target -> reason (per latency)
const notes = [];
let exitCode = 0;

try {
  for (const latency of LATENCIES) {
    log(`\n== upstream latency ${latency} ms ==`);
    const upstream = await startUpstream(latency);
    const dir = await mkdtemp(join(tmpdir(), 'embedgate-bench-compare-'));
    const running = [upstream];
    try {
      const targets = {
        direct: {
          url: `${upstream.value.url}/embeddings`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${UPSTREAM_KEY}` },
          pid: upstream.pid,
        },
      };
      let gw;
      if (TARGETS.includes('proxy')) {
        const proxy = await startProxy(upstream.value.origin);
        running.push(proxy);
        targets.proxy = { url: `${proxy.value.url}/v1/embeddings`, headers: targets.direct.headers, pid: proxy.pid };
      }
      if (portkey) {
        targets.portkey = {
          url: `${portkey.value}/v1/embeddings`,
          headers: {
            'content-type': 'application/json',
            'x-portkey-provider': 'azure-openai',
            'x-portkey-custom-host': upstream.value.url,
            'x-portkey-azure-deployment-id': MODEL,
            'x-portkey-azure-api-version': AZURE_API_VERSION,
            authorization: `Bearer ${UPSTREAM_KEY}`, // sent upstream as `api-key`
          },
          pid: portkey.pid,
        };
      }
      const archiveDirs = {};
      for (const name of TARGETS.filter((t) => t.startsWith('embedgate'))) {
        gw = await startEmbedgate(upstream.value.url, idp, dir, archiveOf(name));
        running.push(gw);
        archiveDirs[name] = gw.archiveDir;
        targets[name] = {
          url: `${gw.value}/v1/embeddings`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          pid: gw.pid,
        };
      }

      // Correctness first: every target answers a valid embeddings response equal to the direct one.
      const direct = await verifyTarget('direct', targets.direct, null, {});
      if (direct.problems.length) throw new Error(`the upstream stand-in itself fails: ${direct.problems.join('; ')}`);
      const active = [];
      for (const name of TARGETS) {
        const v =
          name === 'direct' ? direct : await verifyTarget(name, targets[name], direct.bytes, { archiveDir: archiveDirs[name], badToken });
        if (v.problems.length) {
          failed.set(`${name}@${latency}`, v.problems.join('; '));
          log(`FAIL ${LABEL[name]}: ${v.problems.join('; ')} (not measured)`);
          exitCode = 1;
          continue;
        }
        for (const n of v.notes) notes.push(`${LABEL[name]} @ ${latency} ms: ${n}`);
        log(`ok   ${LABEL[name]}: valid embeddings response${name === 'direct' ? '' : ', same vector as direct'}`);
        active.push(name);
      }
      if (portkey && latency === LATENCIES[0]) {
        // Documented for the report: the openai provider mode fails on Node 20/24 (TOOLING.md).
        const r = await post(`${portkey.value}/v1/embeddings`, { ...targets.portkey.headers, 'x-portkey-provider': 'openai' }, BODY).catch(
          (e) => ({ status: e.message }),
        );
        notes.push(
          `Portkey with x-portkey-provider: openai answers ${r.status} on Node ${process.versions.node} (measured with azure-openai instead)`,
        );
      }

      // Warm up each target (JIT, keep-alive pools) before its first measurement at this latency.
      for (const name of active) {
        log(`warm-up ${LABEL[name]} ${Math.max(2, WARMUP)} s at concurrency ${Math.max(...CONCURRENCIES)}`);
        await load(targets[name], Math.max(...CONCURRENCIES), Math.max(2, WARMUP));
      }
      for (const concurrency of CONCURRENCIES) {
        const cells = Object.fromEntries(active.map((name) => [name, { latency, concurrency, target: name, runs: [] }]));
        if (WARMUP > 0) for (const name of active) await load(targets[name], concurrency, WARMUP);
        for (let run = 0; run < RUNS; run++) {
          // Interleave the targets, rotating the order, so each round sees the same machine.
          const order = active.map((_, i) => active[(i + run) % active.length]);
          for (const name of order) {
            const la = loadavg()[0];
            const r = await load(targets[name], concurrency, DURATION);
            cells[name].runs[run] = { ...r, loadavg: la };
            log(
              `latency ${latency} c=${concurrency} run ${run + 1}/${RUNS} ${LABEL[name].padEnd(22)} p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms ${r.rps.toFixed(0)} req/s cpu ${r.cpuPerRequest.toFixed(3)} ms/req errors ${r.errors} non-2xx ${r.non2xx} (load ${la.toFixed(2)})`,
            );
          }
        }
        results.push(...Object.values(cells));
      }
      for (const g of running.filter((c) => c.archiveDir)) {
        const out = g.output();
        if (/request failed|response failed|archive write failed/.test(out)) {
          notes.push(`embedgate dev reported failures: ${out.match(/.*(request failed|response failed|archive write failed).*/)?.[0]}`);
          exitCode = 1;
        }
      }
    } finally {
      for (const c of running.reverse()) await c.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
} finally {
  await portkey?.stop();
  await idp.stop();
}

// ---------------------------------------------------------------------------------------------
// Report

const find = (latency, concurrency, target) =>
  results.find((c) => c.latency === latency && c.concurrency === concurrency && c.target === target);
const cellFailed = (c) => c.runs.some((r) => r.errors > 0 || r.non2xx > 0 || r.ok === 0);
/** Per-run differences against another target of the same cell and round. */
const perRun = (cell, other, f) => (other ? cell.runs.map((r, i) => f(r, other.runs[i])) : []);

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const spread = (s, d = 2) => (Number.isFinite(s.median) ? `${fmt(s.median, d)} (${fmt(s.min, d)}-${fmt(s.max, d)})` : '-');
const signed = (s, d = 2) =>
  Number.isFinite(s.median) ? `${s.median >= 0 ? '+' : ''}${fmt(s.median, d)} (${fmt(s.min, d)}-${fmt(s.max, d)})` : '-';

function summarize(cell) {
  const direct = find(cell.latency, cell.concurrency, 'direct');
  const proxy = find(cell.latency, cell.concurrency, 'proxy');
  return {
    p50: stats(cell.runs.map((r) => r.p50)),
    p99: stats(cell.runs.map((r) => r.p99)),
    rps: stats(cell.runs.map((r) => r.rps)),
    cpu: stats(cell.runs.map((r) => r.cpuPerRequest)),
    errors: cell.runs.reduce((n, r) => n + r.errors, 0),
    non2xx: cell.runs.reduce((n, r) => n + r.non2xx, 0),
    addedP50: cell.target === 'direct' ? null : stats(perRun(cell, direct, (a, b) => a.p50 - b.p50)),
    addedP99: cell.target === 'direct' ? null : stats(perRun(cell, direct, (a, b) => a.p99 - b.p99)),
    vsProxy: cell.target === 'proxy' || !proxy ? null : stats(perRun(cell, proxy, (a, b) => a.rps / b.rps)),
    failed: cellFailed(cell),
  };
}

function table(header, rows) {
  if (values.markdown)
    return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
      '\n',
    );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) =>
    r
      .map((c, i) => String(c).padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const out = [];
out.push(
  `node ${process.version}, ${cpus()[0]?.model} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${startedAt.toISOString()}`,
);
out.push(
  `${RUNS} runs of ${DURATION} s per cell (after a ${WARMUP} s warm-up), targets interleaved; body: 1 input of ${TEXT.length} characters, ` +
    `encoding_format ${ENCODING}, ${DIMENSIONS} dimensions (${BODY.length} bytes); embedgate archive: ${ARCHIVE}; load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')} at start, ` +
    `${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} at end`,
);
const loads = results.flatMap((c) => c.runs.map((r) => r.loadavg));
if (loads.length)
  out.push(
    `load average (1 min) at the start of the runs: median ${fmt(median(loads))}, min ${fmt(Math.min(...loads))}, max ${fmt(Math.max(...loads))}`,
  );
out.push(
  'figures: median of the runs (min-max); added = target minus direct in the same round; vs proxy = target req/s over minimal proxy req/s in the same round; ' +
    'server CPU = user + system CPU time of the process under test (for direct: the upstream stand-in) per answered request, median of the runs ' +
    '(the kernel samples it at its tick: over-charged when the server idles between requests, e.g. with a 50 ms upstream at low concurrency)',
);

for (const latency of LATENCIES) {
  const rows = [];
  for (const concurrency of CONCURRENCIES) {
    for (const target of TARGETS) {
      const cell = find(latency, concurrency, target);
      if (!cell) {
        const why = failed.get(`${target}@${latency}`);
        rows.push([LABEL[target], concurrency, 'FAILED', why ? why.slice(0, 80) : 'not measured', '', '', '', '', '', '']);
        continue;
      }
      const s = summarize(cell);
      rows.push([
        LABEL[target],
        concurrency,
        spread(s.p50),
        spread(s.p99),
        spread(s.rps, 0),
        `${s.errors} / ${s.non2xx}${s.failed ? ' FAIL' : ''}`,
        s.addedP50 ? signed(s.addedP50) : '-',
        s.addedP99 ? signed(s.addedP99) : '-',
        s.vsProxy ? spread(s.vsProxy) : '-',
        fmt(s.cpu.median, 3),
      ]);
    }
  }
  out.push('');
  out.push(`Upstream latency ${latency} ms:`);
  out.push(
    table(
      [
        'target',
        'conc.',
        'p50 ms',
        'p99 ms',
        'req/s',
        'errors / non-2xx',
        'added p50 ms',
        'added p99 ms',
        'req/s vs proxy',
        'server CPU ms/req',
      ],
      rows,
    ),
  );
}

// Goals (issue 7), judged on the medians.
const goals = [];
const goal = (name, pass, detail) => goals.push(`${pass === null ? 'n/a ' : pass ? 'PASS' : 'MISS'} ${name}: ${detail}`);
const eg = (l, c) => {
  const cell = find(l, c, 'embedgate');
  return cell ? summarize(cell) : null;
};
const pk = (l, c) => {
  const cell = find(l, c, 'portkey');
  return cell ? summarize(cell) : null;
};
for (const latency of LATENCIES) {
  const e1 = eg(latency, 1);
  const p1 = pk(latency, 1);
  if (CONCURRENCIES.includes(1)) {
    goal(
      `embedgate added p50 <= 1 ms at concurrency 1, upstream ${latency} ms`,
      e1 ? !e1.failed && e1.addedP50.median <= 1 : false,
      e1 ? `${fmt(e1.addedP50.median)} ms` : 'not measured',
    );
    goal(
      `embedgate added p99 <= 5 ms at concurrency 1, upstream ${latency} ms`,
      e1 ? !e1.failed && e1.addedP99.median <= 5 : false,
      e1 ? `${fmt(e1.addedP99.median)} ms` : 'not measured',
    );
    goal(
      `embedgate adds less latency than Portkey at concurrency 1, upstream ${latency} ms`,
      !p1 ? null : e1 ? !e1.failed && e1.addedP50.median < p1.addedP50.median && e1.addedP99.median < p1.addedP99.median : false,
      e1 && p1
        ? `p50 +${fmt(e1.addedP50.median)} vs +${fmt(p1.addedP50.median)} ms, p99 +${fmt(e1.addedP99.median)} vs +${fmt(p1.addedP99.median)} ms`
        : 'not measured',
    );
  }
  for (const c of CONCURRENCIES) {
    const e = eg(latency, c);
    const p = pk(latency, c);
    goal(
      `embedgate throughput >= 0.8x minimal proxy at concurrency ${c}, upstream ${latency} ms`,
      !TARGETS.includes('proxy') ? null : e ? !e.failed && e.vsProxy?.median >= 0.8 : false,
      e?.vsProxy ? `${fmt(e.vsProxy.median)}x (${fmt(e.rps.median, 0)} req/s)` : 'not measured',
    );
    goal(
      `embedgate throughput > Portkey at concurrency ${c}, upstream ${latency} ms`,
      !p ? null : e ? !e.failed && e.rps.median > p.rps.median : false,
      e && p ? `${fmt(e.rps.median, 0)} vs ${fmt(p.rps.median, 0)} req/s` : 'not measured',
    );
  }
}
// Goals of issue 16 (embedgate dev with the journal on, instant upstream), judged on the medians.
const goals16 = [];
const goal16 = (name, pass, detail) => goals16.push(`${pass === null ? 'n/a ' : pass ? 'PASS' : 'MISS'} ${name}: ${detail}`);
if (LATENCIES.includes(0)) {
  const e1 = CONCURRENCIES.includes(1) ? eg(0, 1) : null;
  if (e1) {
    goal16('added p50 <= 1 ms at concurrency 1', !e1.failed && e1.addedP50.median <= 1, `${fmt(e1.addedP50.median)} ms`);
    goal16('added p99 <= 5 ms at concurrency 1', !e1.failed && e1.addedP99.median <= 5, `${fmt(e1.addedP99.median)} ms`);
  }
  for (const c of [8, 32].filter((x) => CONCURRENCIES.includes(x))) {
    const e = eg(0, c);
    goal16(
      `throughput >= 0.5x the minimal proxy at concurrency ${c}`,
      !TARGETS.includes('proxy') ? null : e ? !e.failed && e.vsProxy?.median >= 0.5 : false,
      e?.vsProxy ? `${fmt(e.vsProxy.median)}x (${fmt(e.rps.median, 0)} req/s)` : 'not measured',
    );
  }
  if (CONCURRENCIES.includes(32)) {
    const e = eg(0, 32);
    const p = pk(0, 32);
    goal16(
      'throughput >= 3x Portkey at concurrency 32',
      !p ? null : e ? !e.failed && e.rps.median >= 3 * p.rps.median : false,
      e && p ? `${fmt(e.rps.median / p.rps.median)}x (${fmt(e.rps.median, 0)} vs ${fmt(p.rps.median, 0)} req/s)` : 'not measured',
    );
  }
}
out.push('');
out.push('Goals (issue 7):');
out.push(...goals);
out.push('');
out.push(`Goals (issue 16: embedgate dev, archive: ${ARCHIVE === 'journal' ? 'the journal' : 'one file per record'}, upstream 0 ms):`);
out.push(...(goals16.length ? goals16 : ['n/a (needs --latency 0)']));
if (notes.length) {
  out.push('');
  out.push('Checks and notes:');
  out.push(...notes.map((n) => `- ${n}`));
}
for (const [k, why] of failed) out.push(`FAILED ${k}: ${why}`);
if (results.some(cellFailed)) {
  exitCode = 1;
  out.push('FAIL: some cells had transport errors or non-2xx answers (marked FAIL above)');
}
console.log(out.join('\n'));
process.exit(exitCode);
