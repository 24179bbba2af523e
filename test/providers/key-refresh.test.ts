/**
 * Upstream 401/403 with a rotated key: the provider invalidates the cached key, reads it again
 * and retries the batch once with the new key. Run with the real `SecretsManagerStore` (against
 * the fake Secrets Manager) and the real `LocalSecretStore` (which has no cache to invalidate).
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerStore } from '../../lambda/adapters/aws/secrets-manager';
import { LocalSecretStore } from '../../lambda/adapters/local/secrets';
import type { UpstreamError } from '../../lambda/core/errors';
import type { SecretRef, SecretStore } from '../../lambda/core/ports';
import { createProvider } from '../../lambda/providers';
import { startFakeSecretsManager } from '../support/fake-secrets-manager';
import type { FakeSecretsManager } from '../support/fake-secrets-manager';
import { startFakeUpstream } from '../support/fake-upstream';
import type { FakeUpstream } from '../support/fake-upstream';
import { caught, instantDeps, modelConfig } from './fixtures';

const OLD_KEY = 'sk-OLD-rotated-away-111111';
const NEW_KEY = 'sk-NEW-after-rotation-222222';
const SECRET_ID = 'openai/key';
const ref: SecretRef = { source: 'secretsManager', secretId: SECRET_ID };

let upstream: FakeUpstream;
let sm: FakeSecretsManager;
let client: SecretsManagerClient;
/** The only key the fake upstream accepts; anything else gets `rejectStatus`. */
let validKey: string;
let rejectStatus: number;

beforeAll(async () => {
  upstream = await startFakeUpstream({
    dimensions: 4,
    script: (req) => (req.headers.authorization === `Bearer ${validKey}` ? undefined : { kind: 'status', status: rejectStatus }),
  });
  sm = await startFakeSecretsManager();
  client = new SecretsManagerClient({
    endpoint: sm.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' },
    maxAttempts: 1,
  });
});
beforeEach(() => {
  upstream.reset();
  sm.reset();
  sm.failWith(undefined);
  sm.setSecret(SECRET_ID, OLD_KEY);
  validKey = OLD_KEY;
  rejectStatus = 401;
});
afterAll(async () => {
  client.destroy();
  await Promise.all([upstream.close(), sm.close()]);
});

/** A store that has cached OLD_KEY, after which the secret is rotated to NEW_KEY everywhere. */
async function rotatedStore(): Promise<SecretsManagerStore & { invalidations: number }> {
  const store = new SecretsManagerStore(client) as SecretsManagerStore & { invalidations: number };
  await expect(store.get(ref)).resolves.toBe(OLD_KEY);
  store.invalidations = 0;
  const invalidate = store.invalidate.bind(store);
  store.invalidate = (r) => {
    store.invalidations++;
    invalidate(r);
  };
  sm.setSecret(SECRET_ID, NEW_KEY);
  validKey = NEW_KEY;
  sm.reset();
  return store;
}

const provider = (secrets: SecretStore, upstreamOpts: { maxBatchSize?: number; concurrency?: number } = {}) =>
  createProvider(modelConfig({ baseUrl: upstream.url, apiKey: ref, upstream: upstreamOpts }), instantDeps({ secrets }));
const authHeaders = (): (string | undefined)[] => upstream.requests.map((r) => r.headers.authorization);

it.each([401, 403])('%d with a cached, rotated key: invalidates, re-reads, retries once with the new key', async (status) => {
  rejectStatus = status;
  const store = await rotatedStore();
  const result = await provider(store).embed({ input: ['a', 'b'] });

  expect(result.vectors).toHaveLength(2);
  expect(authHeaders()).toEqual([`Bearer ${OLD_KEY}`, `Bearer ${NEW_KEY}`]);
  expect(store.invalidations).toBe(1);
  expect(sm.getCount).toBe(1);
  expect(result.upstream).toMatchObject({ status: 200, attempts: 2, batches: 1 });
  // The new key is cached now: the next call uses it directly.
  await provider(store).embed({ input: ['c'] });
  expect(authHeaders()[2]).toBe(`Bearer ${NEW_KEY}`);
  expect(sm.getCount).toBe(1);
});

it('without a rotation (same key after the re-read) fails at once with upstream_auth_failed', async () => {
  validKey = 'sk-something-else';
  const store = new SecretsManagerStore(client);
  const err = await caught<UpstreamError>(() => provider(store).embed({ input: ['a'] }));
  expect(err).toMatchObject({ status: 502, code: 'upstream_auth_failed', reason: 'upstream_auth_failed' });
  expect(err.upstream).toMatchObject({ status: 401, attempts: 1 });
  expect(upstream.requests).toHaveLength(1);
  // Read once for the call, once after the invalidation.
  expect(sm.getCount).toBe(2);
});

