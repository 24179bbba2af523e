// The archive at scale (issue 16), AWS-shaped, in one run with the same stand-ins:
//  1. added latency over the upstream alone: the real core (`Gateway.handle`, dist/) with an
//     upstream stand-in of UPSTREAM ms, and either the old archive (one S3 PUT per record, S3 ms)
//     or the journal (the real DynamoDbJournal, its client a stand-in answering PutItem after DDB ms);
//  2. objects per 100 records and S3 requests per million requests: the real compactor handler
//     (`handlers/compactor.js`) fed stream batches as Lambda would cut them (batching window
//     WINDOW s, at most 10,000 records, Lambda's 6 MB payload) from RATE requests/s for MINUTES of
//     simulated time, writing through an ArchiveObjects stand-in that counts PUTs (S3 ms each).
//
// Usage: npm run build && node bench/journal.mjs [--upstream 150] [--s3 30] [--ddb 6] [--requests 200]
//          [--concurrency 4] [--rate 20] [--minutes 10] [--window 60]
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { Gateway } = require('../dist/lambda/core/gateway.js');
const { InMemoryRevocationList } = require('../dist/lambda/adapters/local/revocations.js');
const { DynamoDbJournal, journalItem } = require('../dist/lambda/adapters/aws/dynamodb-journal.js');
const { createCompactorHandler } = require('../dist/lambda/handlers/compactor.js');
const { systemClock, uuidv7Ids } = require('../dist/lambda/core/ids.js');
const { sealRecord } = require('../dist/lambda/core/record.js');
const { loadConfig } = require('../dist/shared/config.js');

const { values } = parseArgs({
  options: {
    upstream: { type: 'string', default: '150' },
    s3: { type: 'string', default: '30' },
    ddb: { type: 'string', default: '6' },
    requests: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    rate: { type: 'string', default: '20' },
    minutes: { type: 'string', default: '10' },
    window: { type: 'string', default: '60' },
  },
});
const UPSTREAM = Number(values.upstream);
const S3_MS = Number(values.s3);
const DDB_MS = Number(values.ddb);
const N = Number(values.requests);
const C = Number(values.concurrency);
const RATE = Number(values.rate);
const MINUTES = Number(values.minutes);
const WINDOW_S = Number(values.window);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A service time around `ms`: +-15 % uniform, and 1 % of calls 2.5x (a slow tail). */
const service = (ms) => ms * (0.85 + Math.random() * 0.3) * (Math.random() < 0.01 ? 2.5 : 1);

const principal = {
  issuerId: 'corp',
  issuer: 'https://idp.example',
  subject: 'svc',
  clientId: 'svc',
  groups: ['g'],
  scopes: [],
  tokenId: 'jti-1',
  expiresAt: null,
};
const config = loadConfig({
  issuers: [{ id: 'corp', issuer: principal.issuer, audiences: 'embedgate', jwksUri: 'https://idp.example/jwks' }],
  models: [{ name: 'm', provider: 'local', dimensions: 8 }],
  policy: { rules: [{ id: 'all', effect: 'allow' }] },
});
const provider = {
  kind: 'stand-in',
  async embed(call) {
    await sleep(UPSTREAM);
    return {
      vectors: call.input.map(() => new Float32Array(8)),
      usage: { promptTokens: 1, totalTokens: 1 },
      upstream: { status: 200, latencyMs: UPSTREAM, attempts: 1, batches: 1 },
    };
  },
};

async function latency(archive) {
  const gateway = new Gateway({
    config,
    verifier: { verify: async () => principal },
    provider: () => provider,
    archive,
    revocations: new InMemoryRevocationList(),
    clock: systemClock,
    ids: uuidv7Ids(systemClock),
  });
  const body = JSON.stringify({ model: 'm', input: ['hello', 'world'] });
  const added = [];
  let next = 0;
  const worker = async () => {
    while (next++ < N) {
      const t0 = performance.now();
      const h = await gateway.handle({
        method: 'POST',
        path: '/v1/embeddings',
        headers: { authorization: 'Bearer t' },
        rawQueryString: '',
        body,
        isBase64Encoded: false,
        requestId: null,
        sourceIp: null,
      });
      if (h.response.status !== 200) throw new Error(`status ${h.response.status}`);
      added.push(performance.now() - t0 - UPSTREAM);
    }
  };
  await Promise.all(Array.from({ length: C }, worker));
  added.sort((a, b) => a - b);
  const q = (p) => added[Math.min(added.length - 1, Math.floor(p * added.length))];
  return { p50: q(0.5), p99: q(0.99) };
}

