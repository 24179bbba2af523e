/**
 * S3Archive with the real S3Client against s3rver (stored bytes, key layout) and, for what s3rver
 * does not implement (`If-None-Match` on PUT, KMS, checksum verification), against the request
 * the SDK actually sends, captured at the last middleware step, and a tiny fake S3 answering 412.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ArchiveConflictError, archivePutInput, S3Archive } from '../../../lambda/adapters/aws/s3-archive';
import { RECORD_SCHEMA, sealRecord } from '../../../lambda/core/record';
import type { SessionRecord } from '../../../lambda/core/record';
import { deadEndpoint, S3RVER_CREDENTIALS, startS3rver } from '../../support/aws-standins';
import type { StandIn } from '../../support/aws-standins';

const BUCKET = 'embedgate-archive';
const KMS_KEY = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';

interface SentRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

let s3: StandIn;
let client: S3Client;
/** Every HTTP request the client sent, as it went on the wire (after checksums and signing). */
let sent: SentRequest[];

function s3Client(endpoint: string): S3Client {
  const c = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: S3RVER_CREDENTIALS, maxAttempts: 1 });
  c.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { method: string; path: string; headers: Record<string, string> };
      sent.push({ method: req.method, path: req.path, headers: lowerCase(req.headers) });
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name: 'captureSentRequest' },
  );
  return c;
}

beforeAll(async () => {
  s3 = await startS3rver([BUCKET]);
  client = s3Client(s3.endpoint);
});
beforeEach(() => {
  sent = [];
});
afterAll(async () => {
  client.destroy();
  await s3.close();
});

let seq = 0;
function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  seq++;
  return sealRecord({
    schema: RECORD_SCHEMA,
    session_id: `0190a6b2-7c4d-7e00-8000-${String(seq).padStart(12, '0')}`,
    started_at: '2025-03-04T05:06:07.089Z',
    ended_at: '2025-03-04T05:06:07.321Z',
    request: { method: 'POST', path: '/v1/embeddings', request_id: 'req-1', source_ip: '10.0.0.1', user_agent: 'test' },
    principal: null,
    model: { name: 'text-embedding-3-small', provider: 'openai', upstream_model: null },
    decision: { outcome: 'allow', status: 200, reason: 'rule_allow', rule_id: 'r1', policy_version: 'sha256:abc' },
    input: { kind: 'text', items: 1, characters: 11, encoding_format: 'float', dimensions: null, request_bytes: 64, text: null },
    masking: null,
    upstream: { status: 200, latency_ms: 12, attempts: 1, batches: 1 },
    usage: { prompt_tokens: 2, total_tokens: 2 },
    output: { vectors: 1, dimensions: 8, fingerprint: 'sha256:00' },
    timings: { total_ms: 232, auth_ms: 3, upstream_ms: 12 },
    approval: null,
    ...overrides,
  });
}

const lineOf = (r: SessionRecord): Buffer => Buffer.from(`${JSON.stringify(r)}\n`, 'utf8');
const sha256b64 = (b: Buffer): string => createHash('sha256').update(b).digest('base64');

async function stored(key: string): Promise<{ body: Buffer; contentType: string | undefined }> {
  const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return { body: Buffer.from(await out.Body!.transformToByteArray()), contentType: out.ContentType };
}

const puts = (): SentRequest[] => sent.filter((r) => r.method === 'PUT');

