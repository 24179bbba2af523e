import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { ObjectExistsError, type ArchiveObject, type ArchiveObjects } from '../../core/audit/ports';

/** Options of {@link S3Objects}. */
export interface S3ObjectsOptions {
  readonly bucket: string;
  /** Key prefix of the archive in the bucket (as `S3Archive`'s `prefix`); keys are given relative to it. */
  readonly prefix?: string;
  /** KMS key (id or ARN) for SSE-KMS of created objects; omit to rely on the bucket's default encryption. */
  readonly kmsKeyId?: string;
}

/**
 * The archive bucket's objects for the digest builder and `embedgate audit verify`: ListObjectsV2
 * (paged, in key order), GetObject, and write-once PutObject (`If-None-Match: *`, a SHA-256
 * checksum S3 verifies, SSE-KMS with the archive key), as the archive's bucket policy requires.
 * The bucket's Object Lock default retention applies to what `create` writes.
 */
export class S3Objects implements ArchiveObjects {
  readonly location: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly kmsKeyId: string | undefined;

  constructor(
    private readonly client: S3Client,
    opts: S3ObjectsOptions,
  ) {
    if (!opts.bucket) throw new Error('S3Objects: bucket is required');
    this.bucket = opts.bucket;
    const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.prefix = prefix ? `${prefix}/` : '';
    this.kmsKeyId = opts.kmsKeyId || undefined;
    this.location = `s3://${this.bucket}/${this.prefix}`;
  }

  async *list(prefix: string, opts: { readonly startAfter?: string } = {}): AsyncIterable<ArchiveObject> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + prefix,
          ...(token ? { ContinuationToken: token } : opts.startAfter !== undefined ? { StartAfter: this.prefix + opts.startAfter } : {}),
        }),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
    } catch (e) {
      if (statusOf(e) === 404 || (e as { name?: string }).name === 'NoSuchKey') return null;
      throw e;
    }
  }

  async create(key: string, body: Uint8Array, contentType: string): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand(createObjectInput(this.bucket, this.prefix + key, body, contentType, this.kmsKeyId)));
    } catch (e) {
      if (statusOf(e) === 412 || (e as { name?: string }).name === 'PreconditionFailed') throw new ObjectExistsError(key, { cause: e });
      throw e;
    }
  }
}

/** The PutObject request of a write-once object (exported so its parameters can be checked). */
export function createObjectInput(
  bucket: string,
  key: string,
  body: Uint8Array,
  contentType: string,
  kmsKeyId?: string,
): PutObjectCommandInput {
  // A Buffer, not a stream: with a stream the SDK switches to aws-chunked trailers.
  const buffer = Buffer.from(body);
  return {
    Bucket: bucket,
    Key: key,
    Body: buffer,
    ContentType: contentType,
    ContentLength: buffer.length,
    ChecksumAlgorithm: 'SHA256',
    ChecksumSHA256: createHash('sha256').update(buffer).digest('base64'),
    IfNoneMatch: '*',
    ...(kmsKeyId ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: kmsKeyId } : {}),
  };
}

const statusOf = (e: unknown): number | undefined => (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
