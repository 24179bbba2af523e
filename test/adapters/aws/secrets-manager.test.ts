import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerStore, SecretUnavailableError } from '../../../lambda/adapters/aws/secrets-manager';
import type { SecretRef } from '../../../lambda/core/ports';
import { startFakeSecretsManager } from '../../support/fake-secrets-manager';
import type { FakeSecretsManager } from '../../support/fake-secrets-manager';

const KEY_V1 = 'sk-live-FIRST-0123456789';
const KEY_V2 = 'sk-live-SECOND-9876543210';
const JSON_SECRET = JSON.stringify({ apiKey: 'sk-json-FIELD-abcdef', org: 'org-1', count: 3 });
const SECRET_VALUES = [KEY_V1, KEY_V2, 'sk-json-FIELD-abcdef', JSON_SECRET];

const ref = (secretId: string, field?: string): SecretRef =>
  field === undefined ? { source: 'secretsManager', secretId } : { source: 'secretsManager', secretId, field };

let fake: FakeSecretsManager;
let client: SecretsManagerClient;
let t: number;

beforeAll(async () => {
  fake = await startFakeSecretsManager();
  client = new SecretsManagerClient({
    endpoint: fake.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' },
    maxAttempts: 1,
  });
});
beforeEach(() => {
  fake.reset();
  fake.failWith(undefined);
  fake.setSecret('openai/key', KEY_V1);
  fake.setSecret('json/secret', JSON_SECRET);
  fake.setSecret('not/json', 'plain-NOT-JSON-value');
  t = 1_000_000;
});
afterAll(async () => {
  client.destroy();
  await fake.close();
});

const store = (opts: { ttlMs?: number; maxStaleMs?: number; retryAfterFailureMs?: number } = {}): SecretsManagerStore =>
  new SecretsManagerStore(client, { ...opts, now: () => t });

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** Every message in the error and its cause chain. */
function messages(e: unknown): string {
  const out: string[] = [];
  for (let c: unknown = e; c instanceof Error; c = c.cause) out.push(c.message, String(c.stack));
  return out.join('\n');
}

it('speaks the JSON 1.1 protocol: GetSecretValue by SecretId, SigV4-signed', async () => {
  await expect(store().get(ref('openai/key'))).resolves.toBe(KEY_V1);
  expect(fake.requests).toHaveLength(1);
  const [req] = fake.requests;
  expect(req!.target).toBe('secretsmanager.GetSecretValue');
  expect(req!.body).toEqual({ SecretId: 'openai/key' });
  expect(req!.headers['content-type']).toBe('application/x-amz-json-1.1');
  expect(req!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKE\//);
});

it('caches within the TTL and fetches again after it', async () => {
  const s = store({ ttlMs: 60_000 });
  await s.get(ref('openai/key'));
  t += 59_999;
  fake.setSecret('openai/key', KEY_V2);
  await expect(s.get(ref('openai/key'))).resolves.toBe(KEY_V1);
  expect(fake.getCount).toBe(1);
  t += 1;
  await expect(s.get(ref('openai/key'))).resolves.toBe(KEY_V2);
  expect(fake.getCount).toBe(2);
});

it('defaults to a 5-minute TTL', async () => {
  const s = store();
  await s.get(ref('openai/key'));
  t += 5 * 60_000 - 1;
  await s.get(ref('openai/key'));
  expect(fake.getCount).toBe(1);
  t += 1;
  await s.get(ref('openai/key'));
  expect(fake.getCount).toBe(2);
});

it('concurrent gets share one in-flight fetch', async () => {
  const s = store();
  const values = await Promise.all([s.get(ref('openai/key')), s.get(ref('openai/key')), s.get(ref('openai/key'))]);
  expect(values).toEqual([KEY_V1, KEY_V1, KEY_V1]);
  expect(fake.getCount).toBe(1);
});

it('invalidate forces a refetch within the TTL', async () => {
  const s = store();
  await s.get(ref('openai/key'));
  fake.setSecret('openai/key', KEY_V2);
  s.invalidate(ref('openai/key'));
  await expect(s.get(ref('openai/key'))).resolves.toBe(KEY_V2);
  expect(fake.getCount).toBe(2);
  await s.get(ref('openai/key'));
  expect(fake.getCount).toBe(2);
});

it('a get after invalidate does not reuse a fetch started before it', async () => {
  const s = store();
  const before = s.get(ref('openai/key'));
  s.invalidate(ref('openai/key'));
  fake.setSecret('openai/key', KEY_V2);
  const after = s.get(ref('openai/key'));
  // The earlier fetch may see either version; the later one is fresh and is what is cached.
  await before;
  await expect(after).resolves.toBe(KEY_V2);
  expect(fake.getCount).toBe(2);
  await expect(s.get(ref('openai/key'))).resolves.toBe(KEY_V2);
  expect(fake.getCount).toBe(2);
});

describe('Secrets Manager failing', () => {
  it('serves the stale value while it is younger than maxStaleMs, then refuses', async () => {
    const s = store({ ttlMs: 1_000, maxStaleMs: 10_000, retryAfterFailureMs: 0 });
    await s.get(ref('openai/key'));
    fake.failWith({ status: 500, type: 'InternalServiceError' });
    t += 9_999;
    await expect(s.get(ref('openai/key'))).resolves.toBe(KEY_V1);
    expect(fake.getCount).toBe(2);
    t += 1;
    const err = await rejection(s.get(ref('openai/key')));
    expect(err).toBeInstanceOf(SecretUnavailableError);
    expect(err.message).toMatch(/openai\/key.*InternalServiceError/);
    expect(fake.getCount).toBe(3);
  });

  it('after a failed refresh, answers from the stale value for a while without calling', async () => {
    const s = store({ ttlMs: 1_000, maxStaleMs: 60_000, retryAfterFailureMs: 5_000 });
    await s.get(ref('openai/key'));
    fake.failWith({ status: 500, type: 'InternalServiceError' });
    t += 2_000;
    await expect(s.get(ref('openai/key'))).resolves.toBe(KEY_V1);
    t += 4_999;
    await expect(s.get(ref('openai/key'))).resolves.toBe(KEY_V1);
    expect(fake.getCount).toBe(2);
    t += 1;
    fake.failWith(undefined);
    fake.setSecret('openai/key', KEY_V2);
    await expect(s.get(ref('openai/key'))).resolves.toBe(KEY_V2);
    expect(fake.getCount).toBe(3);
  });

  it('invalidate ends the pause after a failure, and the value still stands in if the refetch fails', async () => {
    const s = store({ ttlMs: 1_000, maxStaleMs: 60_000, retryAfterFailureMs: 30_000 });
    await s.get(ref('openai/key'));
    fake.failWith({ status: 500, type: 'InternalServiceError' });
    t += 2_000;
    await s.get(ref('openai/key'));
    s.invalidate(ref('openai/key'));
    await expect(s.get(ref('openai/key'))).resolves.toBe(KEY_V1);
    expect(fake.getCount).toBe(3);
  });

  it('rejects when nothing is cached', async () => {
    fake.failWith({ status: 500, type: 'InternalServiceError' });
    await expect(store().get(ref('openai/key'))).rejects.toThrow(SecretUnavailableError);
  });

  it('rejects an unknown secret with the service error name', async () => {
    const err = await rejection(store().get(ref('missing/key')));
    expect(err).toBeInstanceOf(SecretUnavailableError);
    expect(err.message).toBe('could not read secret "missing/key" from Secrets Manager (ResourceNotFoundException)');
  });

  it('rejects when Secrets Manager cannot be reached', async () => {
    const down = new SecretsManagerClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' },
      maxAttempts: 1,
    });
    try {
      await expect(new SecretsManagerStore(down).get(ref('openai/key'))).rejects.toThrow(/could not read secret "openai\/key"/);
    } finally {
      down.destroy();
    }
  });
});

