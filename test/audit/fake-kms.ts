/**
 * A local stand-in for AWS KMS's `GetPublicKey` and `Sign` with an `ECC_NIST_P256` key, speaking
 * KMS's JSON 1.1 protocol (`x-amz-target: TrentService.<Operation>`, blobs in base64) on
 * `node:http`, for the real `KMSClient` pointed at its `endpoint`.
 *
 * `Sign` with `MessageType: DIGEST` signs the given 32-byte SHA-256 digest itself, as KMS does:
 * Node's crypto always hashes the message first, so ECDSA over P-256 is done here with BigInt
 * (test code only; a fresh random nonce per signature). The signature is DER, as KMS returns it.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const A = P - 3n;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const G: Point = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};
type Point = { x: bigint; y: bigint } | null;

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
function inv(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
  }
  return mod(s0, m);
}
function add(p: Point, q: Point): Point {
  if (!p) return q;
  if (!q) return p;
  if (p.x === q.x && mod(p.y + q.y, P) === 0n) return null;
  const l = p.x === q.x && p.y === q.y ? mod((3n * p.x * p.x + A) * inv(2n * p.y, P), P) : mod((q.y - p.y) * inv(q.x - p.x, P), P);
  const x = mod(l * l - p.x - q.x, P);
  return { x, y: mod(l * (p.x - x) - p.y, P) };
}
function mul(k: bigint, p: Point): Point {
  let r: Point = null;
  for (let a = p; k > 0n; k >>= 1n, a = add(a, a)) if (k & 1n) r = add(r, a);
  return r;
}
const big = (b: Buffer) => BigInt(`0x${b.toString('hex') || '0'}`);
function derInt(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let b = Buffer.from(hex, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02, b.length]), b]);
}

/** ECDSA P-256 over a precomputed 32-byte digest, DER-encoded. */
export function signDigest(digest: Buffer, privateKey: KeyObject): Buffer {
  const d = big(Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url'));
  const z = big(digest);
  for (;;) {
    const k = mod(big(randomBytes(32)), N);
    if (k === 0n) continue;
    const r = mod(mul(k, G)!.x, N);
    const s = mod(inv(k, N) * (z + r * d), N);
    if (r === 0n || s === 0n) continue;
    const body = Buffer.concat([derInt(r), derInt(s)]);
    return Buffer.concat([Buffer.from([0x30, body.length]), body]);
  }
}

export interface FakeKms {
  readonly endpoint: string;
  readonly keyArn: string;
  readonly publicKey: KeyObject;
  /** Every request: its operation and JSON body. */
  readonly requests: { readonly target: string; readonly body: Record<string, unknown> }[];
  close(): Promise<void>;
}

/** Start a fake KMS holding one ECC_NIST_P256 SIGN_VERIFY key. */
export async function startFakeKms(): Promise<FakeKms> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyArn = 'arn:aws:kms:us-east-1:123456789012:key/0b1e2f3a-4c5d-4e6f-8a9b-0c1d2e3f4a5b';
  const requests: FakeKms['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      requests.push({ target, body });
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(json));
      };
      if (body.KeyId !== keyArn) return reply(400, { __type: 'NotFoundException', message: `Key '${String(body.KeyId)}' does not exist` });
      if (target === 'TrentService.GetPublicKey') {
        return reply(200, {
          KeyId: keyArn,
          KeySpec: 'ECC_NIST_P256',
          KeyUsage: 'SIGN_VERIFY',
          SigningAlgorithms: ['ECDSA_SHA_256'],
          PublicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
        });
      }
      if (target === 'TrentService.Sign') {
        const message = Buffer.from(String(body.Message), 'base64');
        if (body.SigningAlgorithm !== 'ECDSA_SHA_256' || body.MessageType !== 'DIGEST' || message.length !== 32) {
          return reply(400, { __type: 'ValidationException', message: 'this fake signs ECDSA_SHA_256 DIGEST messages of 32 bytes only' });
        }
        return reply(200, {
          KeyId: keyArn,
          SigningAlgorithm: 'ECDSA_SHA_256',
          Signature: signDigest(message, privateKey).toString('base64'),
        });
      }
      return reply(400, { __type: 'UnknownOperationException', message: target });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    keyArn,
    publicKey,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}
