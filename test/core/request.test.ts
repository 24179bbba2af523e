/**
 * The OpenAI embeddings request: every input shape, every refusal with its status, code and
 * param, body size limits (also for base64 bodies), per-model limits (422), and robustness on
 * arbitrary bodies.
 */
import fc from 'fast-check';
import type { Limits } from '../../shared/config';
import { GatewayError } from '../../lambda/core/errors';
import { bodyBytes, enforceLimits, parseEmbeddingsRequest, summarizeInput, type EmbeddingsRequest } from '../../lambda/core/request';

const MAX = 2 * 1024 * 1024;

const parse = (doc: unknown, maxBytes = MAX) => parseEmbeddingsRequest(JSON.stringify(doc), false, maxBytes);
const req = (extra: Record<string, unknown> = {}) => ({ model: 'small', input: 'hello', ...extra });

/** The GatewayError `fn` throws; fails the test when it throws something else or nothing. */
function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    return e as GatewayError;
  }
  throw new Error('expected a GatewayError, nothing was thrown');
}

const refusal = (e: GatewayError) => ({ status: e.status, type: e.type, code: e.code, param: e.param });
const bad = (code: string, param: string | null) => ({ status: 400, type: 'invalid_request_error', code, param });

describe('parseEmbeddingsRequest: input shapes', () => {
  it('a string is one text item', () => {
    expect(parse(req({ input: 'hello world' })).input).toStrictEqual({ kind: 'text', items: ['hello world'] });
  });

  it('an array of strings is one text item per string, in order', () => {
    expect(parse(req({ input: ['a', 'b', 'c'] })).input).toStrictEqual({ kind: 'text', items: ['a', 'b', 'c'] });
  });

  it('an array of token ids is one token item', () => {
    expect(parse(req({ input: [0, 1, 2 ** 31 - 1] })).input).toStrictEqual({ kind: 'tokens', items: [[0, 1, 2 ** 31 - 1]] });
  });

  it('an array of token-id arrays is one token item per array, in order', () => {
    expect(parse(req({ input: [[1, 2], [3]] })).input).toStrictEqual({ kind: 'tokens', items: [[1, 2], [3]] });
  });

  it('the parsed request has defaults applied and only the validated fields (unknown fields are ignored)', () => {
    const r = parse({ model: 'small', input: 'x', foo: 1, extra_body: { a: 1 }, stream: true });
    expect(r).toStrictEqual({ model: 'small', input: { kind: 'text', items: ['x'] }, encodingFormat: 'float' });
  });

  it('optional fields are carried when valid; null means absent', () => {
    expect(parse(req({ encoding_format: 'base64', dimensions: 256, user: 'u-1' }))).toStrictEqual({
      model: 'small',
      input: { kind: 'text', items: ['hello'] },
      encodingFormat: 'base64',
      dimensions: 256,
      user: 'u-1',
    });
    expect(parse(req({ encoding_format: null, dimensions: null, user: null }))).toStrictEqual({
      model: 'small',
      input: { kind: 'text', items: ['hello'] },
      encodingFormat: 'float',
    });
  });

  it('property: any non-empty list of non-empty strings parses to exactly those items', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', minLength: 1 }), { minLength: 1, maxLength: 20 }), (items) => {
        expect(parse(req({ input: items })).input).toStrictEqual({ kind: 'text', items });
      }),
    );
  });
});