describe('JSON fields', () => {
  it('takes the named string field of a JSON secret; fields of one secret share one fetch', async () => {
    const s = store();
    await expect(s.get(ref('json/secret', 'apiKey'))).resolves.toBe('sk-json-FIELD-abcdef');
    await expect(s.get(ref('json/secret', 'org'))).resolves.toBe('org-1');
    await expect(s.get(ref('json/secret'))).resolves.toBe(JSON_SECRET);
    expect(fake.getCount).toBe(1);
  });

  it.each([
    ['json/secret', 'nope', 'secret "json/secret" has no field "nope"'],
    ['json/secret', 'count', 'field "count" of secret "json/secret" is not a non-empty string'],
    ['not/json', 'apiKey', 'secret "not/json" is not a JSON object, so field "apiKey" cannot be read from it'],
    ['openai/key', 'apiKey', 'secret "openai/key" is not a JSON object, so field "apiKey" cannot be read from it'],
  ])('%s field %s -> clear error', async (id, field, message) => {
    const err = await rejection(store().get(ref(id, field)));
    expect(err).toBeInstanceOf(SecretUnavailableError);
    expect(err.message).toBe(message);
  });
});

it('refuses env and file references (they would put keys in the Lambda environment)', async () => {
  const s = store();
  await expect(s.get({ source: 'env', name: 'OPENAI_API_KEY' })).rejects.toThrow(/source "env" are refused in AWS.*Lambda environment/);
  await expect(s.get({ source: 'file', path: '/tmp/key' })).rejects.toThrow(/source "file" are refused in AWS/);
  expect(fake.requests).toHaveLength(0);
});

it('never puts a secret value in an error message', async () => {
  const s = store({ ttlMs: 1, maxStaleMs: 2 });
  const errors: unknown[] = [];
  const collect = async (p: Promise<unknown>): Promise<void> => {
    try {
      await p;
    } catch (e) {
      errors.push(e);
    }
  };
  fake.setSecret('openai/key', KEY_V1);
  await collect(s.get(ref('openai/key', 'apiKey')));
  await collect(s.get(ref('json/secret', 'count')));
  await collect(s.get(ref('json/secret', 'missing')));
  await collect(s.get(ref('not/json', 'x')));
  await s.get(ref('openai/key'));
  t += 10;
  fake.failWith({ status: 500, type: 'InternalServiceError' });
  await collect(s.get(ref('openai/key')));
  expect(errors).toHaveLength(5);
  const text = errors.map(messages).join('\n');
  for (const v of [...SECRET_VALUES, 'plain-NOT-JSON-value']) expect(text).not.toContain(v);
});
