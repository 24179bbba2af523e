// Where one embedgate request spends its time, measured in process: `embedgate dev`'s server
// (startDevServer from dist/, the same configuration as bench/compare.mjs: JWT verification,
// policy, masking, file archive) with timing wrappers around its parts, driven by sequential
// keep-alive requests from this process; the upstream stand-in runs in a child process.
//
// Usage: npm run build && node bench/compare/embedgate-phases.mjs [--requests 2000] [--latency 0]
//        [--warmup 500] [--encoding base64|float] [--dimensions 1536] [--input-chars 2048]
//        [--what-if verify-cache,mkdir-once,http-fetch,no-request-log,no-datasync] >/dev/null
//
// --what-if patches the compiled code in this process to estimate a fix before anyone makes it:
//   verify-cache    TokenVerifier.verify remembers verified tokens until they expire (the edge
//                   check and the handler then verify each token once per process, not twice per request)
//   mkdir-once      the file archive creates each hour's directory once, not before every record
//   http-fetch      the provider's fetch is node:http with a keep-alive agent instead of undici
//   no-request-log  Powertools log level WARN (no "request" line per request)
//   no-datasync     records are not fsync'd (NOT a fix: shows what durability costs here)
// The report goes to stderr: stdout carries the gateway's own log line per request (Powertools),
// which is part of the cost measured.
//
// Phases (ms per request; a phase called twice per request, like token verification at the edge
// and in the handler, is summed): everything not inside a wrapped phase is "other". The client's
// own time and the HTTP hop show as "client total - handler".
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'dist', 'package.json'));
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '500' },
    latency: { type: 'string', default: '0' },
    encoding: { type: 'string', default: 'base64' },
    dimensions: { type: 'string', default: '1536' },
    'input-chars': { type: 'string', default: '2048' },
    'what-if': { type: 'string', default: '' },
  },
});
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true'; // as `embedgate dev` sets it
const WHAT_IF = new Set(values['what-if'].split(',').filter(Boolean));
const KNOWN_WHAT_IF = ['verify-cache', 'mkdir-once', 'http-fetch', 'no-request-log', 'no-datasync'];
for (const w of WHAT_IF) if (!KNOWN_WHAT_IF.includes(w)) throw new Error(`unknown --what-if ${w} (known: ${KNOWN_WHAT_IF.join(', ')})`);
// Loaded below, after this: the logger reads its level when it is created.
if (WHAT_IF.has('no-request-log')) process.env.POWERTOOLS_LOG_LEVEL = 'WARN';

// --- timing wrappers ------------------------------------------------------------------------
const perRequest = []; // Map(phase -> ms, summed over calls) per measured request
let current = null; // phase sums of the request in flight (requests are sequential)
const add = (name, ms) => {
  if (current) current.set(name, (current.get(name) ?? 0) + ms);
};
function timed(obj, method, name) {
  const orig = obj[method];
  obj[method] = function (...args) {
    const t0 = performance.now();
    const r = orig.apply(this, args);
    if (r && typeof r.then === 'function') {
      return r.then(
        (v) => (add(name, performance.now() - t0), v),
        (e) => {
          add(name, performance.now() - t0);
          throw e;
        },
      );
    }
    add(name, performance.now() - t0);
    return r;
  };
}

const { TokenVerifier } = require('./lambda/core/identity.js');
const { FileArchive } = require('./lambda/adapters/local/file-archive.js');
const { FileRevocationList } = require('./lambda/adapters/local/file-revocations.js');
const { Gateway } = require('./lambda/core/gateway.js');
const providers = require('./lambda/providers/index.js');
const runtime = require('./lambda/core/masking/runtime.js');
const proxy = require('./lambda/handlers/proxy.js');
const record = require('./lambda/core/record.js');

