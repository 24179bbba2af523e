/**
 * Ports of the audit trail: reading and writing archive objects (records and digests), and
 * signing digests. Adapters: `lambda/adapters/local/archive-objects.ts` and
 * `lambda/adapters/local/digest-key.ts` (a directory, a key file); `lambda/adapters/aws/s3-objects.ts`
 * and `lambda/adapters/aws/kms-signer.ts` (S3, KMS).
 */

/** One object of the archive, as a listing shows it. */
export interface ArchiveObject {
  /** Key relative to the archive root, e.g. `sessions/dt=2026-03-01/hr=05/<id>.json`. */
  readonly key: string;
  readonly size: number;
  /** When the object was written (S3 `LastModified`, a file's mtime), epoch ms. */
  readonly lastModified: number;
}

/** The archive's objects: listing, reading and write-once creation. */
export interface ArchiveObjects {
  /** Where the objects live, for reports (`s3://bucket/prefix/`, a directory). */
  readonly location: string;
  /**
   * Objects whose key starts with `prefix`, in ascending byte order of their keys, and (when
   * `startAfter` is given) only keys greater than it. Lazily paged.
   */
  list(prefix: string, opts?: { readonly startAfter?: string }): AsyncIterable<ArchiveObject>;
  /** The object's bytes, or null when there is no such object. */
  get(key: string): Promise<Uint8Array | null>;
  /**
   * Create an object that does not exist yet. Rejects with {@link ObjectExistsError} if it does
   * (nothing is overwritten), and on any other failure.
   */
  create(key: string, body: Uint8Array, contentType: string): Promise<void>;
}

/** `create` found an object at the key; nothing was written. */
export class ObjectExistsError extends Error {
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`an object already exists at ${key}; archive objects are never overwritten`, options);
    this.name = 'ObjectExistsError';
  }
}

/** The only signature algorithm of digests: ECDSA on P-256 over SHA-256, DER-encoded (KMS `ECDSA_SHA_256`). */
export const DIGEST_SIGNING_ALGORITHM = 'ECDSA_SHA_256';

/** Signs digests: an asymmetric KMS key in AWS, a local P-256 key file in dev. */
export interface DigestSigner {
  /** The key's id (a KMS key ARN, a file path) and the fingerprint of its public key. */
  describe(): Promise<{ readonly keyId: string; readonly publicKeySha256: string }>;
  /** A DER-encoded ECDSA P-256 signature over SHA-256 of `message`. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}
