import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import type { Archive } from '../../core/ports';
import { recordKey } from '../../core/record';
import type { SessionRecord } from '../../core/record';

/** Options of {@link S3Archive}. */
export interface S3ArchiveOptions {
  readonly bucket: string;
  /** Customer-managed KMS key (id or ARN) for SSE-KMS; omit to rely on the bucket's default encryption. */
  readonly kmsKeyId?: string;
  /** Key prefix, e.g. `archive` (a trailing `/` is optional); the Glue table's location must match. */
  readonly prefix?: string;
}

import { ArchiveConflictError } from '../../core/errors';
export { ArchiveConflictError };

/**
 * The session archive in S3: one newline-terminated JSON object per record, at
 * `[prefix/]sessions/dt=YYYY-MM-DD/hr=HH/<session id>.json`.
 *
 * Each PUT carries a SHA-256 checksum computed here (S3 verifies the bytes it stores against it),
 * SSE-KMS with the archive key when one is given, and `If-None-Match: *` so an existing record is
 * never replaced (S3 answers 412, surfaced as {@link ArchiveConflictError}). No per-object Object
 * Lock headers are sent: the bucket's default retention applies, and setting retention per object
 * would need `s3:PutObjectRetention`, which no one is granted. `put` resolves only once S3 has
 * acknowledged the write and rejects on any failure, so the gateway can fail closed.
 */
export class S3Archive implements Archive {
  private readonly bucket: string;
  private readonly kmsKeyId: string | undefined;
  private readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    opts: S3ArchiveOptions,
  ) {
    if (!opts.bucket) throw new Error('S3Archive: bucket is required');
    this.bucket = opts.bucket;
    this.kmsKeyId = opts.kmsKeyId || undefined;
    const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.prefix = prefix ? `${prefix}/` : '';
  }

  /** Write one record; resolves with its key once S3 has acknowledged it, rejects otherwise. */
  async put(record: SessionRecord): Promise<{ key: string }> {
    const key = this.prefix + recordKey(record);
    const input = archivePutInput(this.bucket, key, record, this.kmsKeyId);
    try {
      await this.client.send(new PutObjectCommand(input));
    } catch (e) {
      if (isPreconditionFailed(e)) throw new ArchiveConflictError(key, { cause: e });
      throw e;
    }
    return { key };
  }
}

/** The PutObject request of one record (exported so its parameters can be checked on their own). */
export function archivePutInput(bucket: string, key: string, record: SessionRecord, kmsKeyId?: string): PutObjectCommandInput {
  // A Buffer, not a stream: with a stream the SDK switches to aws-chunked trailers.
  const body = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
  return {
    Bucket: bucket,
    Key: key,
    Body: body,
    ContentType: 'application/x-ndjson',
    ContentLength: body.length,
    ChecksumAlgorithm: 'SHA256',
    ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
    IfNoneMatch: '*',
    ...(kmsKeyId ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: kmsKeyId } : {}),
  };
}

function isPreconditionFailed(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  return err.name === 'PreconditionFailed' || err.$metadata?.httpStatusCode === 412;
}