// --- what-if patches ------------------------------------------------------------------------
if (WHAT_IF.has('verify-cache')) {
  // Installed before the timing wrappers, so a cache hit is timed too.
  const inner = TokenVerifier.prototype.verify;
  const cache = new Map();
  TokenVerifier.prototype.verify = async function (token) {
    const hit = cache.get(token);
    if (hit && hit.verifier === this && (hit.principal.expiresAt === null || hit.principal.expiresAt * 1000 > Date.now()))
      return hit.principal;
    const principal = await inner.call(this, token);
    if (cache.size > 1000) cache.clear();
    cache.set(token, { verifier: this, principal });
    return principal;
  };
}
if (WHAT_IF.has('mkdir-once')) {
  const fspCjs = require('node:fs/promises');
  const mkdir = fspCjs.mkdir;
  const made = new Set();
  fspCjs.mkdir = async (path, opts) => {
    if (made.has(path)) return undefined;
    const r = await mkdir(path, opts);
    made.add(path);
    return r;
  };
}
if (WHAT_IF.has('no-datasync')) {
  const fh = await fsp.open(fileURLToPath(import.meta.url), 'r');
  const proto = Object.getPrototypeOf(fh);
  await fh.close();
  proto.datasync = async () => undefined;
}
if (WHAT_IF.has('http-fetch')) {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const realFetch = globalThis.fetch;
  // Only the provider's POSTs; jose fetches the JWKS with the real fetch.
  globalThis.fetch = (url, init = {}) =>
    init.method !== 'POST'
      ? realFetch(url, init)
      : new Promise((resolveFetch, reject) => {
          const u = new URL(url);
          const req = httpRequest(
            {
              host: u.hostname,
              port: u.port,
              path: u.pathname + u.search,
              method: init.method ?? 'GET',
              headers: init.headers,
              agent,
              signal: init.signal,
            },
            (res) => {
              const chunks = [];
              res.on('data', (c) => chunks.push(c));
              res.on('error', reject);
              res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                resolveFetch({
                  status: res.statusCode,
                  headers: { get: (n) => res.headers[n.toLowerCase()] ?? null },
                  text: async () => text,
                });
              });
            },
          );
          req.on('error', reject);
          req.end(init.body);
        });
}

{
  // The first verification of a request is dev-server's edge check (API Gateway's JWT authorizer
  // in AWS), the second the handler's own (defence in depth).
  const verify = TokenVerifier.prototype.verify;
  TokenVerifier.prototype.verify = async function (...args) {
    const name = current?.has('token verification: edge check') ? 'token verification: handler' : 'token verification: edge check';
    const t0 = performance.now();
    try {
      return await verify.apply(this, args);
    } finally {
      add(name, performance.now() - t0);
    }
  };
}
timed(FileRevocationList.prototype, 'find', 'revocation check');
timed(FileArchive.prototype, 'put', 'archive.put (total)');
timed(Gateway.prototype, 'handle', 'gateway.handle (total)');
for (const f of ['mkdir', 'open']) timed(require('node:fs/promises'), f, `  archive: ${f}`);
{
  const fh = await fsp.open(fileURLToPath(import.meta.url), 'r');
  const proto = Object.getPrototypeOf(fh);
  await fh.close();
  for (const m of ['writeFile', 'datasync']) timed(proto, m, `  archive: filehandle.${m}`);
}
for (const f of ['sealRecord', 'fingerprintVectors']) if (typeof record[f] === 'function') timed(record, f, `record: ${f}`);
const createProvider = providers.createProvider;
providers.createProvider = (...args) => {
  const p = createProvider(...args);
  const embed = p.embed;
  return {
    ...p,
    embed: async (call) => {
      const t0 = performance.now();
      const r = await embed(call);
      add('provider.embed (total)', performance.now() - t0);
      add('  provider: upstream latency (its meter)', r.upstream.latencyMs);
      return r;
    },
  };
};
const lazyMasker = runtime.lazyMasker;
runtime.lazyMasker = (...args) => {
  const f = lazyMasker(...args);
  if (!f) return f;
  let wrapped;
  return async () => {
    const m = await f();
    if (!wrapped) {
      wrapped = true;
      timed(m, 'maskItems', 'masking: maskItems');
    }
    return m;
  };
};
const createProxyHandler = proxy.createProxyHandler;
proxy.createProxyHandler = (gw) => {
  const h = createProxyHandler(gw);
  return async (...args) => {
    const t0 = performance.now();
    const r = await h(...args);
    add('handler (middy + powertools + gateway.handle)', performance.now() - t0);
    return r;
  };
};
// JSON.stringify of the record happens inside archive.put; of the response inside gateway.handle.

