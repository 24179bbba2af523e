import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { publicKeySha256 } from '../../core/audit/digest';
import type { DigestSigner } from '../../core/audit/ports';

/** Where a local archive keeps its digest signing key: `<archive dir>/keys/digest-signing-key.pem`. */
export function defaultSigningKeyPath(archiveDir: string): string {
  return join(resolve(archiveDir), 'keys', 'digest-signing-key.pem');
}

/** The public key file next to a private key file: `<name>.pub.pem`. */
export function publicKeyPathOf(privateKeyPath: string): string {
  return `${privateKeyPath.replace(/\.pem$/, '')}.pub.pem`;
}

/**
 * Signs digests locally with an ECDSA P-256 key (the same algorithm and signature encoding as the
 * KMS key in AWS, so one verifier serves both). The key is a PKCS#8 PEM file, created with mode
 * 0600 on first use, with its public key (SPKI PEM, 0444) next to it for `embedgate audit verify`.
 *
 * A dev key: whoever can write the archive directory can usually read it too, so local digests
 * show accidental changes and changes made without the key, not changes by the key's owner.
 */
export class LocalKeySigner implements DigestSigner {
  private constructor(
    readonly path: string,
    private readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
  ) {}

  /** Load the key at `path`, creating it (and its public key file) if it does not exist. */
  static async open(path: string): Promise<LocalKeySigner> {
    const file = resolve(path);
    let pem: string;
    try {
      pem = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      pem = await create(file);
    }
    const privateKey = createPrivateKey(pem);
    if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error(`${file} is not an ECDSA P-256 private key; digests are signed with ECDSA_SHA_256`);
    }
    return new LocalKeySigner(file, privateKey, createPublicKey(privateKey));
  }

  async describe(): Promise<{ keyId: string; publicKeySha256: string }> {
    return { keyId: `file:${this.path}`, publicKeySha256: publicKeySha256(this.publicKey) };
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    return sign('sha256', message, { key: this.privateKey, dsaEncoding: 'der' });
  }
}

async function create(file: string): Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  try {
    const fh = await open(file, 'wx', 0o600);
    try {
      await fh.writeFile(pem);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readFile(file, 'utf8');
    throw e;
  }
  const pub = publicKeyPathOf(file);
  try {
    const fh = await open(pub, 'wx', 0o444);
    try {
      await fh.writeFile(publicKey.export({ type: 'spki', format: 'pem' }) as string);
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return pem;
}
