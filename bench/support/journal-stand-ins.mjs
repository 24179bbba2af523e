// The stand-ins the archive benches share (bench/journal.mjs, bench/journal-text.mjs): timers with a
// realistic spread, the upstream stand-in that times each call (so "added" is measured over the
// call itself, not over its nominal latency), and the real DynamoDBClient with a stand-in HTTP
// handler (so the SDK's own work, serialisation, SigV4 and parsing, is in the measurement).
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

const require = createRequire(import.meta.url);
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A service time around `ms`: +-15 % uniform, and 1 % of calls 2.5x (a slow tail). */
export const service = (ms) => ms * (0.85 + Math.random() * 0.3) * (Math.random() < 0.01 ? 2.5 : 1);
export const quantiles = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: q(0.5), p99: q(0.99), n: s.length };
};

export const principal = {
  issuerId: 'corp',
  issuer: 'https://idp.example',
  subject: 'svc',
  clientId: 'svc',
  groups: ['g'],
  scopes: [],
  tokenId: 'jti-1',
  expiresAt: null,
};
/** The configuration document of the benches: one issuer, one local model of 8 dimensions, allow all; `extra` merged in. */
export const benchConfig = (extra = {}) => ({
  issuers: [{ id: 'corp', issuer: principal.issuer, audiences: 'embedgate', jwksUri: 'https://idp.example/jwks' }],
  models: [{ name: 'm', provider: 'local', dimensions: 8 }],
  policy: { rules: [{ id: 'all', effect: 'allow' }] },
  ...extra,
});

/** How long each request's upstream call really took (by the request's `user`): "added" is measured over it. */
export const upstreamTook = new Map();
export const providerOf = (ms) => ({
  kind: 'stand-in',
  async embed(call) {
    const t0 = performance.now();
    if (ms > 0) await sleep(ms);
    if (call.user) upstreamTook.set(call.user, performance.now() - t0);
    return {
      vectors: call.input.map(() => new Float32Array(8)),
      usage: { promptTokens: 1, totalTokens: 1 },
      upstream: { status: 200, latencyMs: ms, attempts: 1, batches: 1 },
    };
  },
});

/** The real DynamoDBClient whose HTTP handler answers every call after `ms()` (no network); each PutItem's item goes into `items`. */
export const ddbClient = (ms, items) =>
  new DynamoDBClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret' },
    requestHandler: {
      async handle(req) {
        const t = ms();
        if (t > 0) await sleep(t);
        const input = JSON.parse(typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body));
        if (input.Item) items.push(input.Item);
        return {
          response: {
            statusCode: 200,
            headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'bench' },
            body: Readable.from([Buffer.from('{}')]),
          },
        };
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
    },
  });
