import { createProvider, embedLocal } from '../../lambda/providers';
import { LOCAL_DEFAULT_DIMENSIONS } from '../../lambda/providers/local';
import { caught, fakeSecrets, modelConfig } from './fixtures';

const localModel = (dimensions?: number) =>
  modelConfig({ provider: 'local', name: 'local-hash', baseUrl: undefined, apiKey: undefined, dimensions });
const local = (dimensions?: number) => createProvider(localModel(dimensions), { secrets: fakeSecrets(new Error('never asked')) });

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('local provider', () => {
  it('is deterministic across calls and instances', async () => {
    const input = ['The quick brown fox', 'jumps over the lazy dog'];
    const a = await local().embed({ input });
    const b = await local().embed({ input: [...input] });
    expect(a.vectors.map((v) => Array.from(v))).toEqual(b.vectors.map((v) => Array.from(v)));
    expect(Array.from(a.vectors[0]!)).not.toEqual(Array.from(a.vectors[1]!));
  });

  it('gives similar texts a higher cosine similarity than unrelated ones', async () => {
    const [base, near, far] = (
      await local().embed({
        input: [
          'The invoice for the cloud storage subscription is overdue',
          'The cloud storage subscription invoice is overdue again',
          'Penguins huddle together to survive antarctic winters',
        ],
      })
    ).vectors;
    const similar = cosine(base!, near!);
    const unrelated = cosine(base!, far!);
    expect(similar).toBeGreaterThan(0.6);
    expect(unrelated).toBeLessThan(0.3);
    expect(similar - unrelated).toBeGreaterThan(0.4);
  });

  it('signs features so unrelated texts average a cosine of about 0 (no positive collision bias)', () => {
    // Deterministic pseudo-random "words" of 4-8 letters.
    let x = 12345;
    const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const word = (): string =>
      Array.from({ length: 4 + Math.floor(next() * 5) }, () => String.fromCharCode(97 + Math.floor(next() * 26))).join('');
    const text = (): string => Array.from({ length: 12 }, word).join(' ');
    const pairs = Array.from({ length: 100 }, () => embedLocal([text(), text()], 256).vectors);
    const mean = pairs.reduce((s, [a, b]) => s + cosine(a!, b!), 0) / pairs.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
  });

  it('shares spelling: an inflected word is closer than a different word', async () => {
    const [run, running, table] = (await local().embed({ input: ['running', 'runner', 'table'] })).vectors;
    expect(cosine(run!, running!)).toBeGreaterThan(cosine(run!, table!) + 0.2);
  });

  it('ignores case and punctuation', async () => {
    const [a, b] = (await local().embed({ input: ['Hello, World!', 'hello world'] })).vectors;
    expect(Array.from(a!)).toEqual(Array.from(b!));
  });

  it('returns unit vectors of dimensions: call > model > 256', async () => {
    const byDefault = await local().embed({ input: ['abc'] });
    expect(byDefault.vectors[0]).toBeInstanceOf(Float32Array);
    expect(byDefault.vectors[0]).toHaveLength(LOCAL_DEFAULT_DIMENSIONS);
    expect(LOCAL_DEFAULT_DIMENSIONS).toBe(256);
    expect((await local(64).embed({ input: ['abc'] })).vectors[0]).toHaveLength(64);
    const byCall = await local(64).embed({ input: ['abc', 'a much longer text with many words in it'], dimensions: 1024 });
    for (const v of byCall.vectors) {
      expect(v).toHaveLength(1024);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
  });

  it('handles Unicode words (letters, digits and marks of any script)', async () => {
    const result = await local().embed({ input: ['Straße café naïve 東京 Ελλάδα ٣٤', 'STRASSE'] });
    expect(result.usage.promptTokens).toBe(7);
    expect(norm(result.vectors[0]!)).toBeCloseTo(1, 5);
    // NFKC keeps ß as ß: "straße" and "strasse" are different words, yet share trigrams.
    expect(cosine(result.vectors[0]!, result.vectors[1]!)).toBeGreaterThan(0);
  });

  it('embeds token-id input deterministically and counts ids', async () => {
    const input = [
      [101, 2023, 2003, 102],
      [101, 2023, 2003, 102],
      [7, 8, 9],
    ];
    const result = await local().embed({ input });
    const [a, b, c] = result.vectors;
    expect(Array.from(a!)).toEqual(Array.from(b!));
    expect(cosine(a!, c!)).toBeLessThan(0.5);
    expect(norm(c!)).toBeCloseTo(1, 5);
    expect(result.usage).toEqual({ promptTokens: 11, totalTokens: 11 });
    // Ids above 2^32 are not folded onto small ones.
    const [small, big] = (await local().embed({ input: [[5], [5 + 2 ** 32]] })).vectors;
    expect(Array.from(small!)).not.toEqual(Array.from(big!));
  });

  it('counts words as tokens and reports one instant attempt', async () => {
    const result = await local().embed({ input: ['the cat sat', 'on the mat!'] });
    expect(result.usage).toEqual({ promptTokens: 6, totalTokens: 6 });
    expect(result.upstream).toMatchObject({ status: 200, attempts: 1, batches: 1 });
    expect(result.upstream.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('uses deps.now for latency', async () => {
    let t = 1000;
    const provider = createProvider(localModel(), { secrets: fakeSecrets(), now: () => (t += 7) });
    expect((await provider.embed({ input: ['x'] })).upstream.latencyMs).toBe(7);
  });

  it('leaves a text without words as a zero vector', () => {
    const { vectors, tokens } = embedLocal(['  ...  '], 16);
    expect(Array.from(vectors[0]!)).toEqual(new Array(16).fill(0));
    expect(tokens).toBe(0);
  });

  it('fails with 400 for impossible dimensions', async () => {
    const err = await caught<{ status: number; code: string }>(() => local().embed({ input: ['x'], dimensions: 0 }));
    expect(err).toMatchObject({ status: 400, code: 'invalid_dimensions' });
  });

  it('is the provider createProvider returns for provider "local"', () => {
    expect(local().kind).toBe('local');
  });

  it('embeds a large request, one normalised vector per item (speed is measured in npm run bench, not here)', () => {
    const text = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor '.repeat(20);
    const input = Array.from({ length: 500 }, (_, i) => `${text} ${i}`);
    const { vectors } = embedLocal(input, 256);
    expect(vectors).toHaveLength(500);
    for (const v of vectors) expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    expect(vectors[0]).not.toEqual(vectors[1]);
  });
});
