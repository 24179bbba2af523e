/**
 * The AWS side of the digests with the real SDK clients: records in S3 (s3rver, which has no
 * Object Lock and no conditional writes, so those rest on the request parameters asserted here
 * and on the bucket policy), digests signed through KMS `Sign` (a fake KMS that signs SHA-256
 * digests as KMS does), `embedgate audit verify --bucket` over them, and the digest Lambda's core.
 */
import { createHash, verify } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { audit, type AuditIo } from '../../cli/audit';
import { parseDigest, publicKeySha256 } from '../../lambda/core/audit/digest';
import { KmsSigner } from '../../lambda/adapters/aws/kms-signer';
import { createObjectInput, S3Objects } from '../../lambda/adapters/aws/s3-objects';
import { createDigestHandler } from '../../lambda/handlers/digest';
import { S3RVER_CREDENTIALS, startS3rver, type StandIn } from '../support/aws-standins';
import { startFakeKms, type FakeKms } from './fake-kms';
import { tempDir, writeSessions } from './archive-fixture';

const BUCKET = 'archive';
let s3: StandIn;
let kms: FakeKms;
let client: S3Client;
let kmsClient: KMSClient;
let local: string;
const sent: { method: string; path: string; headers: Record<string, string> }[] = [];

beforeAll(async () => {
  [s3, kms] = await Promise.all([startS3rver([BUCKET]), startFakeKms()]);
  client = new S3Client({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: S3RVER_CREDENTIALS,
    maxAttempts: 1,
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      const r = args.request as { method: string; path: string; headers: Record<string, string> };
      sent.push({
        method: r.method,
        path: r.path,
        headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v])),
      });
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name: 'capture' },
  );
  kmsClient = new KMSClient({ endpoint: kms.endpoint, region: 'us-east-1', credentials: S3RVER_CREDENTIALS, maxAttempts: 1 });
  // The fixture's records, written locally by the real gateway, then uploaded key for key.
  local = await tempDir('audit-s3');
  await writeSessions(local);
  const store = new S3Objects(client, { bucket: BUCKET, prefix: 'tenant' });
  for (const f of (await readdir(join(local, 'sessions'), { recursive: true })).filter((x) => x.endsWith('.json'))) {
    await store.create(`sessions/${f}`, await readFile(join(local, 'sessions', f)), 'application/x-ndjson');
  }
});
afterAll(async () => {
  client.destroy();
  kmsClient.destroy();
  await Promise.all([s3.close(), kms.close(), rm(local, { recursive: true, force: true })]);
});

const objects = () => new S3Objects(client, { bucket: BUCKET, prefix: 'tenant' });

describe('S3Objects', () => {
  it('lists under the archive prefix, in key order, after startAfter, with keys relative to the prefix', async () => {
    const all = [];
    for await (const o of objects().list('sessions/')) all.push(o.key);
    expect(all).toHaveLength(9);
    expect([...all].sort()).toEqual(all);
    const later = [];
    for await (const o of objects().list('sessions/', { startAfter: 'sessions/dt=2026-03-01/hr=07/' })) later.push(o.key);
    expect(later).toEqual(all.filter((k) => k.includes('hr=07')));
    expect(await objects().get('sessions/nope.json')).toBeNull();
  });

  it('creates objects write-once: If-None-Match, our SHA-256, SSE-KMS with the archive key', () => {
    const body = Buffer.from('{"a":1}\n');
    expect(createObjectInput('b', 'digests/dt=2026-03-01/hr=05.json', body, 'application/json', 'arn:key')).toEqual({
      Bucket: 'b',
      Key: 'digests/dt=2026-03-01/hr=05.json',
      Body: body,
      ContentType: 'application/json',
      ContentLength: body.length,
      ChecksumAlgorithm: 'SHA256',
      ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
      IfNoneMatch: '*',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'arn:key',
    });
  });
});

