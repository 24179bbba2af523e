// Records that keep the input (issue 23): what keeping the masked text costs the archive at scale.
// The stand-ins of bench/journal.mjs (bench/support/journal-stand-ins.mjs): the real core from
// dist/, an upstream stand-in of UPSTREAM ms timed per call, the real DynamoDbJournal and
// DynamoDBClient whose HTTP handler answers PutItem after DDB ms, the real compactor handler; run
// with recording.inputText "omit" and "keep" on bodies of realistic text: word salad
// from a 2,000-word vocabulary (it compresses like prose, about 2.5-3x, unlike repeated text).
//  1. added latency over the upstream alone, per body shape and mode;
//  2. record size: JSON, the journal item (gzip level 1) against DynamoDB's 400 KB item limit;
//  3. the compactor over stream batches cut as Lambda cuts them (WINDOW s, 10,000 records, 6 MB of
//     payload), objects per 100 records and S3 requests per million (goals of issue 16: <= 1 and <= 20,000).
//
// Usage: npm run build && node bench/journal-text.mjs [--upstream 150] [--ddb 6] [--requests 200] [--concurrency 4]
//          [--rate 20] [--minutes 10] [--keep-minutes 2] [--window 60]
// (--keep-minutes: simulated minutes of the compactor run with text kept: 130 KB records make it slow)
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { benchConfig, ddbClient, principal, providerOf, quantiles, service, upstreamTook } from './support/journal-stand-ins.mjs';

const require = createRequire(import.meta.url);
const { Gateway } = require('../dist/lambda/core/gateway.js');
const { InMemoryRevocationList } = require('../dist/lambda/adapters/local/revocations.js');
const { DynamoDbJournal, journalItem } = require('../dist/lambda/adapters/aws/dynamodb-journal.js');
const { createCompactorHandler } = require('../dist/lambda/handlers/compactor.js');
const { systemClock, uuidv7Ids } = require('../dist/lambda/core/ids.js');
const { sealRecord } = require('../dist/lambda/core/record.js');
const { loadConfig } = require('../dist/shared/config.js');
const { lazyMasker } = require('../dist/lambda/core/masking/runtime.js');

const { values } = parseArgs({
  options: {
    upstream: { type: 'string', default: '150' },
    ddb: { type: 'string', default: '6' },
    requests: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    rate: { type: 'string', default: '20' },
    minutes: { type: 'string', default: '10' },
    'keep-minutes': { type: 'string', default: '2' },
    window: { type: 'string', default: '60' },
  },
});
const UPSTREAM = Number(values.upstream);
const DDB_MS = Number(values.ddb);
const N = Number(values.requests);
const C = Number(values.concurrency);
const RATE = Number(values.rate);
const MINUTES = Number(values.minutes);
const KEEP_MINUTES = Number(values['keep-minutes']);
const WINDOW_S = Number(values.window);

// Deterministic pseudo-random words (xorshift), so runs compare.
let seed = 0x9e3779b9;
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};
const letters = 'etaoinshrdlcumwfgypbvkjxqz';
const vocabulary = Array.from({ length: 2000 }, () =>
  Array.from({ length: 2 + Math.floor(rand() * 8) }, () => letters[Math.floor(Math.abs(Math.log(rand() + 1e-9)) * 6) % 26]).join(''),
);
const text = (bytes) => {
  let t = '';
  while (t.length < bytes) t += `${vocabulary[Math.floor(rand() ** 2 * vocabulary.length)]}${rand() < 0.08 ? '. ' : ' '}`;
  return t.slice(0, bytes);
};

const configFor = (inputText) =>
  loadConfig(benchConfig({ masking: { enabled: true, strategies: { EMAIL: 'redact' } }, recording: { inputText } }));

/** The journal items PutItem carried (their `record.B` is base64, as on the wire). */
const items = [];
const ddbStandIn = ddbClient(() => service(DDB_MS), items);

let seq = 0;
async function run(inputText, bodies) {
  const config = configFor(inputText);
  const gateway = new Gateway({
    config,
    verifier: { verify: async () => principal },
    provider: () => providerOf(UPSTREAM),
    archive: new DynamoDbJournal(ddbStandIn, { tableName: 'journal' }),
    revocations: new InMemoryRevocationList(),
    clock: systemClock,
    ids: uuidv7Ids(systemClock),
    masker: lazyMasker(config, { secrets: { get: async () => 'unused' } }),
  });
  const added = [];
  const records = [];
  let next = 0;
  const worker = async () => {
    while (next < N) {
      const user = `r${++seq}`;
      const body = JSON.stringify({ ...bodies[next++ % bodies.length], user });
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
      if (h.response.status !== 200) throw new Error(`status ${h.response.status}: ${h.response.body}`);
      added.push(performance.now() - t0 - upstreamTook.get(user));
      upstreamTook.delete(user);
      records.push(h.record);
    }
  };
  await Promise.all(Array.from({ length: C }, worker));
  const { p50, p99 } = quantiles(added);
  return { p50, p99, records };
}

