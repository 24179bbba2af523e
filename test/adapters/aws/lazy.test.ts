/**
 * On-demand loading of the rarely used AWS clients (lambda/adapters/aws/lazy.ts) and of the
 * external PII detector (lazyMasker's loadDetector): one load shared by every caller, a failed load
 * retried on the next call, and a detector that cannot be loaded failing masking closed.
 */
import { lazyProvider, once } from '../../../lambda/adapters/aws/lazy';
import { lazyMasker } from '../../../lambda/core/masking/runtime';
import type { EmbeddingCall, EmbeddingProvider, PiiDetector } from '../../../lambda/core/ports';
import { validConfig } from '../../support/config-fixtures';

const CALL: EmbeddingCall = { input: ['x'] } as unknown as EmbeddingCall;

describe('once', () => {
  test('one load, shared by concurrent and later callers', async () => {
    let loads = 0;
    const get = once(async () => ++loads);
    expect(await Promise.all([get(), get(), get()])).toEqual([1, 1, 1]);
    expect(await get()).toBe(1);
    expect(loads).toBe(1);
  });

  test('a failed load is forgotten: the next call loads again', async () => {
    let loads = 0;
    const get = once(async () => {
      if (++loads === 1) throw new Error('chunk not readable');
      return loads;
    });
    await expect(get()).rejects.toThrow('chunk not readable');
    expect(await get()).toBe(2);
    expect(await get()).toBe(2);
  });
});

describe('lazyProvider', () => {
  test('creates the real provider on the first embed only, then delegates every call to it', async () => {
    let created = 0;
    const real: EmbeddingProvider = {
      kind: 'bedrock',
      embed: async () => ({ vectors: [[1]], usage: { promptTokens: 1, totalTokens: 1 } }) as never,
    };
    const p = lazyProvider('bedrock', async () => (created++, real));
    expect(p.kind).toBe('bedrock');
    expect(created).toBe(0);
    await p.embed(CALL);
    await p.embed(CALL);
    expect(created).toBe(1);
  });

  test('a creation failure rejects that embed, and the next one tries again', async () => {
    let attempts = 0;
    const p = lazyProvider('bedrock', async () => {
      if (++attempts === 1) throw new Error('unsupported model id');
      return { kind: 'bedrock', embed: async () => 'ok' as never };
    });
    await expect(p.embed(CALL)).rejects.toThrow('unsupported model id');
    await expect(p.embed(CALL)).resolves.toBe('ok');
  });
});

describe('lazyMasker with loadDetector', () => {
  const config = validConfig({ masking: { enabled: true, strategies: { EMAIL: 'redact' }, comprehend: { enabled: true } } });
  const secrets = { get: async () => 'unused' };

  test('loads the detector when the masker is built, once', async () => {
    let loads = 0;
    const detector: PiiDetector = { name: 'comprehend', detect: async () => [] };
    const masker = lazyMasker(config, { secrets, loadDetector: async () => (loads++, detector) })!;
    expect(loads).toBe(0);
    await Promise.all([masker(), masker()]);
    await masker();
    expect(loads).toBe(1);
  });

  test('a detector that cannot be loaded fails the build (closed), and the next use loads again', async () => {
    let loads = 0;
    const masker = lazyMasker(config, {
      secrets,
      loadDetector: async () => {
        if (++loads === 1) throw new Error('chunk not readable');
        return { name: 'comprehend', detect: async () => [] };
      },
    })!;
    await expect(masker()).rejects.toThrow('chunk not readable');
    await expect(masker()).resolves.toBeDefined();
    expect(loads).toBe(2);
  });

  test('a detector given directly wins over loadDetector', async () => {
    let loads = 0;
    const masker = lazyMasker(config, {
      secrets,
      detector: { name: 'comprehend', detect: async () => [] },
      loadDetector: async () => (loads++, { name: 'other', detect: async () => [] }),
    })!;
    await masker();
    expect(loads).toBe(0);
  });
});
