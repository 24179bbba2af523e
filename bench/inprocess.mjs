// In-process timings of the gateway core, against the compiled code in dist/ (no HTTP server, no
// child process but the profiled one):
//   1. Handler time per request through the real core: `Gateway.handle` with the production
//      `TokenVerifier` (its remote JWKS fetched once through an in-process fetch, then cached),
//      the real policy and revocation list, masking on with the default detectors, an in-memory
//      archive (it serialises each record, as every real archive does) and a provider that returns
//      precomputed vectors at once (built at start-up by the real OpenAI provider from an in-process
//      upstream answer). 1 item of 2 KB, 64 items of 2 KB, and 1 item of 2/8/32/128 KB.
//   2. Where the time of one request goes: each stage timed on its own, and the top self-time
//      functions of a CPU profile (`node --cpu-prof` of a child running case 1a).
//   3. JWT verification with a cached JWKS: the production `TokenVerifier` and bare `jose`.
//   4. Responses of 100 vectors of 1536 dimensions: from the upstream's answer (text) to the
//      client's body, float and base64.
// Usage: npm run build && node bench/inprocess.mjs [--runs 5] [--ms 1000] [--only handler,stages,profile,jwt,response]
//        [--profile-items 64]: profile 64 items of 2 KB (case 1b) instead of one (case 1a).
import { spawnSync } from 'node:child_process';
import { KeyObject, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as jose from 'jose';
import { createCorpus } from './masking-corpus.mjs';

const require = createRequire(import.meta.url);
const { Gateway, embeddingsBody } = require('../dist/lambda/core/gateway.js');
const { TokenVerifier, extractBearerToken } = require('../dist/lambda/core/identity.js');
const { decide } = require('../dist/lambda/core/policy.js');
const { parseEmbeddingsRequest, enforceLimits } = require('../dist/lambda/core/request.js');
const { sealRecord, fingerprintVectors } = require('../dist/lambda/core/record.js');
const { lazyMasker } = require('../dist/lambda/core/masking/runtime.js');
const { ruleMaskingStrategies } = require('../dist/lambda/core/masking/index.js');
const { InMemoryRevocationList } = require('../dist/lambda/adapters/local/revocations.js');
const { systemClock, uuidv7Ids } = require('../dist/lambda/core/ids.js');
const { createOpenAiCompatibleProvider } = require('../dist/lambda/providers/openai-compatible.js');
const { loadConfig } = require('../dist/shared/config.js');
const { generateTestKey, signToken } = require('../dist/test/support/jwks.js');

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    ms: { type: 'string', default: '1000' },
    only: { type: 'string', default: 'handler,stages,profile,jwt,response' },
    'profile-target': { type: 'boolean', default: false },
    'profile-items': { type: 'string', default: '1' },
  },
});
const RUNS = Number(args.runs);
const RUN_MS = Number(args.ms);
const ONLY = new Set(args.only.split(','));

// ---- fixtures --------------------------------------------------------------------------------

const ISSUER = 'https://idp.bench.example';
const MODEL = 'text-embedding-3-small';
const DIMS = 1536;
const KB = 1024;

/** A seeded PRNG (mulberry32), so vectors are the same on every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(7);
/** n unit vectors of `dims` float32 values, like a real embedding model's. */
function vectors(n, dims = DIMS) {
  return Array.from({ length: n }, () => {
    const v = new Float32Array(dims);
    let s = 0;
    for (let i = 0; i < dims; i++) s += (v[i] = rand() - 0.5) ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < dims; i++) v[i] *= inv;
    return v;
  });
}

/** An OpenAI embeddings answer (compact JSON) with vectors as base64 or float arrays. */
function upstreamBody(vs, format) {
  return JSON.stringify({
    object: 'list',
    data: vs.map((v, index) => ({
      object: 'embedding',
      index,
      embedding: format === 'base64' ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v),
    })),
    model: MODEL,
    usage: { prompt_tokens: 8 * vs.length, total_tokens: 8 * vs.length },
  });
}

/**
 * An in-process upstream for the real OpenAI provider: answers each batch at once with
 * precomputed vectors, in the encoding the request asks for (`answer: 'float'` ignores it, like
 * servers that only answer floats). Bodies are built once per (count, encoding).
 */