it('retries only once: a 401 with the new key too ends in upstream_auth_failed', async () => {
  const store = await rotatedStore();
  validKey = 'sk-neither';
  const err = await caught<UpstreamError>(() => provider(store).embed({ input: ['a'] }));
  expect(err).toMatchObject({ status: 502, code: 'upstream_auth_failed' });
  expect(err.upstream).toMatchObject({ status: 401, attempts: 2 });
  expect(authHeaders()).toEqual([`Bearer ${OLD_KEY}`, `Bearer ${NEW_KEY}`]);
});

it('concurrent batches share one refresh, and each batch is retried once', async () => {
  const store = await rotatedStore();
  const result = await provider(store, { maxBatchSize: 1, concurrency: 3 }).embed({ input: ['a', 'b', 'c'] });
  expect(result.vectors).toHaveLength(3);
  expect(store.invalidations).toBe(1);
  expect(sm.getCount).toBe(1);
  expect(authHeaders().filter((h) => h === `Bearer ${OLD_KEY}`)).toHaveLength(3);
  expect(authHeaders().filter((h) => h === `Bearer ${NEW_KEY}`)).toHaveLength(3);
  expect(result.upstream).toMatchObject({ attempts: 6, batches: 3 });
});

it('a batch that starts after the refresh uses the new key directly', async () => {
  const store = await rotatedStore();
  await provider(store, { maxBatchSize: 1, concurrency: 1 }).embed({ input: ['a', 'b'] });
  expect(authHeaders()).toEqual([`Bearer ${OLD_KEY}`, `Bearer ${NEW_KEY}`, `Bearer ${NEW_KEY}`]);
});

it('when the re-read fails, fails with upstream_auth_failed without a second request', async () => {
  const store = new SecretsManagerStore(client, { maxStaleMs: 0 });
  const get = store.get.bind(store);
  let reads = 0;
  store.get = (r) => (++reads === 1 ? get(r) : Promise.reject(new Error('Secrets Manager is down')));
  validKey = NEW_KEY;
  const err = await caught<UpstreamError>(() => provider(store).embed({ input: ['a'] }));
  expect(err).toMatchObject({ status: 502, code: 'upstream_auth_failed' });
  expect(upstream.requests).toHaveLength(1);
  expect(reads).toBe(2);
});

it('works with a store that has no invalidate (LocalSecretStore re-reads the environment)', async () => {
  const env: NodeJS.ProcessEnv = { OPENAI_API_KEY: OLD_KEY };
  const store = new LocalSecretStore(env);
  const get = store.get.bind(store);
  // The key changes between the first read and the re-read (rotated outside the process).
  let reads = 0;
  store.get = async (r) => {
    const v = await get(r);
    if (++reads === 1) env.OPENAI_API_KEY = NEW_KEY;
    return v;
  };
  validKey = NEW_KEY;
  const model = modelConfig({ baseUrl: upstream.url, apiKey: { source: 'env', name: 'OPENAI_API_KEY' } });
  const result = await createProvider(model, instantDeps({ secrets: store })).embed({ input: ['a'] });
  expect(result.vectors).toHaveLength(1);
  expect(authHeaders()).toEqual([`Bearer ${OLD_KEY}`, `Bearer ${NEW_KEY}`]);
});

it('neither key appears in an error, even when the upstream echoes them', async () => {
  const store = await rotatedStore();
  upstream.setScript((req) =>
    req.headers.authorization === `Bearer ${NEW_KEY}`
      ? { kind: 'status', status: 400, body: { error: { message: `bad request for keys ${OLD_KEY} and ${NEW_KEY}` } } }
      : { kind: 'status', status: 401, body: { error: { message: `Incorrect API key provided: ${OLD_KEY}` } } },
  );
  const err = await caught<UpstreamError>(() => provider(store).embed({ input: ['a'] }));
  expect(err).toMatchObject({ status: 400, code: 'upstream_rejected_request' });
  const text = `${err.message} ${JSON.stringify(err.toBody())} ${JSON.stringify(err.headers)}`;
  expect(text).toContain('[redacted]');
  expect(text).not.toContain(OLD_KEY);
  expect(text).not.toContain(NEW_KEY);
});

it('a model without apiKey never reads or invalidates a secret on 401', async () => {
  const store = await rotatedStore();
  const model = modelConfig({ provider: 'openai-compatible', baseUrl: upstream.url, apiKey: undefined });
  const err = await caught<UpstreamError>(() => createProvider(model, instantDeps({ secrets: store })).embed({ input: ['a'] }));
  expect(err).toMatchObject({ code: 'upstream_auth_failed' });
  expect(upstream.requests).toHaveLength(1);
  expect(store.invalidations).toBe(0);
  expect(sm.getCount).toBe(0);
});
