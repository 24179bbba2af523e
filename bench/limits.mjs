// What the limits stage costs a request, in process, against the compiled code in dist/:
// `Gateway.handle` with masking on (default detectors), a provider that answers at once, an
// archive stand-in that answers after 10 ms (an S3 put is slower), and a counter store stand-in
// (the in-memory store, same semantics as DynamoDB's) that answers every call after 6 ms.
//   - off:        no rate limits configured (no store call);
//   - overlapped: limits on (per minute, tokens per minute, in flight), the check running alongside
//                 masking as the gateway does it, settling (usage, release) alongside the archive write;
//   - sequential: the same store calls one after another (check, then mask; archive, then settle), what
//                 the stage would cost without the overlaps.
// Reported: median and p99 of the handler's time per request, the time added over "off", and the
// store calls per request on the request path. Inputs: 1 item of 2 KB and 64 items of 2 KB.
// Usage: npm run build && node bench/limits.mjs [--requests 300]
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { Gateway } = require('../dist/lambda/core/gateway.js');
const { RateLimiter } = require('../dist/lambda/core/limits/stage.js');
const { InMemoryLimitStore } = require('../dist/lambda/adapters/local/memory-limits.js');
const { InMemoryRevocationList } = require('../dist/lambda/adapters/local/revocations.js');
const { lazyMasker } = require('../dist/lambda/core/masking/runtime.js');
const { systemClock, uuidv7Ids } = require('../dist/lambda/core/ids.js');
const { loadConfig } = require('../dist/shared/config.js');

const { values: args } = parseArgs({ options: { requests: { type: 'string', default: '300' } } });
const REQUESTS = Number(args.requests);
const STORE_MS = 6;
const ARCHIVE_MS = 10;
const ISSUER = 'https://idp.bench.example';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function config(rateLimits) {
  return loadConfig({
    issuers: [{ id: 'corp', issuer: ISSUER, audiences: 'embedgate', jwksUri: `${ISSUER}/jwks` }],
    models: [{ name: 'small', provider: 'local', dimensions: 8 }],
    policy: { rules: [{ id: 'all', effect: 'allow', ...(rateLimits ? { rateLimits } : {}) }] },
    masking: { enabled: true },
  });
}
const LIMITS = { requestsPerMinute: 10_000_000, tokensPerMinute: 1_000_000_000, maxInFlight: 1000 };
const principal = {
  issuerId: 'corp',
  issuer: ISSUER,
  subject: 'svc-bench',
  clientId: null,
  groups: [],
  scopes: [],
  tokenId: null,
  expiresAt: null,
};
const provider = {
  kind: 'bench',
  embed: async (call) => ({
    vectors: call.input.map(() => Float32Array.of(0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5)),
    usage: { promptTokens: 512 * call.input.length, totalTokens: 512 * call.input.length },
    upstream: { status: 200, latencyMs: 0, attempts: 1, batches: 1 },
  }),
};
const archive = { put: async (r) => (JSON.stringify(r), await sleep(ARCHIVE_MS), { key: r.session_id }) };
const words = 'the quarterly report lists revenue by region and the forecast for next year with notes from finance '.split(' ');
const text = (bytes, seed) => {
  let s = '';
  for (let i = seed; s.length < bytes; i++) s += `${words[i % words.length]} `;
  return s.slice(0, bytes);
};

/** The limits stage with its calls made one after another instead of overlapped (for comparison). */
function sequential(limiter) {
  return {
    admit: async (req) => {
      const a = await limiter.admit(req);
      return a && { settle: async (used) => (await sleep(ARCHIVE_MS), a.settle(used)) };
    },
  };
}

function gatewayFor(mode) {
  const cfg = config(mode === 'off' ? null : LIMITS);
  const store = new InMemoryLimitStore({ latencyMs: STORE_MS });
  const limiter = mode === 'off' ? undefined : new RateLimiter({ config: cfg, store, clock: systemClock });
  const masker = lazyMasker(cfg, { secrets: { get: async () => 'unused' } });
  const gw = new Gateway({
    config: cfg,
    verifier: { verify: async () => principal },
    provider: () => provider,
    revocations: new InMemoryRevocationList(),
    archive,
    // Sequential: the mask runs after the check (the check's promise is awaited before masking starts).
    masker:
      mode === 'sequential'
        ? async () => {
            const m = await masker();
            return { ...m, maskItems: async (...a) => (await gate, m.maskItems(...a)) };
          }
        : masker,
    clock: systemClock,
    ids: uuidv7Ids(systemClock),
    ...(limiter ? { limits: mode === 'sequential' ? wrapGate(sequential(limiter)) : limiter } : {}),
  });
  return { gw, store };
}
// In sequential mode masking waits for the admission (set per request).
let gate = Promise.resolve();
function wrapGate(l) {
  return { admit: (req) => ((gate = l.admit(req)), gate) };
}

async function run(mode, items) {
  const { gw, store } = gatewayFor(mode);
  const body = JSON.stringify({ model: 'small', input: Array.from({ length: items }, (_, i) => text(2048, i)) });
  const req = {
    method: 'POST',
    path: '/v1/embeddings',
    headers: { authorization: 'Bearer t' },
    rawQueryString: '',
    body,
    isBase64Encoded: false,
    requestId: null,
    sourceIp: null,
  };
  for (let i = 0; i < 20; i++) await gw.handle(req); // warm up
  const calls0 = store.calls;
  const times = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    const h = await gw.handle(req);
    times.push(performance.now() - t0);
    if (h.response.status !== 200) throw new Error(`bench: ${mode} answered ${h.response.status}: ${h.response.body}`);
  }
  times.sort((a, b) => a - b);
  return {
    p50: times[Math.floor(times.length / 2)],
    p99: times[Math.floor(times.length * 0.99)],
    calls: (store.calls - calls0) / REQUESTS,
  };
}

console.log(`bench/limits.mjs: ${REQUESTS} requests per case; store stand-in ${STORE_MS} ms per call, archive stand-in ${ARCHIVE_MS} ms`);
console.log(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}`);
console.log(
  '| input | mode | p50 ms | p99 ms | added p50 ms | store calls / request (the check before masking ends; the release alongside the archive write) |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const items of [1, 64]) {
  const off = await run('off', items);
  for (const mode of ['off', 'overlapped', 'sequential']) {
    const r = mode === 'off' ? off : await run(mode, items);
    console.log(
      `| ${items} x 2 KB | ${mode} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.p50 - off.p50).toFixed(2)} | ${r.calls.toFixed(2)} |`,
    );
  }
}