const { startDevServer } = require('./cli/dev-server.js');
const { loadConfig } = require('./shared/config.js');
const { generateTestKey, signToken, startJwksServer } = require('./test/support/jwks.js');

// --- the upstream stand-in, in its own process -----------------------------------------------
const up = spawn(
  process.execPath,
  [join(root, 'bench', 'compare', 'upstream.mjs'), '--latency', values.latency, '--dimensions', values.dimensions],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
process.on('exit', () => up.kill('SIGKILL'));
let upOut = '';
for await (const d of up.stdout) {
  upOut += d;
  if (upOut.includes('\n')) break;
}
const upstream = JSON.parse(upOut.split('\n')[0]).benchUpstream;

const MODEL = 'text-embedding-3-small';
const AUDIENCE = 'https://embedgate.bench.test';
const key = await generateTestKey('RS256', { kid: 'bench-phases-1' });
const idp = await startJwksServer({ keys: [key] });
const now = Math.floor(Date.now() / 1000);
const token = await signToken(key, {
  iss: idp.issuer,
  aud: AUDIENCE,
  sub: 'svc-indexer',
  client_id: 'svc-indexer',
  groups: ['indexers'],
  iat: now - 10,
  exp: now + 3600,
});
const dir = await fsp.mkdtemp(join(tmpdir(), 'embedgate-bench-phases-'));
const config = loadConfig({
  issuers: [{ id: 'bench', issuer: idp.issuer, jwksUri: idp.jwksUri, audiences: [AUDIENCE] }],
  models: [{ name: MODEL, provider: 'openai-compatible', baseUrl: upstream.url, apiKey: { source: 'env', name: 'BENCH_UPSTREAM_KEY' } }],
  policy: { rules: [{ id: 'indexers', effect: 'allow', match: { issuer: 'bench', groups: 'indexers' }, models: [MODEL] }] },
  masking: { enabled: true },
});
const server = await startDevServer({ config, archiveDir: join(dir, 'archive'), port: 0, env: { BENCH_UPSTREAM_KEY: 'sk-bench' } });

// The same body as bench/compare.mjs.
const sentences =
  'The indexing service splits long documents into passages of a few hundred words before it asks for their embeddings. Retrieval quality depends more on how the passages are cut than on the choice of the embedding model itself.';
let text = '';
while (text.length < Number(values['input-chars'])) text += `${text ? ' ' : ''}${sentences}`;
text = text.slice(0, Number(values['input-chars']));
const body = JSON.stringify({ model: MODEL, input: text, encoding_format: values.encoding });
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const post = (url, headers) =>
  new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        agent,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });

async function series(url, headers, n, record) {
  const totals = [];
  for (let i = 0; i < n; i++) {
    current = record ? new Map() : null;
    const t0 = performance.now();
    const res = await post(url, headers);
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`status ${res.status}: ${res.body.toString().slice(0, 300)}`);
    totals.push(ms);
    if (current) {
      current.set('client total', ms);
      perRequest.push(current);
    }
  }
  current = null;
  return totals.sort((a, b) => a - b);
}

const N = Number(values.requests);
const pct = (s, p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
const directUrl = `${upstream.url}/embeddings`;
const gwUrl = `${server.url}/v1/embeddings`;
await series(directUrl, {}, Number(values.warmup), false);
await series(gwUrl, { authorization: `Bearer ${token}` }, Number(values.warmup), false);
/** CPU ms (user + system) of this process's main thread and of all its other threads (Linux /proc). */
function threadCpu() {
  let main = 0;
  let others = 0;
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(f[11]) + Number(f[12])) * 10; // CLK_TCK 100
      if (Number(tid) === process.pid) main += ms;
      else others += ms;
    }
  } catch {
    return null;
  }
  return { main, others };
}
const cpu0 = process.cpuUsage();
const threads0 = threadCpu();
const direct = await series(directUrl, {}, N, false);
const cpu1 = process.cpuUsage();
const threads1 = threadCpu();
await series(gwUrl, { authorization: `Bearer ${token}` }, N, true);
const cpu2 = process.cpuUsage();
const threads2 = threadCpu();
const cpuMs = (a, b) => (b.user - a.user + b.system - a.system) / 1000 / N;

