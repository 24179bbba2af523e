import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretRef, SecretStore } from '../../core/ports';

/** Options of {@link SecretsManagerStore}. */
export interface SecretsManagerStoreOptions {
  /** How long a fetched secret is used before it is fetched again, ms. @default 300000 (5 min) */
  readonly ttlMs?: number;
  /**
   * How old a cached secret may be and still be used while Secrets Manager fails, ms (counted
   * from its fetch). @default 3600000 (1 h)
   */
  readonly maxStaleMs?: number;
  /**
   * After a failed refresh answered from the stale value, how long to keep answering from it
   * before asking Secrets Manager again, ms (so an outage does not add a failing call to every
   * request). `invalidate` ends the pause. @default 5000
   */
  readonly retryAfterFailureMs?: number;
  /** Milliseconds since the epoch. @default Date.now */
  readonly now?: () => number;
}

/** A secret could not be resolved. The message names the secret, never its value. */
export class SecretUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretUnavailableError';
  }
}

interface Entry {
  /** The SecretString. */
  readonly value: string;
  readonly fetchedAt: number;
  /** Fetch again from this time on (fetchedAt + ttl; earlier after `invalidate`). */
  refreshAt: number;
  /** After a failed refresh: answer from the cache until then without calling. */
  quietUntil: number;
}

/**
 * Upstream keys from AWS Secrets Manager, cached in memory per secret (one fetch serves every
 * `field` of it).
 *
 * - Only `{ source: 'secretsManager' }` references: env and file secrets are refused in AWS,
 *   since they would put keys in the Lambda environment or bundle.
 * - `field`: the SecretString is a JSON object and the key is that (string) member.
 * - Cached for `ttlMs`; concurrent `get`s of one secret share one in-flight fetch.
 * - When Secrets Manager fails and a value fetched less than `maxStaleMs` ago exists, that value
 *   is returned (bounded use of a stale key); otherwise `get` rejects.
 * - `invalidate(ref)` makes the next `get` fetch afresh (the provider calls it on upstream 401/403).
 *
 * Errors name the secret id and field, never the value.
 */
export class SecretsManagerStore implements SecretStore {
  private readonly ttlMs: number;
  private readonly maxStaleMs: number;
  private readonly retryAfterFailureMs: number;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<string>>();
  /** Bumped by `invalidate`, so a fetch started before it cannot satisfy a `get` made after it. */
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly client: SecretsManagerClient,
    opts: SecretsManagerStoreOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 5 * 60_000;
    this.maxStaleMs = opts.maxStaleMs ?? 60 * 60_000;
    this.retryAfterFailureMs = opts.retryAfterFailureMs ?? 5_000;
    this.now = opts.now ?? Date.now;
  }

  /** The secret's value (or its JSON `field`), from the cache when fresh enough; see the class doc. */
  async get(ref: SecretRef): Promise<string> {
    if (ref.source !== 'secretsManager') {
      throw new SecretUnavailableError(
        `secret references with source "${ref.source}" are refused in AWS: they would put upstream keys in the Lambda environment or bundle; store the key in Secrets Manager and use {"source":"secretsManager","secretId":...}`,
      );
    }
    const raw = await this.secretString(ref.secretId);
    return ref.field === undefined ? raw : extractField(raw, ref.secretId, ref.field);
  }

  /**
   * Make the next `get` of this secret fetch it afresh (and not join a fetch already in flight).
   * The cached value is kept only as the stale fallback for when that fetch fails.
   */
  invalidate(ref: SecretRef): void {
    if (ref.source !== 'secretsManager') return;
    const id = ref.secretId;
    this.generations.set(id, (this.generations.get(id) ?? 0) + 1);
    this.inFlight.delete(id);
    const e = this.entries.get(id);
    // Keep the value: it may still stand in (within maxStaleMs) if the refetch fails.
    if (e) {
      e.refreshAt = Number.NEGATIVE_INFINITY;
      e.quietUntil = Number.NEGATIVE_INFINITY;
    }
  }

  private secretString(id: string): Promise<string> {
    const now = this.now();
    const e = this.entries.get(id);
    if (e && (now < e.refreshAt || (now < e.quietUntil && now - e.fetchedAt < this.maxStaleMs))) return Promise.resolve(e.value);
    let p = this.inFlight.get(id);
    if (!p) {
      p = this.refresh(id);
      this.inFlight.set(id, p);
      const clear = (): void => {
        if (this.inFlight.get(id) === p) this.inFlight.delete(id);
      };
      p.then(clear, clear);
    }
    return p;
  }

  private async refresh(id: string): Promise<string> {
    const generation = this.generations.get(id) ?? 0;
    let value: string;
    try {
      value = await this.fetch(id);
    } catch (error) {
      const now = this.now();
      const e = this.entries.get(id);
      if (e && now - e.fetchedAt < this.maxStaleMs) {
        e.quietUntil = now + this.retryAfterFailureMs;
        return e.value;
      }
      throw error;
    }
    // A fetch overtaken by `invalidate` still answers its own callers but does not fill the cache.
    if ((this.generations.get(id) ?? 0) === generation) {
      const fetchedAt = this.now();
      this.entries.set(id, { value, fetchedAt, refreshAt: fetchedAt + this.ttlMs, quietUntil: Number.NEGATIVE_INFINITY });
    }
    return value;
  }

  private async fetch(id: string): Promise<string> {
    let out;
    try {
      out = await this.client.send(new GetSecretValueCommand({ SecretId: id }));
    } catch (cause) {
      const name = cause instanceof Error ? cause.name : 'Error';
      throw new SecretUnavailableError(`could not read secret "${id}" from Secrets Manager (${name})`, { cause });
    }
    if (typeof out.SecretString !== 'string' || out.SecretString === '') {
      throw new SecretUnavailableError(`secret "${id}" has no SecretString (binary secrets are not supported)`);
    }
    return out.SecretString;
  }
}

/** The string member `field` of the JSON object in `raw`; errors never quote `raw`. */
function extractField(raw: string, id: string, field: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new SecretUnavailableError(`secret "${id}" is not a JSON object, so field "${field}" cannot be read from it`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SecretUnavailableError(`secret "${id}" is not a JSON object, so field "${field}" cannot be read from it`);
  }
  if (!Object.prototype.hasOwnProperty.call(parsed, field)) {
    throw new SecretUnavailableError(`secret "${id}" has no field "${field}"`);
  }
  const v = (parsed as Record<string, unknown>)[field];
  if (typeof v !== 'string' || v === '') throw new SecretUnavailableError(`field "${field}" of secret "${id}" is not a non-empty string`);
  return v;
}