/** The compactor over stream batches cut as Lambda cuts them (window, 10,000 records, 6 MB). */
async function compact(sampleRecords, minutes) {
  const t0 = Date.parse('2026-03-01T05:30:00.000Z');
  const total = RATE * 60 * minutes;
  let puts = 0;
  let bytes = 0;
  const counting = {
    location: 'stand-in',
    list: async function* () {},
    get: async () => null,
    async create(_key, body) {
      puts++;
      bytes += body.byteLength;
    },
  };
  const compactor = createCompactorHandler(counting, { info() {}, error() {} });
  const perWindow = Math.min(RATE * WINDOW_S, 10_000);
  let jsonBytes = 0;
  let batches = 0;
  let batch = [];
  let payload = 0;
  let inWindow = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    batches++;
    await compactor({ Records: batch });
    batch = [];
    payload = 0;
  };
  for (let i = 0; i < total; i++) {
    const at = new Date(t0 + Math.floor((i * 1000) / RATE)).toISOString();
    const r = sealRecord({
      ...sampleRecords[i % sampleRecords.length],
      session_id: `0190f000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      started_at: at,
      ended_at: at,
    });
    const item = journalItem(r, 0);
    const size = item.record.B.length * 1.37 + 200; // base64 in the event, plus the other attributes
    if (payload + size > 6_000_000) await flush(); // Lambda cuts the batch at 6 MB
    jsonBytes += JSON.stringify(r).length + 1;
    batch.push({
      eventName: 'INSERT',
      dynamodb: {
        NewImage: Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v.B ? { B: Buffer.from(v.B).toString('base64') } : v])),
      },
    });
    payload += size;
    if (++inWindow === perWindow) {
      inWindow = 0;
      await flush();
    }
  }
  await flush();
  return { total, puts, bytes, jsonBytes, batches };
}

const shapes = [
  { name: '2 items of 40 B', bodies: [{ model: 'm', input: ['hello world, a short one', 'and another short item'] }] },
  {
    name: '8 items of 1 KB',
    bodies: Array.from({ length: 20 }, () => ({ model: 'm', input: Array.from({ length: 8 }, () => text(1024)) })),
  },
  {
    name: '64 items of 2 KB',
    bodies: Array.from({ length: 20 }, () => ({ model: 'm', input: Array.from({ length: 64 }, () => text(2048)) })),
  },
  {
    name: '200 items of 2 KB (past the 256 KiB budget)',
    bodies: Array.from({ length: 5 }, () => ({ model: 'm', input: Array.from({ length: 200 }, () => text(2048)) })),
  },
];

console.log(
  `embedgate records with the input kept: upstream ${UPSTREAM} ms, DynamoDB PutItem ${DDB_MS} ms (+-15 %, 1 % at 2.5x); ${N} requests at concurrency ${C}; masking on (built-in detectors)`,
);
const f = (x, w = 6, d = 1) => x.toFixed(d).padStart(w);
for (const shape of shapes) {
  for (const mode of ['omit', 'keep']) {
    items.length = 0;
    const r = await run(mode, shape.bodies);
    const json = r.records.map((x) => Buffer.byteLength(JSON.stringify(x)));
    const item = items.map((x) => Buffer.from(x.record.B, 'base64').length);
    const maxItem = Math.max(...item);
    const kept = r.records[0].input.kept;
    console.log(
      `  ${shape.name.padEnd(44)} ${mode.padEnd(4)}: added p50 ${f(r.p50)} ms, p99 ${f(r.p99)} ms; record ${f(json.reduce((a, b) => a + b, 0) / json.length / 1024, 7)} KiB JSON, journal item max ${f(maxItem / 1024, 6)} KiB gzip (limit 400 KB: ${maxItem + 1024 < 400_000 ? 'ok' : 'OVER'}); input.kept ${kept}`,
    );
    shape[mode] = r.records;
  }
}

for (const [shape, label] of [
  [shapes[2], 'omit'],
  [shapes[1], 'keep'],
  [shapes[2], 'keep'],
]) {
  const minutes = label === 'keep' ? KEEP_MINUTES : MINUTES;
  const c = await compact(shape[label], minutes);
  const perHundred = (c.puts / c.total) * 100;
  const s3PerMillion = (c.puts / c.total) * 1e6 + ((24 * 2) / (RATE * 86_400)) * 1e6;
  console.log(
    `  compactor, ${shape.name}, ${label}: ${c.total} records at ${RATE} req/s over ${minutes} min (window ${WINDOW_S} s, 6 MB batches: ${c.batches} batches): ${c.puts} objects (${perHundred.toFixed(3)} per 100 records; goal <= 1: ${perHundred <= 1 ? 'PASS' : 'MISS'}); S3 requests per million ${Math.round(s3PerMillion).toLocaleString('en-US')} (goal <= 20,000: ${s3PerMillion <= 20_000 ? 'PASS' : 'MISS'}); ${(c.jsonBytes / c.total / 1024).toFixed(1)} KiB JSON, ${(c.bytes / c.total / 1024).toFixed(1)} KiB in batches per record (${(c.jsonBytes / c.bytes).toFixed(1)}x)`,
  );
}
const sampleText = text(1 << 20);
console.log(
  `  the generated text compresses ${(sampleText.length / gzipSync(sampleText, { level: 6 }).length).toFixed(2)}x with gzip level 6`,
);