const say = (line) => process.stderr.write(`${line}\n`);
say(
  `node ${process.version}; ${N} sequential requests (after ${values.warmup} warm-up), upstream latency ${values.latency} ms, ${values.encoding}, ${values.dimensions} dimensions, input ${text.length} chars`,
);
say(`what-if: ${WHAT_IF.size ? [...WHAT_IF].join(', ') : 'none (the code as built)'}`);
const cpuPart = (a, b, k) => (b[k] - a[k]) / 1000 / N;
say(
  `CPU of this process per request: direct ${cpuMs(cpu0, cpu1).toFixed(3)} ms (the client), through embedgate ${cpuMs(cpu1, cpu2).toFixed(3)} ms (client + gateway): ` +
    `the gateway's share ${(cpuMs(cpu1, cpu2) - cpuMs(cpu0, cpu1)).toFixed(3)} ms (user ${(cpuPart(cpu1, cpu2, 'user') - cpuPart(cpu0, cpu1, 'user')).toFixed(3)}, system ${(cpuPart(cpu1, cpu2, 'system') - cpuPart(cpu0, cpu1, 'system')).toFixed(3)})`,
);
if (threads0) {
  const per = (a, b, k) => ((b[k] - a[k]) / N).toFixed(3);
  say(
    `  by thread, ms per request: main thread direct ${per(threads0, threads1, 'main')} / via embedgate ${per(threads1, threads2, 'main')}; other threads (libuv pool, V8 GC and compiler) direct ${per(threads0, threads1, 'others')} / via embedgate ${per(threads1, threads2, 'others')}`,
  );
}
say(`direct (same client): p50 ${pct(direct, 50).toFixed(3)} ms, p99 ${pct(direct, 99).toFixed(3)} ms`);
const names = [];
for (const m of perRequest) for (const k of m.keys()) if (!names.includes(k)) names.push(k);
const g = (m, k) => m.get(k) ?? 0;
const derived = {
  'added over direct (client total - direct p50)': (m) => g(m, 'client total') - pct(direct, 50),
  'outside the handler (HTTP, event, client)': (m) =>
    g(m, 'client total') - g(m, 'handler (middy + powertools + gateway.handle)') - g(m, 'token verification: edge check'),
  'middy + powertools (handler - gateway.handle)': (m) =>
    g(m, 'handler (middy + powertools + gateway.handle)') - g(m, 'gateway.handle (total)'),
  'gateway.handle, not in a listed phase': (m) =>
    g(m, 'gateway.handle (total)') -
    g(m, 'token verification: handler') -
    g(m, 'revocation check') -
    g(m, 'masking: maskItems') -
    g(m, 'provider.embed (total)') -
    g(m, 'record: sealRecord') -
    g(m, 'archive.put (total)'),
  '  provider: besides the upstream latency': (m) => g(m, 'provider.embed (total)') - g(m, '  provider: upstream latency (its meter)'),
  '  archive: close and the rest': (m) =>
    g(m, 'archive.put (total)') -
    g(m, '  archive: mkdir') -
    g(m, '  archive: open') -
    g(m, '  archive: filehandle.writeFile') -
    g(m, '  archive: filehandle.datasync'),
};
say('phase (ms per request)                            p50      mean     p99');
const row = (k, xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
  say(
    `${k.padEnd(48)} ${pct(sorted, 50).toFixed(3).padStart(7)}  ${mean.toFixed(3).padStart(7)}  ${pct(sorted, 99).toFixed(3).padStart(7)}`,
  );
};
for (const k of names)
  row(
    k,
    perRequest.map((m) => g(m, k)),
  );
say('derived:');
for (const [k, f] of Object.entries(derived)) row(k, perRequest.map(f));
await server.close();
await idp.stop();
await fsp.rm(dir, { recursive: true, force: true });
const exited = once(up, 'exit');
up.kill('SIGTERM');
await exited;
