import { fakeEmbedding, startFakeUpstream } from '../support/fake-upstream';
import type { FakeUpstream } from '../support/fake-upstream';

let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream({ dimensions: 3 });
});
afterEach(() => upstream.reset());
afterAll(() => upstream.close());

const post = (body: unknown, path = '/v1/embeddings'): Promise<Response> =>
  fetch(`${upstream.origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('fake upstream', () => {
  it('answers floats by default and base64 when asked, with usage', async () => {
    const floats = (await (await post({ model: 'm', input: ['a b', 'c'] })).json()) as {
      data: { index: number; embedding: number[] }[];
      usage: unknown;
    };
    expect(floats.data.map((d) => d.index)).toEqual([0, 1]);
    expect(floats.data[0]!.embedding).toEqual(Array.from(fakeEmbedding('a b', 3)));
    expect(floats.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });

    const b64 = (await (await post({ input: 'a b', encoding_format: 'base64', dimensions: 5 })).json()) as {
      data: { embedding: string }[];
    };
    const bytes = Buffer.from(b64.data[0]!.embedding, 'base64');
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(Array.from(fakeEmbedding('a b', 5)));
    expect(upstream.requests.map((r) => r.url)).toEqual(['/v1/embeddings', '/v1/embeddings']);
  });

  it('takes queued behaviours first, then the script, then the default', async () => {
    upstream.setScript((_req, n) => (n === 1 ? { kind: 'status', status: 503 } : undefined));
    upstream.enqueue({ kind: 'status', status: 429, retryAfter: '7' });
    const first = await post({ input: 'x' });
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('7');
    expect((await post({ input: 'x' })).status).toBe(503);
    expect((await post({ input: 'x' })).status).toBe(200);
  });

  it('resets the connection, sends invalid JSON and wrong counts on request', async () => {
    upstream.enqueue({ kind: 'reset' }, { kind: 'invalid-json' }, { kind: 'wrong-count', delta: -1 });
    await expect(post({ input: 'x' })).rejects.toThrow('fetch failed');
    await expect((await post({ input: 'x' })).json()).rejects.toThrow(/JSON/);
    const short = (await (await post({ input: ['x', 'y'] })).json()) as { data: unknown[] };
    expect(short.data).toHaveLength(1);
  });

  it('reverses data order on request, keeping each index', async () => {
    upstream.enqueue({ kind: 'success', order: 'reverse' });
    const res = (await (await post({ input: ['x', 'y', 'z'] })).json()) as { data: { index: number; embedding: number[] }[] };
    expect(res.data.map((d) => d.index)).toEqual([2, 1, 0]);
    expect(res.data[0]!.embedding).toEqual(Array.from(fakeEmbedding('z', 3)));
  });

  it('hangs until the client gives up, and counts requests in flight', async () => {
    upstream.enqueue({ kind: 'hang' });
    await expect(
      fetch(`${upstream.url}/embeddings`, { method: 'POST', body: '{"input":"x"}', signal: AbortSignal.timeout(50) }),
    ).rejects.toThrow();
    expect(upstream.maxInFlight).toBe(1);
    // The server notices the client went away.
    for (let i = 0; i < 50 && upstream.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(upstream.inFlight).toBe(0);
  });

  it('answers 400 to a bad body and 404 off the embeddings route', async () => {
    expect((await post({ nope: 1 })).status).toBe(400);
    expect((await post({ input: 'x' }, '/v1/chat/completions')).status).toBe(404);
  });
});