describe('parseEmbeddingsRequest: refusals', () => {
  it.each([
    ['an empty string', ''],
    ['an empty array', []],
    ['an empty string item', ['a', '']],
    ['a nested empty array', [[]]],
    ['a later nested empty array', [[1], []]],
  ])('%s is 400 empty_input (param input)', (_what, input) => {
    expect(refusal(thrown(() => parse(req({ input }))))).toEqual(bad('empty_input', 'input'));
  });

  it.each([
    ['missing', undefined],
    ['null', null],
  ])('a %s input is 400 missing_input (param input)', (_what, input) => {
    expect(refusal(thrown(() => parse(req({ input }))))).toEqual(bad('missing_input', 'input'));
  });

  it.each([
    ['string then number', ['a', 1]],
    ['number then string', [1, 'a']],
    ['array then string', [[1], 'a']],
    ['string then array', ['a', [1]]],
    ['array of strings inside', [[1], ['a']]],
    ['booleans', [true]],
    ['nulls', [null]],
    ['objects', [{ text: 'a' }]],
    ['an object', { text: 'a' }],
    ['a number', 5],
    ['a boolean', true],
  ])('mixed or wrong types (%s) are 400 invalid_input (param input)', (_what, input) => {
    expect(refusal(thrown(() => parse(req({ input }))))).toEqual(bad('invalid_input', 'input'));
  });

  it.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['above 2^31-1', 2 ** 31],
    ['huge', 1e300],
    ['unsafe integer', 2 ** 53 + 2],
  ])('a %s token id is 400 invalid_input (param input), flat or nested', (_what, id) => {
    expect(refusal(thrown(() => parse(req({ input: [1, id] }))))).toEqual(bad('invalid_input', 'input'));
    expect(refusal(thrown(() => parse(req({ input: [[1], [2, id]] }))))).toEqual(bad('invalid_input', 'input'));
  });

  it.each(['{', 'not json', "{'model':'x'}", '{"model":"x",}', ' '])('a body that is not JSON (%p) is 400 invalid_json', (body) => {
    expect(refusal(thrown(() => parseEmbeddingsRequest(body, false, MAX)))).toEqual(bad('invalid_json', null));
  });

  it.each(['[]', '"text"', '1', 'null', 'true', '[{"model":"x","input":"y"}]'])(
    'a JSON body that is not an object (%s) is 400 invalid_body',
    (body) => {
      expect(refusal(thrown(() => parseEmbeddingsRequest(body, false, MAX)))).toEqual(bad('invalid_body', null));
    },
  );

  it('an absent or empty body is 400 missing_body', () => {
    expect(refusal(thrown(() => parseEmbeddingsRequest(undefined, false, MAX)))).toEqual(bad('missing_body', null));
    expect(refusal(thrown(() => parseEmbeddingsRequest('', false, MAX)))).toEqual(bad('missing_body', null));
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['a number', 5],
    ['null', null],
    ['longer than 256 characters', 'm'.repeat(257)],
  ])('a %s model is 400 invalid_model (param model)', (_what, model) => {
    expect(refusal(thrown(() => parse(req({ model }))))).toEqual(bad('invalid_model', 'model'));
  });

  it('a model of 256 characters is accepted (the registry decides whether it exists)', () => {
    expect(parse(req({ model: 'm'.repeat(256) })).model).toBe('m'.repeat(256));
  });

  it.each(['int8', 'FLOAT', '', 5, true])(
    'encoding_format %p is 400 invalid_encoding_format (param encoding_format)',
    (encoding_format) => {
      expect(refusal(thrown(() => parse(req({ encoding_format }))))).toEqual(bad('invalid_encoding_format', 'encoding_format'));
    },
  );

  it.each([0, 1.5, 'x', '256', -1, 16_385, true, [256]])('dimensions %p is 400 invalid_dimensions (param dimensions)', (dimensions) => {
    expect(refusal(thrown(() => parse(req({ dimensions }))))).toEqual(bad('invalid_dimensions', 'dimensions'));
  });

  it('dimensions 1 and 16384 (the bounds) are accepted', () => {
    expect(parse(req({ dimensions: 1 })).dimensions).toBe(1);
    expect(parse(req({ dimensions: 16_384 })).dimensions).toBe(16_384);
  });

  it.each([
    ['longer than 256 characters', 'u'.repeat(257)],
    ['a number', 42],
    ['an object', { id: 'u' }],
  ])('a user that is %s is 400 invalid_user (param user)', (_what, user) => {
    expect(refusal(thrown(() => parse(req({ user }))))).toEqual(bad('invalid_user', 'user'));
  });

  it('a user of 256 characters is accepted', () => {
    expect(parse(req({ user: 'u'.repeat(256) })).user).toBe('u'.repeat(256));
  });

  it('the first problem in field order is the one reported', () => {
    expect(thrown(() => parse({ input: '', encoding_format: 'x' })).param).toBe('model');
    expect(thrown(() => parse({ model: 'm', input: '', encoding_format: 'x' })).param).toBe('input');
  });
});