describe('against s3rver', () => {
  it('stores the exact JSON line at sessions/dt=/hr=/<session id>.json and returns the key', async () => {
    const r = record();
    const { key } = await new S3Archive(client, { bucket: BUCKET }).put(r);
    expect(key).toBe(`sessions/dt=2025-03-04/hr=05/${r.session_id}.json`);
    const obj = await stored(key);
    expect(obj.body.equals(lineOf(r))).toBe(true);
    expect(obj.body.toString('utf8').endsWith('}\n')).toBe(true);
    expect(JSON.parse(obj.body.toString('utf8'))).toEqual(JSON.parse(JSON.stringify(r)));
    expect(obj.contentType).toBe('application/x-ndjson');
  });

  it('keeps non-ASCII text byte for byte', async () => {
    const r = record({ request: { method: 'POST', path: '/v1/embeddings', request_id: 'é-ü-漢字-😀', source_ip: null, user_agent: null } });
    const { key } = await new S3Archive(client, { bucket: BUCKET }).put(r);
    expect((await stored(key)).body.equals(lineOf(r))).toBe(true);
    expect(puts()[0]!.headers['content-length']).toBe(String(lineOf(r).length));
  });

  it('puts the key under the prefix, with or without slashes around it', async () => {
    const a = record();
    const b = record();
    expect((await new S3Archive(client, { bucket: BUCKET, prefix: 'tenant-a' }).put(a)).key).toBe(
      `tenant-a/sessions/dt=2025-03-04/hr=05/${a.session_id}.json`,
    );
    expect((await new S3Archive(client, { bucket: BUCKET, prefix: '/tenant-b/' }).put(b)).key).toBe(
      `tenant-b/sessions/dt=2025-03-04/hr=05/${b.session_id}.json`,
    );
    expect((await stored(`tenant-a/sessions/dt=2025-03-04/hr=05/${a.session_id}.json`)).body.equals(lineOf(a))).toBe(true);
    expect(puts().map((p) => p.path)).toEqual([
      `/${BUCKET}/tenant-a/sessions/dt%3D2025-03-04/hr%3D05/${a.session_id}.json`,
      `/${BUCKET}/tenant-b/sessions/dt%3D2025-03-04/hr%3D05/${b.session_id}.json`,
    ]);
  });

  it('sends our SHA-256 of the exact body, as a plain (not aws-chunked) upload', async () => {
    const r = record();
    await new S3Archive(client, { bucket: BUCKET }).put(r);
    const [put] = puts();
    expect(put!.headers['x-amz-checksum-sha256']).toBe(sha256b64(lineOf(r)));
    expect(put!.headers['x-amz-sdk-checksum-algorithm']).toBe('SHA256');
    expect(Object.keys(put!.headers).filter((h) => /^x-amz-checksum-/.test(h))).toEqual(['x-amz-checksum-sha256']);
    expect(put!.headers['content-encoding']).toBeUndefined();
    expect(put!.headers['x-amz-trailer']).toBeUndefined();
    expect(put!.headers['content-type']).toBe('application/x-ndjson');
  });

  it('sends If-None-Match: * on every PUT (s3rver ignores it; S3 refuses to overwrite)', async () => {
    const r = record();
    const archive = new S3Archive(client, { bucket: BUCKET });
    await archive.put(r);
    // s3rver 3.7 does not implement conditional writes, so the second PUT reaches it too: the
    // guarantee rests on the precondition sent, asserted here, and on S3's 412 (tested below).
    await archive.put(r).catch((e: unknown) => expect(e).toBeInstanceOf(ArchiveConflictError));
    expect(puts()).toHaveLength(2);
    for (const p of puts()) expect(p.headers['if-none-match']).toBe('*');
  });

  it('asks for SSE-KMS with the archive key when one is given, and not otherwise', async () => {
    await new S3Archive(client, { bucket: BUCKET, kmsKeyId: KMS_KEY }).put(record());
    await new S3Archive(client, { bucket: BUCKET }).put(record());
    const [withKey, without] = puts();
    expect(withKey!.headers['x-amz-server-side-encryption']).toBe('aws:kms');
    expect(withKey!.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(KMS_KEY);
    expect(without!.headers['x-amz-server-side-encryption']).toBeUndefined();
    expect(without!.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBeUndefined();
  });

  it('sends no per-object Object Lock headers (the bucket default retention applies)', async () => {
    await new S3Archive(client, { bucket: BUCKET, kmsKeyId: KMS_KEY }).put(record());
    const [put] = puts();
    expect(Object.keys(put!.headers).filter((h) => h.startsWith('x-amz-object-lock'))).toEqual([]);
    expect(put!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
  });

  it('rejects when the bucket does not exist', async () => {
    await expect(new S3Archive(client, { bucket: 'no-such-bucket' }).put(record())).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });
});

it('rejects when S3 cannot be reached (so the gateway fails closed)', async () => {
  const down = s3Client(await deadEndpoint());
  try {
    await expect(new S3Archive(down, { bucket: BUCKET }).put(record())).rejects.toThrow();
  } finally {
    down.destroy();
  }
});

it('computes the SHA-256 itself (not left to the SDK) and sets no Object Lock parameters', () => {
  const r = record();
  const input = archivePutInput(BUCKET, 'k', r, KMS_KEY);
  expect(input).toEqual({
    Bucket: BUCKET,
    Key: 'k',
    Body: lineOf(r),
    ContentType: 'application/x-ndjson',
    ContentLength: lineOf(r).length,
    ChecksumAlgorithm: 'SHA256',
    ChecksumSHA256: sha256b64(lineOf(r)),
    IfNoneMatch: '*',
    ServerSideEncryption: 'aws:kms',
    SSEKMSKeyId: KMS_KEY,
  });
  expect(Buffer.isBuffer(input.Body)).toBe(true);
});

it('refuses a construction without a bucket', () => {
  expect(() => new S3Archive(client, { bucket: '' })).toThrow(/bucket is required/);
});

describe('against a fake S3 with conditional writes', () => {
  /** Answers each PUT with the next queued status (412 = PreconditionFailed), after `hold` resolves. */
  let server: Server;
  let endpoint: string;
  let answer: { status: number; hold?: Promise<void> };
  let received: { headers: IncomingHttpHeaders; body: Buffer }[];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks) });
        const { status, hold } = answer;
        void (hold ?? Promise.resolve()).then(() => respond(res, status));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    received = [];
    answer = { status: 200 };
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('412 PreconditionFailed (the key exists) -> rejects with ArchiveConflictError', async () => {
    answer = { status: 412 };
    const c = s3Client(endpoint);
    try {
      const r = record();
      const err = await new S3Archive(c, { bucket: BUCKET }).put(r).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ArchiveConflictError);
      expect((err as ArchiveConflictError).key).toBe(`sessions/dt=2025-03-04/hr=05/${r.session_id}.json`);
      expect(received[0]!.headers['if-none-match']).toBe('*');
    } finally {
      c.destroy();
    }
  });

  it('resolves only once S3 has answered', async () => {
    let release!: () => void;
    answer = { status: 200, hold: new Promise<void>((r) => (release = r)) };
    const c = s3Client(endpoint);
    try {
      let settled = false;
      const p = new S3Archive(c, { bucket: BUCKET }).put(record()).finally(() => (settled = true));
      await waitFor(() => received.length > 0);
      await new Promise((r) => setTimeout(r, 20));
      expect(settled).toBe(false);
      release();
      await expect(p).resolves.toHaveProperty('key');
    } finally {
      c.destroy();
    }
  });

  it('a 500 rejects', async () => {
    answer = { status: 500 };
    const c = s3Client(endpoint);
    try {
      await expect(new S3Archive(c, { bucket: BUCKET }).put(record())).rejects.toThrow();
    } finally {
      c.destroy();
    }
  });
});

function respond(res: ServerResponse, status: number): void {
  if (status === 200) {
    res.writeHead(200, { etag: '"0123"', 'content-length': 0 });
    res.end();
    return;
  }
  const code = status === 412 ? 'PreconditionFailed' : 'InternalError';
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>fake ${code}</Message><RequestId>fake</RequestId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Poll until `cond` holds; fail after `ms` instead of spinning past the test timeout. */
async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}
