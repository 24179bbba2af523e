/** Cohere's embed API v2 through the shared HTTP provider, against a local stand-in. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProvider } from '../../lambda/providers';
import { COHERE_MAX_TEXTS } from '../../lambda/providers/cohere';
import { instantDeps, modelConfig, UPSTREAM_KEY } from './fixtures';

interface Seen {
  url: string;
  auth: string | undefined;
  body: { model: string; texts: string[]; input_type: string; embedding_types: string[]; output_dimension?: number };
}
let server: Server;
let baseUrl: string;
const seen: Seen[] = [];
let answer: (body: Seen['body']) => { status: number; json: unknown } = (b) => ({
  status: 200,
  json: {
    id: 'x',
    embeddings: { float: b.texts.map((t) => [t.length, 1, 2]) },
    meta: { billed_units: { input_tokens: b.texts.length * 2 } },
  },
});

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as Seen['body'];
      seen.push({ url: req.url!, auth: req.headers.authorization, body });
      const a = answer(body);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.json));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => (seen.length = 0));

const cohere = () =>
  createProvider(
    modelConfig({ name: 'embed-english-v3.0', provider: 'cohere', baseUrl, upstream: { maxBatchSize: 2048, concurrency: 2 } }),
    instantDeps(),
  );

test('sends Cohere v2 requests with the bearer key and reads float embeddings in order, with usage', async () => {
  const texts = Array.from({ length: 200 }, (_, i) => 'x'.repeat(i + 1));
  const r = await cohere().embed({ input: texts });
  expect(seen.map((s) => s.body.texts.length)).toEqual([COHERE_MAX_TEXTS, COHERE_MAX_TEXTS, 8]);
  expect(seen[0]).toMatchObject({
    url: '/v2/embed',
    auth: `Bearer ${UPSTREAM_KEY}`,
    body: { model: 'embed-english-v3.0', input_type: 'search_document', embedding_types: ['float'] },
  });
  expect(r.vectors.map((v) => v[0])).toEqual(texts.map((t) => t.length));
  expect(r.usage).toEqual({ promptTokens: 400, totalTokens: 400 });
  expect(r.upstream).toMatchObject({ batches: 3, attempts: 3, status: 200 });
});

test('passes dimensions as output_dimension', async () => {
  answer = (b) => ({ status: 200, json: { embeddings: { float: b.texts.map(() => [1, 2]) } } });
  await cohere().embed({ input: ['a'], dimensions: 2 });
  expect(seen[0]!.body.output_dimension).toBe(2);
});

test('refuses token ids before any call', async () => {
  await expect(cohere().embed({ input: [[1, 2, 3]] })).rejects.toMatchObject({ status: 400, code: 'tokens_not_supported', param: 'input' });
  expect(seen).toHaveLength(0);
});

test('a malformed answer is a 502 upstream_invalid_response', async () => {
  answer = () => ({ status: 200, json: { embeddings: { int8: [[1]] } } });
  await expect(cohere().embed({ input: ['a'] })).rejects.toMatchObject({ status: 502, reason: 'upstream_invalid_response' });
  answer = () => ({ status: 200, json: { embeddings: { float: [[1], [2]] } } });
  await expect(cohere().embed({ input: ['a'] })).rejects.toMatchObject({ status: 502, reason: 'upstream_invalid_response' });
});