describe('parseEmbeddingsRequest: body size', () => {
  it('a body larger than the limit is 413 request_too_large, checked before parsing', () => {
    const body = JSON.stringify(req({ input: 'x'.repeat(200) }));
    const e = thrown(() => parseEmbeddingsRequest(body, false, body.length - 1));
    expect(refusal(e)).toEqual({ status: 413, type: 'invalid_request_error', code: 'request_too_large', param: null });
    expect(thrown(() => parseEmbeddingsRequest('{'.repeat(101), false, 100)).status).toBe(413);
  });

  it('a body of exactly the limit is accepted', () => {
    const body = JSON.stringify(req());
    expect(parseEmbeddingsRequest(body, false, Buffer.byteLength(body)).model).toBe('small');
  });

  it('the limit counts UTF-8 bytes, not characters', () => {
    const body = JSON.stringify(req({ input: 'é'.repeat(50) }));
    expect(body.length).toBeLessThanOrEqual(Buffer.byteLength(body) - 50);
    expect(thrown(() => parseEmbeddingsRequest(body, false, body.length)).status).toBe(413);
    expect(parseEmbeddingsRequest(body, false, Buffer.byteLength(body)).input.items).toEqual(['é'.repeat(50)]);
  });

  it('a base64-encoded body (isBase64Encoded) is decoded and parsed', () => {
    const doc = req({ input: ['grüße', '日本'], dimensions: 8 });
    const b64 = Buffer.from(JSON.stringify(doc), 'utf8').toString('base64');
    expect(parseEmbeddingsRequest(b64, true, MAX)).toStrictEqual({
      model: 'small',
      input: { kind: 'text', items: ['grüße', '日本'] },
      encodingFormat: 'float',
      dimensions: 8,
    });
  });

  it('an oversized base64-encoded body is 413', () => {
    const b64 = Buffer.from(JSON.stringify(req({ input: 'x'.repeat(3000) }))).toString('base64');
    expect(thrown(() => parseEmbeddingsRequest(b64, true, 1000)).status).toBe(413);
  });

  it('a base64-encoded body that decodes to non-JSON is 400 invalid_json', () => {
    expect(refusal(thrown(() => parseEmbeddingsRequest(Buffer.from('nope').toString('base64'), true, MAX)))).toEqual(
      bad('invalid_json', null),
    );
  });
});

describe('bodyBytes', () => {
  it('is 0 for no body, the UTF-8 length for plain bodies, and about 3/4 of the length for base64', () => {
    expect(bodyBytes(undefined, false)).toBe(0);
    expect(bodyBytes('', true)).toBe(0);
    expect(bodyBytes('héllo', false)).toBe(6);
    expect(bodyBytes(Buffer.from('abcdef').toString('base64'), true)).toBe(6);
  });

  it('property: for base64 bodies it is never below the decoded size and at most 2 bytes above it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const n = bodyBytes(Buffer.from(bytes).toString('base64'), true);
        expect(n).toBeGreaterThanOrEqual(bytes.length);
        expect(n).toBeLessThanOrEqual(bytes.length + 2);
      }),
    );
  });
});