const items = [];
const ddbStandIn = {
  async send(cmd) {
    await sleep(service(DDB_MS));
    items.push(cmd.input.Item);
    return {};
  },
};
const oldArchive = {
  async put(r) {
    await sleep(service(S3_MS));
    return { key: r.session_id };
  },
};

console.log(
  `embedgate archive at scale: upstream ${UPSTREAM} ms, S3 PUT ${S3_MS} ms, DynamoDB PutItem ${DDB_MS} ms (+-15 %, 1 % at 2.5x); ${N} requests at concurrency ${C}`,
);
const floor = await latency({ put: async (r) => ({ key: r.session_id }) });
const before = await latency(oldArchive);
const after = await latency(new DynamoDbJournal(ddbStandIn, { tableName: 'journal' }));
const f = (x) => x.toFixed(1).padStart(5);
console.log(`  floor: no archive write at all (timers, core)   : added p50 ${f(floor.p50)} ms, p99 ${f(floor.p99)} ms`);
console.log(`  old: one S3 PUT per record in the request : added p50 ${f(before.p50)} ms, p99 ${f(before.p99)} ms`);
console.log(
  `  new: DynamoDB journal (conditional PutItem): added p50 ${f(after.p50)} ms, p99 ${f(after.p99)} ms  (goal p50 <= 8, p99 <= 20: ${after.p50 <= 8 && after.p99 <= 20 ? 'PASS' : 'MISS'}; ratio p50 ${(after.p50 / before.p50).toFixed(2)}x)`,
);

// 2. Objects per record: the compactor over simulated stream batches.
const sample = items[0];
const t0 = Date.parse('2026-03-01T05:30:00.000Z');
const total = RATE * 60 * MINUTES;
const recordOf = (i) => {
  const at = new Date(t0 + Math.floor((i * 1000) / RATE)).toISOString();
  const base = JSON.parse(require('node:zlib').gunzipSync(sample.record.B).toString('utf8'));
  return sealRecord({ ...base, session_id: `0190f000-0000-7000-8000-${String(i).padStart(12, '0')}`, started_at: at, ended_at: at });
};
let puts = 0;
let bytes = 0;
const counting = {
  location: 'stand-in',
  list: async function* () {},
  get: async () => null,
  async create(_key, body) {
    await sleep(service(S3_MS));
    puts++;
    bytes += body.byteLength;
  },
};
const compactor = createCompactorHandler(counting, { info() {}, error() {} });
const perWindow = RATE * WINDOW_S;
let records = 0;
let jsonBytes = 0;
for (let start = 0; start < total; start += Math.min(perWindow, 10_000)) {
  const batch = [];
  let payload = 0;
  for (let i = start; i < Math.min(total, start + Math.min(perWindow, 10_000)); i++) {
    const r = recordOf(i);
    const item = journalItem(r, 0);
    payload += item.record.B.length * 1.37 + 200; // base64 in the event, plus the other attributes
    if (payload > 6_000_000) throw new Error('a stream batch over 6 MB: lower --window');
    jsonBytes += JSON.stringify(r).length + 1;
    batch.push({
      eventName: 'INSERT',
      dynamodb: {
        NewImage: Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v.B ? { B: Buffer.from(v.B).toString('base64') } : v])),
      },
    });
  }
  records += batch.length;
  await compactor({ Records: batch });
}
const perHundred = (puts / records) * 100;
console.log(
  `  compactor: ${records} records at ${RATE} req/s over ${MINUTES} min, window ${WINDOW_S} s: ${puts} objects (${perHundred.toFixed(3)} per 100 records; goal <= 1: ${perHundred <= 1 ? 'PASS' : 'MISS'}), ${(bytes / 1e6).toFixed(2)} MB gzip of ${(jsonBytes / 1e6).toFixed(2)} MB JSON (${(jsonBytes / bytes).toFixed(1)}x)`,
);
const digestsPerMillion = ((24 * 2) / (RATE * 86_400)) * 1e6; // hourly digest: a PUT and a LIST per hour
const s3PerMillion = (puts / records) * 1e6 + digestsPerMillion;
console.log(
  `  S3 requests per million embedding requests: new ${Math.round(s3PerMillion).toLocaleString('en-US')} (batches + hourly digests; goal <= 20,000: ${s3PerMillion <= 20_000 ? 'PASS' : 'MISS'}); old ${Math.round(1e6 + digestsPerMillion).toLocaleString('en-US')} (one PUT per record)`,
);
console.log(`  mean record: ${(jsonBytes / records).toFixed(0)} B JSON, ${(bytes / records).toFixed(0)} B compressed in batches`);
