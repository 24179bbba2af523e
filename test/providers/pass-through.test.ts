/**
 * Keeping the upstream's own encoding of vectors (response pass-through): where it is kept, it is
 * byte for byte what the upstream wrote and decodes to exactly the vectors the gateway checked and
 * fingerprints; where it cannot be kept safely, it is not.
 */
import * as fc from 'fast-check';
import { createProvider } from '../../lambda/providers';
import { createCohereProvider } from '../../lambda/providers/cohere';
import { decodeBase64Float32, embeddingArrayTexts, parseEmbeddingsResponse } from '../../lambda/providers/upstream-response';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { instantDeps, modelConfig } from './fixtures';

const b64 = (v: Float32Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);
const body = (embeddings: unknown[]) => ({
  object: 'list',
  data: embeddings.map((embedding, index) => ({ object: 'embedding', index, embedding })),
  model: 'm',
  usage: { prompt_tokens: 1, total_tokens: 1 },
});

describe('embeddingArrayTexts', () => {
  it('finds the exact text of each data[i].embedding number array', () => {
    const text =
      '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,-1e-7,3]},{"index":1,"embedding":[1.25E+2,-0]}],"model":"m"}';
    expect(embeddingArrayTexts(text)).toEqual(['[0.5,-1e-7,3]', '[1.25E+2,-0]']);
  });

  it('leaves out arrays written with whitespace, nested arrays and non-arrays', () => {
    const text =
      '{"data":[{"embedding":[1, 2]},{"embedding":[[1],[2]]},{"embedding":"AAAAAA=="},{"embedding":[\n1,2]},{"embedding":[3,4]}]}';
    expect(embeddingArrayTexts(text)).toEqual([undefined, undefined, undefined, undefined, '[3,4]']);
  });

  it('is not fooled by look-alikes in strings, other keys or escaped key names', () => {
    const text = JSON.stringify({
      note: '{"data":[{"embedding":[9,9]}]}',
      data: [{ object: 'embedding', decoy: '"embedding":[7]', embeddings: [8], index: 0, tail: 'x\\' }],
    }).replace('"index":0', '"embeddin\\u0067":[1,2],"index":0');
    expect(JSON.parse(text).data[0].embedding).toEqual([1, 2]);
    expect(embeddingArrayTexts(text)).toEqual(['[1,2]']);
  });

  it('takes the last of duplicated members, as JSON.parse does', () => {
    const text = '{"data":[{"embedding":[1]}],"data":[{"embedding":[2],"embedding":[3]},{"embedding":[4],"embedding":"x"}]}';
    expect(JSON.parse(text).data.map((d: { embedding: unknown }) => d.embedding)).toEqual([[3], 'x']);
    expect(embeddingArrayTexts(text)).toEqual(['[3]', undefined]);
  });

  it('gives undefined for documents without a data array', () => {
    expect(embeddingArrayTexts('{"data":{"embedding":[1]}}')).toBeUndefined();
    expect(embeddingArrayTexts('[{"data":[]}]')).toBeUndefined();
    expect(embeddingArrayTexts('{"object":"list"}')).toBeUndefined();
    expect(embeddingArrayTexts('{"data":[]}')).toEqual([]);
  });

  // Random documents: decoy members and strings, duplicated and escaped keys, whitespace anywhere.
  const ws = fc.constantFrom('', '', ' ', '\n  ', '\t', '\r\n');
  const numberText = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x)),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e30, max: 1e30 }).map((x) => x.toExponential()),
    fc.integer({ min: -5, max: 5 }).map((x) => `${x}.5E${x}`),
  );
  const tricky = fc.oneof(
    fc.string(),
    fc.constantFrom('"embedding":[1,2]', 'a\\', '\\"', '[', ']', '{', '}', '"data":[', '\\\\"embedding\\\\":[9]'),
  );
  const decoyValue: fc.Arbitrary<unknown> = fc.oneof(
    tricky,
    fc.integer(),
    fc.constant(null),
    fc.boolean(),
    fc.array(tricky, { maxLength: 3 }),
    fc.dictionary(tricky, tricky, { maxKeys: 2 }),
  );
  type Member = { key: string; escaped: boolean; value: { nums: string[]; compact: boolean } | { other: unknown } };
  const member: fc.Arbitrary<Member> = fc.record({
    key: fc.constantFrom('embedding', 'embedding', 'embeddings', 'Embedding', 'index', 'object', 'embedding '),
    escaped: fc.boolean(),
    value: fc.oneof(
      { weight: 3, arbitrary: fc.record({ nums: fc.array(numberText, { minLength: 1, maxLength: 6 }), compact: fc.boolean() }) },
      { weight: 1, arbitrary: decoyValue.map((other) => ({ other })) },
    ),
  });

  function write(items: Member[][], decoyData: Member[][] | null, pad: () => string): { text: string; expected: (string | undefined)[] } {
    const expected: (string | undefined)[] = [];
    const item = (members: Member[], record: boolean): string => {
      let last: string | undefined;
      const parts = members.map((m) => {
        const key = m.escaped ? JSON.stringify(m.key).replace(/e/g, '\\u0065') : JSON.stringify(m.key);
        let value: string;
        if ('nums' in m.value) {
          value = m.value.compact ? `[${m.value.nums.join(',')}]` : `[${pad()}${m.value.nums.join(`${pad()},${pad()}`)} ]`;
        } else {
          value = JSON.stringify(m.value.other);
        }
        // A compact number array (an empty array is one too), else nothing.
        if (m.key === 'embedding') last = ('nums' in m.value && m.value.compact) || value === '[]' ? value : undefined;
        return `${pad()}${key}${pad()}:${pad()}${value}${pad()}`;
      });
      if (record) expected.push(last);
      return `{${parts.join(',')}}`;
    };
    const arr = (xs: Member[][], record: boolean) => `[${pad()}${xs.map((x) => item(x, record)).join(`${pad()},${pad()}`)}${pad()}]`;
    const top = [
      `"object":${pad()}"list"`,
      ...(decoyData ? [`"data":${arr(decoyData, false)}`] : []),
      `${pad()}"data"${pad()}:${pad()}${arr(items, true)}`,
      `"model":"m"`,
    ];
    return { text: `${pad()}{${top.join(`${pad()},`)}}${pad()}`, expected };
  }

  it('matches JSON.parse on random documents (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(member, { maxLength: 4 }), { maxLength: 5 }),
        fc.option(fc.array(fc.array(member, { maxLength: 2 }), { maxLength: 2 })),
        fc.array(ws, { minLength: 1, maxLength: 50 }),
        (items, decoy, spaces) => {
          let k = 0;
          const { text, expected } = write(items, decoy, () => spaces[k++ % spaces.length]!);
          const parsed = JSON.parse(text) as { data: Record<string, unknown>[] };
          const texts = embeddingArrayTexts(text);
          expect(texts).toEqual(expected);
          texts!.forEach((t, i) => {
            if (t !== undefined) {
              expect(text.includes(t)).toBe(true);
              expect(JSON.parse(t)).toEqual(parsed.data[i]!.embedding);
            }
          });
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('decodeBase64Float32', () => {
  it('accepts exactly what the anchored pattern /^[A-Za-z0-9+/]*={0,2}$/ accepted (property)', () => {
    const OLD = /^[A-Za-z0-9+/]*={0,2}$/;
    const chars = fc.constantFrom(...'AQgwBz09+/=-_ .\n'.split(''));
    const candidates = fc.oneof(
      fc.array(chars, { maxLength: 16 }).map((cs) => cs.join('')),
      fc.tuple(fc.float32Array({ minLength: 1, maxLength: 4 }), fc.nat(12), chars).map(([v, at, c]) => {
        const s = Buffer.from(v.buffer).toString('base64');
        return s.slice(0, at) + c + s.slice(at + 1);
      }),
    );
    fc.assert(
      fc.property(candidates, (s) => {
        const bytes = Buffer.from(s, 'base64').length;
        const old = s.length % 4 === 0 && OLD.test(s) && bytes % 4 === 0;
        expect(decodeBase64Float32(s) !== undefined).toBe(old);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseEmbeddingsResponse with keep', () => {
  const v0 = f32([0.5, -0.25, 1e-8]);
  const v1 = f32([3.4028234663852886e38, -0, 1.1754943508222875e-38]);

  it('keeps canonical base64 strings as they are, and nothing without keep', () => {
    const b = body([b64(v0), b64(v1)]);
    const kept = parseEmbeddingsResponse(b, 2, undefined, { format: 'base64' });
    expect(kept.encoded).toEqual([
      { format: 'base64', text: b64(v0) },
      { format: 'base64', text: b64(v1) },
    ]);
    expect(kept.items.map((i) => i.value)).toEqual([v0, v1]);
    expect(parseEmbeddingsResponse(b, 2).encoded).toBeUndefined();
    expect(parseEmbeddingsResponse(b, 2, undefined, { format: 'float', text: JSON.stringify(b) }).encoded).toBeUndefined();
  });

  it('does not keep base64 with stray bits before the padding (it still decodes, to the canonical bytes)', () => {
    const one = b64(f32([1.5])); // 4 bytes: 4 unused bits in the character before the padding
    expect(one.endsWith('==')).toBe(true);
    const stray = `${one.slice(0, 5)}${String.fromCharCode(one.charCodeAt(5) + 1)}==`;
    expect(Buffer.from(stray, 'base64')).toEqual(Buffer.from(one, 'base64'));
    const r = parseEmbeddingsResponse(body([stray, b64(f32([2.5]))]), 2, undefined, { format: 'base64' });
    expect(r.encoded).toEqual([undefined, { format: 'base64', text: b64(f32([2.5])) }]);
    expect(Array.from(r.items[0]!.value)).toEqual([1.5]);
  });

  it('keeps compact float arrays as their exact upstream text', () => {
    const text =
      '{"object":"list","data":[{"object":"embedding","index":1,"embedding":[0.1,2E-3,-7]},{"object":"embedding","index":0,"embedding":[1.0000000001,0,-0.0]}],"usage":{"prompt_tokens":2,"total_tokens":2}}';
    const r = parseEmbeddingsResponse(JSON.parse(text), 2, undefined, { format: 'float', text });
    expect(r.encoded).toEqual([
      { format: 'float', text: '[0.1,2E-3,-7]' },
      { format: 'float', text: '[1.0000000001,0,-0.0]' },
    ]);
    expect(r.items.map((i) => i.index)).toEqual([1, 0]);
    // The kept text rounds to exactly the float32 values returned.
    r.items.forEach((item, k) => expect(f32(JSON.parse(r.encoded![k]!.text))).toEqual(item.value));
  });

  it('does not keep pretty-printed arrays, or floats when base64 is wanted', () => {
    const b = body([
      [0.1, 0.2],
      [0.3, 0.4],
    ]);
    const pretty = JSON.stringify(b, null, 2);
    expect(parseEmbeddingsResponse(b, 2, undefined, { format: 'float', text: pretty }).encoded).toBeUndefined();
    expect(parseEmbeddingsResponse(b, 2, undefined, { format: 'base64', text: JSON.stringify(b) }).encoded).toBeUndefined();
    expect(parseEmbeddingsResponse(b, 2, undefined, { format: 'float' }).encoded).toBeUndefined();
  });

  it('does not keep a text that does not belong to its item (cross-check of the ends)', () => {
    const b = body([
      [0.1, 0.2],
      [0.3, 0.4],
    ]);
    // A text that is not the one parsed (as if the scanner had gone wrong) is refused.
    const other = JSON.stringify(
      body([
        [0.1, 0.2],
        [0.3, 0.5],
      ]),
    );
    expect(parseEmbeddingsResponse(b, 2, undefined, { format: 'float', text: other }).encoded).toEqual([
      { format: 'float', text: '[0.1,0.2]' },
      undefined,
    ]);
  });

  it('still validates everything (a kept encoding never lets an invalid answer through)', () => {
    const text = '{"data":[{"index":0,"embedding":[1e39,0]}]}';
    expect(() => parseEmbeddingsResponse(JSON.parse(text), 1, undefined, { format: 'float', text })).toThrow(/out of float32 range/);
  });
});

describe('providers keep the upstream encoding the client asked for', () => {
  let upstream: FakeUpstream;
  beforeAll(async () => {
    upstream = await startFakeUpstream({ dimensions: 16 });
  });
  afterEach(() => upstream.reset());
  afterAll(() => upstream.close());

  type Answer = { data: { index: number; embedding: string | number[] }[] };
  /** The embedding texts the (deterministic) fake upstream writes for `input`, by item, read from its raw answers. */
  const upstreamTexts = async (input: string[], format: 'base64' | 'float', maxBatchSize: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < input.length; i += maxBatchSize) {
      const res = await fetch(`${upstream.url}/embeddings`, {
        method: 'POST',
        body: JSON.stringify({ input: input.slice(i, i + maxBatchSize), encoding_format: format }),
      });
      const text = await res.text();
      const answer = JSON.parse(text) as Answer;
      for (const d of answer.data) {
        const t = typeof d.embedding === 'string' ? d.embedding : JSON.stringify(d.embedding);
        expect(text.includes(typeof d.embedding === 'string' ? `"${t}"` : `"embedding":${t}`)).toBe(true);
        out[i + d.index] = t;
      }
    }
    return out;
  };

  it('base64 client: the upstream base64 strings, byte for byte, over several shuffled batches', async () => {
    const input = Array.from({ length: 7 }, (_, i) => `item ${i}`);
    upstream.setBehaviour({ kind: 'success', order: 'shuffle' });
    const provider = createProvider(modelConfig({ baseUrl: upstream.url, upstream: { maxBatchSize: 3 } }), instantDeps());
    const r = await provider.embed({ input, encodingFormat: 'base64' });
    expect(upstream.requests.map((q) => (q.body as { encoding_format: string }).encoding_format)).toEqual(['base64', 'base64', 'base64']);
    upstream.setBehaviour({ kind: 'success' });
    const expected = await upstreamTexts(input, 'base64', 3);
    expect(r.encoded!.map((e) => e!.text)).toEqual(expected);
    expect(r.encoded!.every((e) => e!.format === 'base64')).toBe(true);
    r.vectors.forEach((v, i) => expect(b64(v)).toBe(expected[i]));
  });

  it('float client: still asks the upstream for base64, and keeps nothing when base64 comes back', async () => {
    const provider = createProvider(modelConfig({ baseUrl: upstream.url }), instantDeps());
    const r = await provider.embed({ input: ['a', 'b'], encodingFormat: 'float' });
    expect((upstream.requests[0]!.body as { encoding_format: string }).encoding_format).toBe('base64');
    expect(r.encoded).toBeUndefined();
  });

  it('float client, server that answers floats whatever is asked: the exact upstream array texts', async () => {
    const input = ['alpha beta', 'gamma', 'delta epsilon zeta', 'eta'];
    upstream.setBehaviour({ kind: 'success', encoding: 'float', order: 'reverse' });
    const provider = createProvider(
      modelConfig({ provider: 'openai-compatible', baseUrl: upstream.url, upstream: { maxBatchSize: 3 } }),
      instantDeps(),
    );
    const r = await provider.embed({ input, encodingFormat: 'float' });
    const expected = await upstreamTexts(input, 'float', 3);
    expect(r.encoded!.map((e) => e!.text)).toEqual(expected);
    r.vectors.forEach((v, i) => expect(f32(JSON.parse(expected[i]!))).toEqual(v));
  });

  it('base64 client, float-only server: nothing kept (the gateway encodes)', async () => {
    upstream.setBehaviour({ kind: 'success', encoding: 'float' });
    const r = await createProvider(modelConfig({ baseUrl: upstream.url }), instantDeps()).embed({ input: ['a'], encodingFormat: 'base64' });
    expect(r.encoded).toBeUndefined();
  });

  it('no encodingFormat in the call: nothing kept', async () => {
    const r = await createProvider(modelConfig({ baseUrl: upstream.url }), instantDeps()).embed({ input: ['a'] });
    expect(r.encoded).toBeUndefined();
  });

  it('Cohere: never kept (its answer has another shape)', async () => {
    const vectors = [
      [0.5, 0.25],
      [1, 2],
    ];
    const fetch = (async () =>
      new Response(JSON.stringify({ embeddings: { float: vectors }, meta: { billed_units: { input_tokens: 2 } } }), {
        status: 200,
      })) as typeof globalThis.fetch;
    const p = createCohereProvider(modelConfig({ provider: 'cohere', baseUrl: 'https://api.cohere.example' }), instantDeps({ fetch }));
    const r = await p.embed({ input: ['a', 'b'], encodingFormat: 'float' });
    expect(r.encoded).toBeUndefined();
    expect(r.vectors.map((v) => Array.from(v))).toEqual(vectors);
  });
});
