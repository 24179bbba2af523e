/**
 * `embedgate dev`'s count of requests in flight (with one, the file archive writes a record on
 * the event loop's thread; with more, through the thread pool): it must come back to zero however
 * a request ends, or inline writes would stop (a leak) or block other requests (an undercount).
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLocalArchive } from '../../cli/archive-reader';
import { startDevServer, type DevServer } from '../../cli/dev-server';
import { loadConfig } from '../../shared/config';
import { startFakeUpstream } from '../support/fake-upstream';
import { generateTestKey, signToken, startJwksServer } from '../support/jwks';

let dir: string;
let server: DevServer;
let port: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'embedgate-dev-inflight-'));
  const config = loadConfig({
    issuers: [{ id: 'corp', issuer: 'https://idp.example.com', audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
    models: [{ name: 'small', provider: 'local', dimensions: 8 }],
    policy: { rules: [{ id: 'all', effect: 'allow', models: ['*'] }] },
  });
  server = await startDevServer({ config, archiveDir: dir, port: 0, notifyApproval: () => undefined });
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * The count once it has stayed at zero for 200 ms (Node answers pipelined requests one after
 * another, so zero between two of them is not the end), or whatever it is after 10 s.
 */
const settled = async () => {
  let zeroSince = Date.now();
  for (const end = Date.now() + 10_000; Date.now() < end;) {
    if (server.requestsInFlight() !== 0) zeroSince = Date.now();
    else if (Date.now() - zeroSince >= 200) return 0;
    await new Promise((r) => setTimeout(r, 10));
  }
  return server.requestsInFlight();
};
const records = async () => (await readLocalArchive(dir)).length;
const rawSocket = async (): Promise<Socket> => {
  const s = connect(port, '127.0.0.1');
  await once(s, 'connect');
  return s;
};
const POST = (body: string) =>
  `POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

it('an ordinary request: none in flight after its answer, and its record written', async () => {
  const before = await records();
  const res = await fetch(`${server.url}/v1/embeddings`, {
    method: 'POST',
    body: '{"model":"small","input":"x"}',
    headers: { 'content-type': 'application/json' },
  });
  expect(res.status).toBe(401);
  await res.text();
  expect(await settled()).toBe(0);
  expect(await records()).toBe(before + 1);
});

it('pipelined requests on a connection the client closes at once: none left in flight', async () => {
  const s = await rawSocket();
  const body = '{"model":"small","input":"x"}';
  s.write(POST(body) + POST(body) + POST(body));
  // Node answers pipelined requests one at a time: closing while the first is being handled
  // leaves the others parsed but never answered.
  await new Promise((r) => setImmediate(r));
  s.destroy();
  expect(await settled()).toBe(0);
});

it('a request whose body never completes (the client aborts): none left in flight', async () => {
  const s = await rawSocket();
  s.write('POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":');
  await new Promise((r) => setTimeout(r, 50));
  expect(server.requestsInFlight()).toBe(1);
  s.destroy();
  expect(await settled()).toBe(0);
});

it('a request the HTTP parser refuses (recorded at the edge): none left in flight', async () => {
  const before = await records();
  const s = await rawSocket();
  s.resume();
  s.write('NOT A REQUEST\r\n\r\n');
  await once(s, 'close');
  expect(await settled()).toBe(0);
  expect(await records()).toBe(before + 1);
});

it('headers too large for the parser, arriving in several chunks: one 431 answer and one record', async () => {
  const before = await records();
  const s = await rawSocket();
  let answer = '';
  s.on('data', (d: Buffer) => (answer += d.toString()));
  s.write(`GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n`);
  await new Promise((r) => setTimeout(r, 30));
  if (!s.destroyed) s.write(`X-More: ${'b'.repeat(40_000)}\r\n\r\n`);
  await Promise.race([once(s, 'close'), new Promise((r) => setTimeout(r, 3000))]);
  s.destroy();
  expect(answer.match(/^HTTP\/1\.1 431 /gm)).toHaveLength(1);
  expect(await settled()).toBe(0);
  expect((await records()) - before).toBe(1);
});

describe('--function-timeout: a hanging upstream under a short function timeout', () => {
  it('answers 504 deadline_exceeded before the function would time out, with one record', async () => {
    const upstream = await startFakeUpstream();
    upstream.setBehaviour({ kind: 'hang' });
    const key = await generateTestKey('RS256');
    const jwks = await startJwksServer({ keys: [key] });
    const hangDir = await mkdtemp(join(tmpdir(), 'embedgate-dev-deadline-'));
    const config = loadConfig({
      issuers: [{ id: 'corp', issuer: jwks.issuer, audiences: 'embedgate', jwksUri: jwks.jwksUri, algorithms: ['RS256'] }],
      models: [
        {
          name: 'remote',
          provider: 'openai-compatible',
          baseUrl: upstream.url,
          apiKey: { source: 'env', name: 'UPSTREAM_KEY' },
          // 60 s x 3 attempts: far past the function's 4 s; the deadline cuts it.
          upstream: { timeoutMs: 60_000, maxRetries: 2 },
        },
      ],
      policy: { rules: [{ id: 'all', effect: 'allow', models: ['*'] }] },
    });
    const dev = await startDevServer({ config, archiveDir: hangDir, port: 0, env: { UPSTREAM_KEY: 'k' }, functionTimeoutSeconds: 4 });
    try {
      const now = Math.floor(Date.now() / 1000);
      const token = await signToken(key, { iss: jwks.issuer, aud: 'embedgate', sub: 'svc', iat: now, exp: now + 600 });
      const t0 = Date.now();
      const res = await fetch(`${dev.url}/v1/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"model":"remote","input":"x"}',
      });
      const took = Date.now() - t0;
      expect(res.status).toBe(504);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_timeout');
      // The function's 4 s less the 2.5 s reserve: answered after about 1.5 s, well within 4 s.
      expect(took).toBeGreaterThanOrEqual(1_300);
      expect(took).toBeLessThan(4_000);
      expect(upstream.requests).toHaveLength(1);
      const records = await readLocalArchive(hangDir);
      expect(records).toHaveLength(1);
      expect(records[0]!.decision).toMatchObject({ status: 504, reason: 'deadline_exceeded' });
    } finally {
      await dev.close();
      await upstream.close();
      await jwks.stop();
      await rm(hangDir, { recursive: true, force: true });
    }
  }, 30_000);
});