function inProcessUpstream({ answer = 'request' } = {}) {
  const bodies = new Map();
  const stats = { requests: 0 };
  const fetch = async (_url, init) => {
    stats.requests++;
    const req = JSON.parse(init.body);
    const n = Array.isArray(req.input) ? req.input.length : 1;
    const format = answer === 'float' ? 'float' : req.encoding_format === 'base64' ? 'base64' : 'float';
    const key = `${n}:${format}`;
    if (!bodies.has(key)) bodies.set(key, upstreamBody(vectors(n), format));
    return new globalThis.Response(bodies.get(key), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  return { fetch, stats, bodies };
}

const secrets = { get: async () => 'sk-bench-upstream-key' };
const modelConfig = (config) => config.models.find((m) => m.name === MODEL);

function benchConfig() {
  return loadConfig({
    issuers: [{ id: 'corp', issuer: ISSUER, audiences: 'embedgate', jwksUri: `${ISSUER}/jwks`, algorithms: ['RS256', 'ES256'] }],
    models: [
      { name: MODEL, provider: 'openai', baseUrl: 'https://upstream.bench.example/v1', apiKey: { source: 'env', name: 'BENCH_KEY' } },
      {
        name: 'text-embedding-3-large',
        provider: 'openai',
        baseUrl: 'https://upstream.bench.example/v1',
        apiKey: { source: 'env', name: 'BENCH_KEY' },
      },
    ],
    policy: {
      rules: [
        { id: 'no-contractors', effect: 'deny', match: { groups: 'contractors' }, models: '*' },
        { id: 'support-small', effect: 'allow', match: { groups: 'support' }, models: MODEL, limits: { maxInputs: 16 } },
        { id: 'analytics-large', effect: 'allow', match: { groups: ['analytics', 'data-science'] }, models: 'text-embedding-3-*' },
        { id: 'indexers', effect: 'allow', match: { groups: 'indexers' }, models: 'text-embedding-3-*', limits: { maxInputs: 2048 } },
      ],
    },
    // Default detectors and strategies; maxScanChars raised from 100 000 so the 128 KB item is scanned.
    masking: { enabled: true, maxScanChars: 200_000 },
  });
}

/** An in-process JWKS endpoint for `TokenVerifier` (fetched once, then cached by jose). */
function jwksFetch(keys) {
  const stats = { fetches: 0 };
  const fetch = async () => {
    stats.fetches++;
    return new globalThis.Response(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };
  return { fetch, stats };
}

const rsa = await generateTestKey('RS256', { kid: 'bench-rs256' });
const ec = await generateTestKey('ES256', { kid: 'bench-es256' });
const nowS = Math.floor(Date.now() / 1000);
const claims = (extra = {}) => ({
  iss: ISSUER,
  aud: 'embedgate',
  sub: 'svc-indexer',
  client_id: 'indexer',
  groups: ['indexers', 'search-team'],
  scope: 'embeddings:write models:read',
  iat: nowS - 60,
  exp: nowS + 3600,
  jti: `jti-${rand().toString(36).slice(2)}`,
  ...extra,
});
const rsToken = await signToken(rsa, claims());
const esToken = await signToken(ec, claims());

/** Clean English prose (the masking corpus's clean sentences) of exactly `bytes` bytes. */
const prose = createCorpus({ positives: 0, hardNegatives: 0, unseenNegatives: 0, clean: 400 })
  .map((x) => x.text)
  .join(' ')
  .replace(/[^\x20-\x7e]/g, ' ');
function text(bytes, offset = 0) {
  let s = '';
  while (s.length < bytes + offset) s += `${prose} `;
  return s.slice(offset, offset + bytes);
}

const revocations = new InMemoryRevocationList({
  revocations: [
    {
      kind: 'subject',
      value: 'svc-retired',
      issuer: ISSUER,
      reason: 'decommissioned',
      until: null,
      createdAt: Date.now(),
      createdBy: 'bench',
    },
    { kind: 'client', value: 'leaked-client', issuer: null, reason: 'leak', until: null, createdAt: Date.now(), createdBy: 'bench' },
    { kind: 'token', value: 'jti-stolen', issuer: ISSUER, reason: 'stolen', until: null, createdAt: Date.now(), createdBy: 'bench' },
  ],
});

/** Archives in memory; serialises each record as the S3 and file archives do. */
const archive = {
  puts: 0,
  bytes: 0,
  last: null,
  async put(r) {
    this.puts++;
    this.bytes += JSON.stringify(r).length;
    this.last = r;
    return { key: r.session_id };
  },
};

/**
 * A provider that answers at once with the result the real OpenAI provider produced (at start-up,
 * from an in-process upstream) for the same item count, encoding and dimensions.
 */
async function precomputedProvider(config) {
  const upstream = inProcessUpstream();
  const real = createOpenAiCompatibleProvider(modelConfig(config), { secrets, fetch: upstream.fetch });
  const results = new Map();
  // A gateway that does not tell the provider the client's encoding (before pass-through) gets the '-' entry.
  const key = (call) => `${call.input.length}:${call.encodingFormat ?? '-'}:${call.dimensions}`;
  return {
    kind: 'openai',
    async prepare(call) {
      if (!results.has(key(call))) results.set(key(call), await real.embed(call));
      const any = key({ ...call, encodingFormat: undefined });
      if (!results.has(any)) results.set(any, results.get(key(call)));
    },
    async embed(call) {
      const r = results.get(key(call));
      if (!r) throw new Error(`bench: no precomputed result for ${key(call)}`);
      return r;
    },
  };
}

const config = benchConfig();
const idp = jwksFetch([rsa, ec]);
// As in production (verified tokens remembered: a client presents the same token until it expires).
const verifier = new TokenVerifier(config, { fetch: idp.fetch });
// Every token verified in full (signature included), as for a token seen for the first time.
const fullVerifier = new TokenVerifier(config, { fetch: idp.fetch, verifiedTokenCacheSize: 0 });
const provider = await precomputedProvider(config);
const gatewayWith = (v) =>
  new Gateway({
    config,
    verifier: v,
    provider: () => provider,
    revocations,
    archive,
    masker: lazyMasker(config, { secrets }),
    clock: systemClock,
    ids: uuidv7Ids(systemClock),
  });
const gateway = gatewayWith(verifier);
const fullGateway = gatewayWith(fullVerifier);

function httpRequest(body, token = rsToken) {
  return {
    method: 'POST',
    path: '/v1/embeddings',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'user-agent': 'OpenAI/JS 6.49.0',
      accept: 'application/json',
    },
    rawQueryString: '',
    body,
    isBase64Encoded: false,
    requestId: 'bench-request',
    sourceIp: '10.0.0.1',
  };
}

/** A handler case: the request body and a check of its answer. */
async function handlerCase(name, items, encodingFormat, gw = gateway) {
  const body = JSON.stringify({ model: MODEL, input: items.length === 1 ? items[0] : items, encoding_format: encodingFormat });
  await provider.prepare({ input: items, encodingFormat });
  const req = httpRequest(body);
  const once = () => gw.handle(req);
  const first = await once();
  if (first.response.status !== 200)
    throw new Error(`${name}: status ${first.response.status}: ${first.response.body}`, { cause: first.internalError });
  const kb = items.reduce((a, x) => a + Buffer.byteLength(x), 0) / KB;
  return { name, kb, items: items.length, encodingFormat, once, requestBytes: body.length, responseBytes: first.response.body.length };
}

// ---- measuring -------------------------------------------------------------------------------

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f = (x, d = 1) => x.toFixed(d);
const us = (ms) => ms * 1000;

/** Time `fn` (async) back to back for about `ms` (at least `min` calls): p50, p99 in ms. */
async function timeLoop(fn, ms = RUN_MS, min = 50) {
  const samples = [];
  const end = performance.now() + ms;
  while (performance.now() < end || samples.length < min) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return { p50: pct(samples, 50), p99: pct(samples, 99), n: samples.length };
}

/** Warm up, then RUNS timed runs: median and spread of p50 and p99 over runs. */
async function measure(fn, { warmMs = 500, ms = RUN_MS } = {}) {
  await timeLoop(fn, warmMs, 20);
  const runs = [];
  for (let r = 0; r < RUNS; r++) runs.push(await timeLoop(fn, ms));
  const p50s = runs.map((r) => r.p50);
  const p99s = runs.map((r) => r.p99);
  return {
    p50: median(p50s),
    p50min: Math.min(...p50s),
    p50max: Math.max(...p50s),
    p99: median(p99s),
    p99min: Math.min(...p99s),
    p99max: Math.max(...p99s),
    n: runs.reduce((a, r) => a + r.n, 0),
  };
}

const spreadUs = (m) =>
  `p50 ${f(us(m.p50))} µs (${f(us(m.p50min))}-${f(us(m.p50max))}), p99 ${f(us(m.p99))} µs (${f(us(m.p99min))}-${f(us(m.p99max))})`;
const spreadMs = (m) =>
  `p50 ${f(m.p50, 2)} ms (${f(m.p50min, 2)}-${f(m.p50max, 2)}), p99 ${f(m.p99, 2)} ms (${f(m.p99min, 2)}-${f(m.p99max, 2)})`;
const verdict = (ok) => (ok ? 'PASS' : 'MISS');

console.log(
  `# In-process benchmarks\n\nnode ${process.version}, ${cpus()[0].model} x${cpus().length}, load average ${loadavg()
    .map((x) => f(x, 2))
    .join(' ')}, ${new Date().toISOString()}`,
);
console.log(`${RUNS} runs of ${RUN_MS} ms per case after a 500 ms warm-up; figures: median over runs (min-max over runs)\n`);

// ---- profile target (the child of section 2) ---------------------------------------------------

if (args['profile-target']) {
  const items = Number(args['profile-items']);
  const a = await handlerCase(
    'profiled',
    Array.from({ length: items }, (_, i) => text(2 * KB, i * 977)),
    'base64',
  );
  for (let i = 0; i < Math.ceil(2000 / items); i++) await a.once(); // warm-up, not in the window
  const from = process.hrtime.bigint() / 1000n; // the clock of the profile's timestamps (µs)
  const end = performance.now() + 4000;
  let n = 0;
  while (performance.now() < end) {
    await a.once();
    n++;
  }
  console.log(`profiled ${n} requests`);
  console.log(`window ${from} ${process.hrtime.bigint() / 1000n}`);
  process.exit(0);
}

// ---- 1. handler time -----------------------------------------------------------------------------

if (ONLY.has('handler')) {
  console.log('## Handler time per request (Gateway.handle, masking on, RS256 token, 1536-dimension vectors)\n');
  console.log('| case | request | response | handler time, median over runs (min-max) | requests timed |');
  console.log('| --- | --- | --- | --- | --- |');
  const rows = [];
  const cases = [
    await handlerCase('(a) 1 item of 2 KB, base64 (SDK default)', [text(2 * KB)], 'base64'),
    await handlerCase('(a) 1 item of 2 KB, float', [text(2 * KB)], 'float'),
    await handlerCase('(a) 1 item of 2 KB, base64, token verified in full every time (cache off)', [text(2 * KB)], 'base64', fullGateway),
    await handlerCase(
      '(b) 64 items of 2 KB (128 KB), base64',
      Array.from({ length: 64 }, (_, i) => text(2 * KB, i * 977)),
      'base64',
    ),
  ];
  const sweep = [];
  for (const size of [2, 8, 32, 128]) sweep.push(await handlerCase(`(c) 1 item of ${size} KB, base64`, [text(size * KB)], 'base64'));
  for (const c of [...cases, ...sweep]) {
    const m = await measure(c.once);
    rows.push({ c, m });
    console.log(`| ${c.name} | ${f(c.requestBytes / KB)} KiB | ${f(c.responseBytes / KB)} KiB | ${spreadUs(m)} | ${m.n} |`);
  }
  // Cost per extra KB: least-squares slope of p50 over the sweep.
  const pts = rows.filter((r) => sweep.includes(r.c)).map((r) => [r.c.kb, us(r.m.p50)]);
  const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length;
  const my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  const slope = pts.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) / pts.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  const a = rows[0].m;
  const b = rows[3].m;
  console.log(`\nGoal (a) p50 <= 200 µs: ${f(us(a.p50))} µs: ${verdict(us(a.p50) <= 200)}`);
  console.log(
    `Cost per extra KB (least-squares slope of p50 over 2, 8, 32, 128 KB): ${f(slope, 2)} µs/KB; goal <= 20 µs/KB: ${verdict(slope <= 20)}`,
  );
  console.log(
    `(b) against the same budget (200 µs + 20 µs per KB over 2 KB = ${f(200 + 20 * 126, 0)} µs): ${f(us(b.p50))} µs: ${verdict(us(b.p50) <= 200 + 20 * 126)}`,
  );
  console.log(`JWKS fetches during the run: ${idp.stats.fetches}; records archived: ${archive.puts}\n`);
}

// ---- 2. stages -----------------------------------------------------------------------------------

if (ONLY.has('stages')) {
  console.log('## Where the time of case (a) goes: each stage on its own (same inputs as case (a), base64)\n');
  const item = text(2 * KB);
  const c = await handlerCase('a', [item], 'base64');
  const req = httpRequest(JSON.stringify({ model: MODEL, input: item, encoding_format: 'base64' }));
  const principal = await verifier.verify(rsToken);
  const parsed = parseEmbeddingsRequest(req.body, false, config.gateway.maxRequestBytes);
  const decision = decide(config, principal, MODEL);
  const masker = await lazyMasker(config, { secrets })();
  const strategies = ruleMaskingStrategies(config, decision.ruleId);
  const result = await provider.embed({ input: [item], encodingFormat: 'base64' });
  const { record } = await c.once();
  const stages = [
    ['whole request (Gateway.handle)', () => c.once()],
    [
      'token extraction + verification (TokenVerifier, RS256, token remembered)',
      () => verifier.verify(extractBearerToken(req, config.gateway.maxTokenBytes)),
    ],
    [
      'token extraction + verification (TokenVerifier, RS256, in full: cache off)',
      () => fullVerifier.verify(extractBearerToken(req, config.gateway.maxTokenBytes)),
    ],
    [
      'revocation lookup (in memory)',
      () =>
        revocations.find({
          issuer: principal.issuer,
          subject: principal.subject,
          clientId: principal.clientId,
          tokenId: principal.tokenId,
        }),
    ],
    ['request parse + validation', async () => parseEmbeddingsRequest(req.body, false, config.gateway.maxRequestBytes)],
    ['policy decision + limits', async () => enforceLimits(parsed, decide(config, principal, MODEL).limits)],
    ['masking (maskItems, 2 KB)', () => masker.maskItems(parsed.input.items, strategies)],
    ['response body (embeddingsBody)', async () => embeddingsBody(parsed, MODEL, result)],
    ['vector fingerprint (sha256 of 6 KiB)', async () => fingerprintVectors(result.vectors)],
    ['record sealing (canonical JSON + sha256)', async () => sealRecord(record)],
    ['archive serialisation (JSON.stringify of the record)', async () => JSON.stringify(record)],
  ];
  console.log('| stage | p50 µs (min-max over runs) | p99 µs |');
  console.log('| --- | --- | --- |');
  for (const [name, fn] of stages) {
    const m = await measure(fn, { ms: Math.min(RUN_MS, 500) });
    console.log(`| ${name} | ${f(us(m.p50))} (${f(us(m.p50min))}-${f(us(m.p50max))}) | ${f(us(m.p99))} |`);
  }
  console.log('');
}

// ---- 2b. CPU profile -----------------------------------------------------------------------------

if (ONLY.has('profile')) {
  const dir = mkdtempSync(join(tmpdir(), 'embedgate-prof-'));
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(
    process.execPath,
    ['--cpu-prof', '--cpu-prof-dir', dir, self, '--profile-target', '--profile-items', args['profile-items']],
    { encoding: 'utf8' },
  );
  if (child.status !== 0) throw new Error(`profile child failed: ${child.stderr}`);
  const file = readdirSync(dir).find((x) => x.endsWith('.cpuprofile'));
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  // Self time per node from the samples, then per function.
  // Only the samples taken while the child ran its request loop (not start-up and set-up).
  const [from, to] = (/window (\d+) (\d+)/.exec(child.stdout) ?? []).slice(1).map(Number);
  const selfUs = new Map();
  let at = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    at += prof.timeDeltas[i] ?? 0;
    if (at >= from && at <= to) selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  const short = (url) =>
    url
      .replace(/^.*\/(node_modules\/[^/]+)\/.*?([^/]+)$/, '$1/…/$2')
      .replace(/^.*\/dist\//, '')
      .replace(/^file:\/\//, '');
  const byFn = new Map();
  const byGroup = new Map();
  let busy = 0;
  for (const node of prof.nodes) {
    const t = selfUs.get(node.id) ?? 0;
    if (!t) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName !== '(idle)') busy += t;
    const key = `${functionName || '(anonymous)'} ${url ? `${short(url)}:${lineNumber + 1}` : '(native)'}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
    const group = groupOf(functionName, url);
    byGroup.set(group, (byGroup.get(group) ?? 0) + t);
  }
  const requests = Number(/profiled (\d+)/.exec(child.stdout)?.[1] ?? NaN);
  console.log(
    `## CPU profile of ${args['profile-items'] === '1' ? 'case (a)' : `${args['profile-items']} items of 2 KB`} (node --cpu-prof, ${requests} requests in 4 s after 2000 warm-up items, ${f(busy / requests, 1)} µs of non-idle samples per request)\n`,
  );
  console.log('Self time by area (share of non-idle samples):\n');
  console.log('| area | share | µs per request |');
  console.log('| --- | --- | --- |');
  for (const [g, t] of [...byGroup].filter(([g]) => g !== 'idle').sort((a, b) => b[1] - a[1]))
    console.log(`| ${g} | ${f((100 * t) / busy)} % | ${f(t / requests, 1)} |`);
  console.log('\nTop self-time functions:\n');
  console.log('| function | share | µs per request |');
  console.log('| --- | --- | --- |');
  for (const [k, t] of [...byFn]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20))
    console.log(`| ${k.replace(/\|/g, '\\|')} | ${f((100 * t) / busy)} % | ${f(t / requests, 1)} |`);
  console.log('');
}

function groupOf(fn, url) {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(program)') return 'V8/Node native (program)';
  if (url.includes('node_modules/jose') || url.includes('core/identity')) return 'token verification (jose, identity)';
  if (url.includes('core/masking')) return 'masking';
  if (url.includes('core/record') || (url.includes('shared/config') && fn === 'canonicalJson')) return 'record (canonical JSON, sha256)';
  if (url.includes('core/policy') || url.includes('shared/glob')) return 'policy';
  if (url.includes('core/request')) return 'request parsing';
  if (url.includes('core/gateway')) return 'gateway (pipeline, response body)';
  if (url.includes('revocation')) return 'revocation';
  if (url.includes('node:internal/crypto') || url.includes('node:internal/webcrypto')) return 'node crypto (hash, webcrypto)';
  if (!url && (fn === 'stringify' || fn === 'parse')) return 'JSON (native)';
  if (url.startsWith('node:')) return 'node internals (buffer, timers, promises)';
  if (url.includes('bench/')) return 'bench harness';
  if (!url) return `native: ${fn}`;
  return 'other JS';
}

// ---- 3. JWT verification -------------------------------------------------------------------------

/** Calls per second of `fn` (async) for `ms`, with `concurrency` in flight; CPU time per call from process.cpuUsage (all threads). */
async function throughput(fn, { ms = RUN_MS, concurrency = 1 } = {}) {
  const end = performance.now() + ms;
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await fn();
        n++;
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return { perSecond: n / wall, perCpuSecond: n / cpuS, cpuUsPerCall: (cpuS * 1e6) / n };
}

async function measureThroughput(fn, opts) {
  await throughput(fn, { ...opts, ms: 300 });
  const runs = [];
  for (let r = 0; r < RUNS; r++) runs.push(await throughput(fn, opts));
  const m = (k) => ({
    med: median(runs.map((x) => x[k])),
    min: Math.min(...runs.map((x) => x[k])),
    max: Math.max(...runs.map((x) => x[k])),
  });
  return { perSecond: m('perSecond'), perCpuSecond: m('perCpuSecond'), cpuUsPerCall: m('cpuUsPerCall') };
}

if (ONLY.has('jwt')) {
  console.log('## JWT verification with a cached JWKS\n');
  const localJwks = jose.createLocalJWKSet({ keys: [rsa.publicJwk, ec.publicJwk] });
  const opts = { issuer: ISSUER, audience: 'embedgate', algorithms: ['RS256', 'ES256'], requiredClaims: ['exp'] };
  // The floor: the RSA signature check alone, with WebCrypto (what jose uses) and with node:crypto.
  const [h, p, sig] = rsToken.split('.');
  const signingInput = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(sig, 'base64url');
  const rsaKeyObject = KeyObject.from(rsa.publicKey);
  const rows = [
    [
      'TokenVerifier (production wiring: remote JWKS, cached), RS256, in full (verified-token cache off)',
      () => fullVerifier.verify(rsToken),
    ],
    ['TokenVerifier, ES256, in full (cache off)', () => fullVerifier.verify(esToken)],
    ['TokenVerifier, RS256, the same token again (verified-token cache on, the default)', () => verifier.verify(rsToken)],
    ['bare jose jwtVerify + createLocalJWKSet, RS256', () => jose.jwtVerify(rsToken, localJwks, opts)],
    ['bare jose jwtVerify + createLocalJWKSet, ES256', () => jose.jwtVerify(esToken, localJwks, opts)],
    [
      'floor: crypto.subtle.verify RS256 (WebCrypto, as jose does)',
      () => globalThis.crypto.subtle.verify('RSASSA-PKCS1-v1_5', rsa.publicKey, signature, signingInput),
    ],
    ['floor: node:crypto verify RS256 (synchronous)', async () => nodeVerify('sha256', signingInput, rsaKeyObject, signature)],
  ];
  console.log('| verifier | in flight | verifications/s (wall) | verifications per CPU-second (all threads) | CPU µs per verification |');
  console.log('| --- | --- | --- | --- | --- |');
  const results = [];
  for (const [name, fn] of rows) {
    for (const concurrency of [1, 32]) {
      const m = await measureThroughput(fn, { concurrency });
      results.push({ name, concurrency, m });
      const r = (x, d = 0) => `${f(x.med, d)} (${f(x.min, d)}-${f(x.max, d)})`;
      console.log(`| ${name} | ${concurrency} | ${r(m.perSecond)} | ${r(m.perCpuSecond)} | ${r(m.cpuUsPerCall, 1)} |`);
    }
  }
  const best = (prefix) => Math.max(...results.filter((x) => x.name.startsWith(prefix)).map((x) => x.m.perCpuSecond.med));
  const full = best('TokenVerifier (production');
  const again = best('TokenVerifier, RS256, the same token');
  console.log(
    `\nGoal >= 10,000 verifications per second per core (TokenVerifier, RS256, per CPU-second): in full ${f(full, 0)}: ${verdict(full >= 10_000)}; the same token again ${f(again, 0)}: ${verdict(again >= 10_000)}`,
  );
  console.log(`JWKS fetches so far (two verifiers: cache on and off): ${idp.stats.fetches}\n`);
}

// ---- 4. responses: 100 x 1536 ---------------------------------------------------------------------

if (ONLY.has('response')) {
  console.log('## Responses: 100 vectors of 1536 dimensions, from the upstream answer to the client body\n');
  const N = 100;
  const input = Array.from({ length: N }, (_, i) => `item ${i}`);
  const model = modelConfig(config);
  const rows = [];
  for (const answer of ['request', 'float']) {
    for (const encodingFormat of ['base64', 'float']) {
      const upstream = inProcessUpstream({ answer });
      const p = createOpenAiCompatibleProvider(model, { secrets, fetch: upstream.fetch });
      const call = { input, encodingFormat };
      const result = await p.embed(call);
      const upstreamText = [...upstream.bodies.values()][0];
      const upstreamFormat = [...upstream.bodies.keys()][0].split(':')[1];
      const body = embeddingsBody({ encodingFormat }, MODEL, result);
      // Up to the UTF-8 bytes that go out: a body built by concatenation is a rope until then.
      const bodyOnly = await measure(async () => Buffer.from(embeddingsBody({ encodingFormat }, MODEL, result), 'utf8'), { ms: RUN_MS });
      const endToEnd = await measure(async () => Buffer.from(embeddingsBody({ encodingFormat }, MODEL, await p.embed(call)), 'utf8'), {
        ms: RUN_MS,
      });
      const gz = gzipSync(upstreamText);
      const gunzip = await measure(async () => gunzipSync(gz), { ms: Math.min(RUN_MS, 500) });
      rows.push({
        encodingFormat,
        upstreamFormat,
        answer,
        upstreamBytes: upstreamText.length,
        gzBytes: gz.length,
        bodyBytes: body.length,
        bodyOnly,
        endToEnd,
        gunzip,
      });
    }
  }
  console.log(
    '| client asks | upstream answers | upstream body (gzip) | client body | body building only (embeddingsBody, to UTF-8 bytes) | upstream text to client body bytes (provider: fetch Response, JSON.parse, checks; body) | gunzip of the upstream body |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.encodingFormat} | ${r.upstreamFormat}${r.answer === 'float' ? ' (server ignores encoding_format)' : ''} | ${f(r.upstreamBytes / KB / KB, 2)} MiB (${f(r.gzBytes / KB / KB, 2)} MiB) | ${f(r.bodyBytes / KB / KB, 2)} MiB | ${spreadMs(r.bodyOnly)} | ${spreadMs(r.endToEnd)} | ${f(r.gunzip.p50, 2)} ms |`,
    );
  }
  console.log('');
}
