/** The providers' node:http transport against local node:http / node:https servers. */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { MAX_RESPONSE_BYTES, nodeHttpFetch, nodeHttpFetchWithLimit, upstreamAgents } from '../../lambda/providers/node-http-fetch';

// A self-signed certificate for localhost / 127.0.0.1 (P-256, valid until 2126), made for this
// test only: `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
// -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1`.
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqpxDLklaHZizScbw
JqejrnHu2cq84bZe4q4aM/VxOo6hRANCAASF/flh/cRKpuPeh2hyOzzEFVy7E0qZ
cK7RzVsWTI+jvgZl9u+IBg9+8nCctloEUEEXURdt+pam477NN3abcp1M
-----END PRIVATE KEY-----
`;
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUIn3LRyRHD+W6X+ABUn1OsN0x7vEwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyOTE2MjAzOVoYDzIxMjYxMTA1
MTYyMDM5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASF/flh/cRKpuPeh2hyOzzEFVy7E0qZcK7RzVsWTI+jvgZl9u+IBg9+
8nCctloEUEEXURdt+pam477NN3abcp1Mo28wbTAdBgNVHQ4EFgQUmtSoDwUvXiZl
RFd4jtUDNz5FhgAwHwYDVR0jBBgwFoAUmtSoDwUvXiZlRFd4jtUDNz5FhgAwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIgJWxSuF2S1QN9MKoI1V00jRQjMmsF1ngmagC1mxsML2wCIQCz
Lm6jFSKAi4N+pU6YB/2XDk7oga3VPUAU4lnyh3Hreg==
-----END CERTIFICATE-----
`;

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly socket: Socket;
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