describe('parseEmbeddingsRequest: robustness', () => {
  /** Returns normally, or throws a GatewayError with status 400 or 413 and nothing else. */
  function onlyClientErrors(body: string | undefined, isBase64Encoded: boolean, maxBytes: number): void {
    try {
      parseEmbeddingsRequest(body, isBase64Encoded, maxBytes);
    } catch (e) {
      if (!(e instanceof GatewayError)) throw new Error(`threw a non-GatewayError: ${String(e)}`, { cause: e });
      expect([400, 413]).toContain(e.status);
      expect(e.type).toBe('invalid_request_error');
    }
  }

  it('property: for any JSON value as body it returns or throws a 400/413 GatewayError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), fc.integer({ min: 1, max: 4096 }), (v, b64, maxBytes) => {
        const text = JSON.stringify(v);
        onlyClientErrors(b64 ? Buffer.from(text).toString('base64') : text, b64, maxBytes);
      }),
      { numRuns: 500 },
    );
  });

  it('property: for request-shaped objects with arbitrary field values it returns or throws a 400/413 GatewayError', () => {
    const anyValue = fc.oneof(fc.jsonValue(), fc.string(), fc.array(fc.string()), fc.array(fc.integer()), fc.array(fc.array(fc.double())));
    const doc = fc.record(
      {
        model: fc.oneof(fc.string(), anyValue),
        input: anyValue,
        encoding_format: anyValue,
        dimensions: fc.oneof(fc.integer(), anyValue),
        user: anyValue,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(doc, (d) => onlyClientErrors(JSON.stringify(d), false, MAX)),
      { numRuns: 500 },
    );
  });

  it('property: for any string as body, plain or flagged base64, it returns or throws a 400/413 GatewayError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.boolean(), fc.integer({ min: 1, max: 4096 }), (body, b64, maxBytes) => {
        onlyClientErrors(body, b64, maxBytes);
      }),
      { numRuns: 500 },
    );
  });

  it('deeply nested input is refused with a 400, not a stack overflow', () => {
    const depth = 100_000;
    const body = `{"model":"m","input":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expect(refusal(thrown(() => parseEmbeddingsRequest(body, false, MAX)))).toEqual(bad('invalid_input', 'input'));
  });
});

describe('summarizeInput', () => {
  it('counts items and characters (token ids for token inputs)', () => {
    expect(summarizeInput({ kind: 'text', items: ['ab', 'cde'] })).toEqual({ kind: 'text', items: 2, characters: 5 });
    expect(summarizeInput({ kind: 'tokens', items: [[1, 2], [3]] })).toEqual({ kind: 'tokens', items: 2, characters: 3 });
  });
});

describe('enforceLimits', () => {
  const text = (items: string[], extra: Partial<EmbeddingsRequest> = {}): EmbeddingsRequest => ({
    model: 'small',
    input: { kind: 'text', items },
    encodingFormat: 'float',
    ...extra,
  });
  const tokens = (items: number[][]): EmbeddingsRequest => ({ model: 'small', input: { kind: 'tokens', items }, encodingFormat: 'float' });
  const limited = (r: EmbeddingsRequest, limits: Limits) => refusal(thrown(() => enforceLimits(r, limits)));
  const unprocessable = (code: string, param: string) => ({ status: 422, type: 'invalid_request_error', code, param });

  it('no limits: anything passes', () => {
    expect(() => enforceLimits(text(['a'.repeat(10_000), 'b'], { dimensions: 7 }), {})).not.toThrow();
  });

  it('more items than maxInputs is 422 too_many_inputs (param input); exactly maxInputs passes', () => {
    expect(limited(text(['a', 'b', 'c']), { maxInputs: 2 })).toEqual(unprocessable('too_many_inputs', 'input'));
    expect(limited(tokens([[1], [2], [3]]), { maxInputs: 2 })).toEqual(unprocessable('too_many_inputs', 'input'));
    expect(() => enforceLimits(text(['a', 'b']), { maxInputs: 2 })).not.toThrow();
  });

  it('an item longer than maxInputChars is 422 input_too_long (param input), for text and token items', () => {
    expect(limited(text(['ok', 'toolong']), { maxInputChars: 5 })).toEqual(unprocessable('input_too_long', 'input'));
    expect(thrown(() => enforceLimits(text(['ok', 'toolong']), { maxInputChars: 5 })).message).toContain('"input[1]" has 7 characters');
    expect(limited(tokens([[1, 2, 3, 4, 5, 6]]), { maxInputChars: 5 })).toEqual(unprocessable('input_too_long', 'input'));
    expect(thrown(() => enforceLimits(tokens([[1, 2, 3, 4, 5, 6]]), { maxInputChars: 5 })).message).toContain('6 tokens');
    expect(() => enforceLimits(text(['abcde']), { maxInputChars: 5 })).not.toThrow();
  });

  it('more characters in all than maxTotalChars is 422 input_too_long (param input); exactly the total passes', () => {
    expect(limited(text(['abc', 'def']), { maxTotalChars: 5 })).toEqual(unprocessable('input_too_long', 'input'));
    expect(() => enforceLimits(text(['abc', 'de']), { maxTotalChars: 5 })).not.toThrow();
  });

  it('dimensions outside allowedDimensions is 422 dimensions_not_allowed (param dimensions)', () => {
    expect(limited(text(['a'], { dimensions: 300 }), { allowedDimensions: [256, 512] })).toEqual(
      unprocessable('dimensions_not_allowed', 'dimensions'),
    );
    expect(() => enforceLimits(text(['a'], { dimensions: 512 }), { allowedDimensions: [256, 512] })).not.toThrow();
    expect(() => enforceLimits(text(['a']), { allowedDimensions: [256, 512] })).not.toThrow();
  });

  it('an empty allowedDimensions (empty intersection) refuses every explicit dimensions value', () => {
    expect(limited(text(['a'], { dimensions: 256 }), { allowedDimensions: [] })).toEqual(
      unprocessable('dimensions_not_allowed', 'dimensions'),
    );
  });

  it('the item count is checked before lengths, and lengths before dimensions', () => {
    const r = text(['abcdef', 'x'], { dimensions: 9 });
    expect(thrown(() => enforceLimits(r, { maxInputs: 1, maxInputChars: 2, allowedDimensions: [8] })).code).toBe('too_many_inputs');
    expect(thrown(() => enforceLimits(r, { maxInputChars: 2, allowedDimensions: [8] })).code).toBe('input_too_long');
  });
});