describe('KmsSigner', () => {
  it('signs the SHA-256 of the message (MessageType DIGEST) and names the key by its public key', async () => {
    const signer = new KmsSigner(kmsClient, kms.keyArn);
    expect(await signer.describe()).toEqual({ keyId: kms.keyArn, publicKeySha256: publicKeySha256(kms.publicKey) });
    const message = Buffer.from('a digest document, possibly megabytes long');
    const signature = await signer.sign(message);
    expect(verify('sha256', message, { key: kms.publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
    const req = kms.requests.find((r) => r.target === 'TrentService.Sign')!;
    expect(req.body).toEqual({
      KeyId: kms.keyArn,
      MessageType: 'DIGEST',
      SigningAlgorithm: 'ECDSA_SHA_256',
      Message: createHash('sha256').update(message).digest('base64'),
    });
  });

  it("fails with KMS's error for a key KMS does not have", async () => {
    await expect(new KmsSigner(kmsClient, 'arn:aws:kms:us-east-1:123456789012:key/other').describe()).rejects.toThrow(/does not exist/);
  });
});

describe('the digest function and embedgate audit verify --bucket', () => {
  let keyFile: string;
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), now: () => Date.now() } satisfies AuditIo };
  };
  const verifyArgs = () => [
    'verify',
    '--bucket',
    BUCKET,
    '--prefix',
    'tenant',
    '--endpoint',
    s3.endpoint,
    '--region',
    'us-east-1',
    '--public-key',
    keyFile,
  ];

  beforeAll(async () => {
    keyFile = join(local, 'digest-key.der');
    // What `aws kms get-public-key ... | base64 -d` gives: DER SubjectPublicKeyInfo.
    await writeFile(keyFile, kms.publicKey.export({ type: 'spki', format: 'der' }));
    process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  });
  afterAll(() => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
  });

  it('writes a KMS-signed digest under digests/ with a conditional, checksummed, SSE-KMS PutObject', async () => {
    sent.length = 0;
    const logged: unknown[] = [];
    const handler = createDigestHandler(
      {
        store: new S3Objects(client, { bucket: BUCKET, prefix: 'tenant', kmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/archive' }),
        signer: new KmsSigner(kmsClient, kms.keyArn),
        clock: { now: () => Date.parse('2026-03-01T08:20:00.000Z') },
        settleMs: 15 * 60_000,
        lookbackMs: 6 * 3_600_000,
        maxPeriodMs: 24 * 3_600_000,
      },
      { info: (message, extra) => logged.push({ message, ...extra }) },
    );
    const summary = await handler({});
    expect(summary).toEqual({
      written: true,
      key: 'digests/dt=2026-03-01/hr=07.json',
      period: { start: '2026-03-01T05:00:00.000Z', end: '2026-03-01T08:00:00.000Z' },
      records: 9,
      late: 0,
    });
    expect(logged).toEqual([{ message: 'digest written', ...summary }]);
    const put = sent.filter((r) => r.method === 'PUT');
    expect(put.map((p) => p.path)).toEqual([`/${BUCKET}/tenant/digests/dt%3D2026-03-01/hr%3D07.json`]);
    expect(put[0]!.headers).toMatchObject({
      'if-none-match': '*',
      'x-amz-server-side-encryption': 'aws:kms',
      'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:us-east-1:123456789012:key/archive',
    });
    const doc = parseDigest((await objects().get(summary.written ? summary.key : ''))!);
    expect(doc.signing).toEqual({ algorithm: 'ECDSA_SHA_256', key_id: kms.keyArn, public_key_sha256: publicKeySha256(kms.publicKey) });
    // A second run in the same hour finds nothing to do.
    expect(await handler({})).toEqual({ written: false, reason: 'no settled hour to digest: covered until 2026-03-01T08:00:00.000Z' });
  });

  it('verifies the bucket against the KMS public key (exit 0)', async () => {
    const a = io();
    expect(await audit(verifyArgs(), a.io)).toBe(0);
    expect(a.out.join('\n')).toMatch(/s3:\/\/archive\/tenant\/[\s\S]*9 in the archive, 9 listed in digests[\s\S]*\nOK:/);
  });

  it('reports a record overwritten and one deleted in the bucket (exit 1)', async () => {
    const keys: string[] = [];
    for await (const o of objects().list('sessions/')) keys.push(o.key);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `tenant/${keys[0]}`, Body: Buffer.from('{"tampered":true}\n') }));
    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `tenant/${keys[1]}` }));
    const a = io();
    expect(await audit([...verifyArgs(), '--format', 'json'], a.io)).toBe(1);
    const report = JSON.parse(a.out.join('')) as { problems: { kind: string; key: string }[] };
    expect(report.problems.map((p) => `${p.kind} ${p.key}`)).toEqual([`changed_record ${keys[0]}`, `missing_record ${keys[1]}`].sort());
  });
});