let server: Server;
let origin: string;
let handler: Handler;
const seen: Seen[] = [];
const serverSockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        socket: req.socket,
      };
      seen.push(s);
      handler(req, res, s);
    });
  });
  server.on('connection', (s: Socket) => {
    serverSockets.add(s);
    s.on('close', () => serverSockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  upstreamAgents.http.destroy();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  seen.length = 0;
  handler = (_req, res) => res.end('{}');
});

/** Sockets the agent holds for the test server (in use and free). */
function agentSockets(): { inUse: number; free: number } {
  const port = new URL(origin).port;
  const count = (m: NodeJS.ReadOnlyDict<Socket[]>): number =>
    Object.entries(m)
      .filter(([name]) => name.includes(`:${port}:`))
      .reduce((n, [, list]) => n + (list?.length ?? 0), 0);
  return { inUse: count(upstreamAgents.http.sockets), free: count(upstreamAgents.http.freeSockets) };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  for (const end = Date.now() + ms; !cond();) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const post = (body = '{"input":"x"}', init: { signal?: AbortSignal; headers?: Record<string, string> } = {}) =>
  nodeHttpFetch(`${origin}/v1/embeddings?api-version=1`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', accept: 'application/json', ...init.headers },
    body,
    signal: init.signal,
    redirect: 'manual',
  });

describe('nodeHttpFetch', () => {
  it('sends method, path, headers and body; returns status, a real Headers and the text', async () => {
    handler = (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'retry-after': '3', 'x-multi': ['a', 'b'] });
      res.end('{"ok":"é"}');
    };
    const body = JSON.stringify({ input: 'héllo' });
    const res = await post(body);
    expect(res.status).toBe(201);
    expect(res.headers).toBeInstanceOf(Headers);
    expect(res.headers.get('Retry-After')).toBe('3');
    expect(res.headers.get('x-multi')).toBe('a, b');
    expect(await res.text()).toBe('{"ok":"é"}');
    await expect(res.text()).rejects.toThrow(TypeError);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/embeddings?api-version=1', body });
    expect(seen[0]!.headers).toMatchObject({
      'content-type': 'application/json',
      accept: 'application/json',
      'accept-encoding': 'gzip, deflate, br',
      'content-length': String(Buffer.byteLength(body)),
      connection: 'keep-alive',
    });
    expect(seen[0]!.headers['transfer-encoding']).toBeUndefined();
  });

  it('drops a UTF-8 BOM like Response.text()', async () => {
    handler = (_req, res) => res.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]));
    expect(await (await post()).text()).toBe('{"a":1}');
  });

  const json = JSON.stringify({ data: [{ index: 0, embedding: 'AAAA'.repeat(2000) }] });
  // Incompressible and above the synchronous-decoding limit (64 KiB compressed).
  const big = JSON.stringify({ data: randomBytes(120_000).toString('base64') });
  it.each([
    ['gzip', (b: Buffer) => gzipSync(b)],
    ['x-gzip', (b: Buffer) => gzipSync(b)],
    ['deflate', (b: Buffer) => deflateSync(b)],
    ['deflate (raw, as some servers send it)', (b: Buffer) => deflateRawSync(b)],
    ['br', (b: Buffer) => brotliCompressSync(b)],
  ])('decodes a %s body, small and large', async (name, compress) => {
    const coding = name.split(' ')[0]!;
    for (const text of [json, big]) {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-encoding': coding });
        res.end(compress(Buffer.from(text)));
      };
      expect(await (await post()).text()).toBe(text);
    }
  });

  it('decodes stacked codings in reverse order and passes an unknown coding through', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip, br' });
      res.end(brotliCompressSync(gzipSync(Buffer.from(json))));
    };
    expect(await (await post()).text()).toBe(json);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'zstd' });
      res.end('not really zstd');
    };
    expect(await (await post()).text()).toBe('not really zstd');
  });

  it('bounds the response body, raw and decoded (a compression bomb is refused, not inflated)', async () => {
    expect(MAX_RESPONSE_BYTES).toBe(256 * 1024 * 1024);
    const small = nodeHttpFetchWithLimit(64 * 1024);
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024)); // 8 MiB of zeros in about 8 KiB
    for (const [encoding, body] of [
      ['gzip', bomb],
      ['br', brotliCompressSync(Buffer.alloc(8 * 1024 * 1024))],
      ['deflate', deflateSync(Buffer.alloc(8 * 1024 * 1024))],
    ] as const) {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-encoding': encoding });
        res.end(body);
      };
      const res = await small(`${origin}/v1/embeddings`, { method: 'POST', body: '{}' });
      await expect(res.text()).rejects.toThrow();
    }
    handler = (_req, res) => {
      res.writeHead(200);
      res.end(Buffer.alloc(128 * 1024, 0x61));
    };
    const raw = await small(`${origin}/v1/embeddings`, { method: 'POST', body: '{}' });
    await expect(raw.text()).rejects.toThrow(/exceeds 65536 bytes/);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end(gzipSync(Buffer.alloc(32 * 1024, 0x61)));
    };
    expect((await (await small(`${origin}/v1/embeddings`, { method: 'POST', body: '{}' })).text()).length).toBe(32 * 1024);
  });

  it('rejects text() for a corrupt compressed body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-encoding': 'gzip' });
      res.end('this is not gzip');
    };
    const res = await post();
    await expect(res.text()).rejects.toThrow();
  });

  it('reads a chunked body (and resolves at the headers, before the body is complete)', async () => {
    let finishBody: (() => void) | undefined;
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"data":');
      res.flushHeaders();
      finishBody = () => {
        res.write('[1,2,');
        setTimeout(() => res.end('3]}'), 10);
      };
    };
    const res = await post();
    expect(res.status).toBe(200);
    expect(finishBody).toBeDefined();
    finishBody!();
    expect(await res.text()).toBe('{"data":[1,2,3]}');
    expect(seen).toHaveLength(1);
  });

  it('never follows a redirect: a 3xx comes back as it is', async () => {
    handler = (req, res) => {
      if (req.url!.startsWith('/elsewhere')) {
        res.end('followed');
        return;
      }
      res.writeHead(307, { location: `${origin}/elsewhere` });
      res.end('moved');
    };
    const res = await post();
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe(`${origin}/elsewhere`);
    expect(await res.text()).toBe('moved');
    expect(seen.map((s) => s.url)).toEqual(['/v1/embeddings?api-version=1']);
  });

  it('reuses one keep-alive socket for sequential requests', async () => {
    for (let i = 0; i < 3; i++) await (await post()).text();
    expect(seen).toHaveLength(3);
    expect(seen[1]!.socket).toBe(seen[0]!.socket);
    expect(seen[2]!.socket).toBe(seen[0]!.socket);
    await until(() => agentSockets().inUse === 0);
    expect(agentSockets().free).toBe(1);
  });

  it('an already aborted signal rejects at once, nothing is sent', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    const err = await post('{}', { signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError', cause: new Error('gone') });
    expect(seen).toHaveLength(0);
  });

  it('abort before the answer rejects with an AbortError and destroys the socket', async () => {
    handler = () => undefined; // never answers
    const controller = new AbortController();
    const pending = post('{}', { signal: controller.signal });
    await until(() => seen.length === 1);
    controller.abort(new DOMException('upstream attempt timed out', 'TimeoutError'));
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DOMException);
    expect(err).toMatchObject({ name: 'AbortError', cause: { name: 'TimeoutError' } });
    await until(() => seen[0]!.socket.destroyed && agentSockets().inUse === 0);
  });

  it('abort mid-response rejects text() and destroys the socket', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('{"data":[');
    };
    const controller = new AbortController();
    const res = await post('{}', { signal: controller.signal });
    expect(res.status).toBe(200);
    const text = res.text();
    controller.abort();
    await expect(text).rejects.toMatchObject({ name: 'AbortError' });
    await until(() => seen[0]!.socket.destroyed && agentSockets().inUse === 0);
  });

  it('a connection reset before the answer rejects (a network error)', async () => {
    handler = (req) => req.socket.destroy();
    await expect(post()).rejects.toMatchObject({ code: 'ECONNRESET' });
    await until(() => agentSockets().inUse === 0);
  });

  it('a connection reset mid-body rejects text()', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('{"data":[', () => setTimeout(() => req.socket.destroy(), 10));
    };
    const res = await post();
    await expect(res.text()).rejects.toThrow();
    await until(() => agentSockets().inUse === 0);
  });

  it('a refused connection rejects (a network error)', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await new Promise((r) => closed.once('listening', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(nodeHttpFetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}' })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });

  it('an invalid header value or protocol rejects instead of throwing', async () => {
    await expect(post('{}', { headers: { authorization: 'Bearer a\nb' } })).rejects.toThrow();
    await expect(nodeHttpFetch('ftp://127.0.0.1/', {})).rejects.toThrow(TypeError);
    expect(seen).toHaveLength(0);
  });

  it('verifies HTTPS certificates: a self-signed server is refused', async () => {
    const tls = createHttpsServer({ key: TEST_KEY, cert: TEST_CERT }, (_req, res) => res.end('{}'));
    tls.listen(0, '127.0.0.1');
    await new Promise((r) => tls.once('listening', r));
    const port = (tls.address() as AddressInfo).port;
    try {
      // The server itself works for a client that trusts its certificate...
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const r = httpsRequest({ host: '127.0.0.1', port, ca: TEST_CERT, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        r.on('error', reject);
        r.end();
      });
      expect(status).toBe(200);
      // ...and the transport, with Node's default trust, refuses it.
      await expect(nodeHttpFetch(`https://localhost:${port}/v1/embeddings`, { method: 'POST', body: '{}' })).rejects.toMatchObject({
        code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      });
    } finally {
      upstreamAgents.https.destroy();
      await new Promise((r) => tls.close(r));
    }
  });
});
