import { ComprehendClient } from '@aws-sdk/client-comprehend';
import fc from 'fast-check';
import {
  chunkText,
  ComprehendPiiDetector,
  ComprehendPiiError,
  COMPREHEND_PII_MAX_TEXT_BYTES,
  utf8Bytes,
} from '../../../lambda/adapters/aws/comprehend';
import type { ComprehendPiiDetectorOptions } from '../../../lambda/adapters/aws/comprehend';
import type { PiiEntity } from '../../../lambda/core/ports';
import { COMPREHEND_ERRORS, DETECT_PII_TARGET, findPii, startFakeComprehend } from '../../support/fake-comprehend';
import type { FakeComprehend } from '../../support/fake-comprehend';

let fake: FakeComprehend;
let client: ComprehendClient;

beforeAll(async () => {
  fake = await startFakeComprehend();
  client = new ComprehendClient({
    endpoint: fake.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' },
    maxAttempts: 1,
  });
});
beforeEach(async () => {
  // Requests a failed or aborted test left behind must not take this test's scripted answers.
  await until(() => fake.inFlight === 0, 'earlier requests to finish');
  fake.reset();
  fake.maxTextBytes = 100_000;
});
afterAll(async () => {
  client.destroy();
  await fake.close();
});

const detector = (opts: ComprehendPiiDetectorOptions = {}): ComprehendPiiDetector => new ComprehendPiiDetector(client, opts);

/** Chunk size used by the chunking tests, enforced by the fake too. */
const SMALL = 400;
/** The overlap the detector derives for SMALL (min(512, SMALL / 8)). */
const SMALL_OVERLAP = 50;

/** What the detector should return: the fake's reference matches on the whole text, filtered. */
function expected(text: string, minScore = 0.8, types?: readonly string[]): PiiEntity[] {
  return findPii(text)
    .filter((m) => m.score >= minScore && (!types || types.includes(m.type)))
    .map((m) => ({ type: m.type, start: m.start, end: m.end, score: m.score }));
}

async function rejection(p: Promise<unknown>): Promise<ComprehendPiiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ComprehendPiiError);
    return e as ComprehendPiiError;
  }
  throw new Error('expected a rejection');
}

/** Everything an error exposes: messages, stacks and own properties along the cause chain. */
function exposed(e: unknown): string {
  const out: string[] = [];
  for (let c: unknown = e; c instanceof Error; c = c.cause) out.push(c.message, String(c.stack), JSON.stringify(c));
  return out.join('\n');
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Deterministic prose: sentences of common words, a paragraph break every few sentences. */
function prose(words: number, seed = 1): string {
  const vocab = [
    'the',
    'account',
    'was',
    'opened',
    'by',
    'a',
    'customer',
    'who',
    'called',
    'support',
    'about',
    'billing',
    'and',
    'asked',
    'for',
    'help',
    'with',
    'invoices',
    'yesterday',
    'morning',
  ];
  let x = seed;
  const next = (): number => (x = (x * 1103515245 + 12345) % 2147483648);
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    let w = vocab[next() % vocab.length]!;
    if (i % 11 === 10) w += '.';
    out.push(w);
    if (i % 47 === 46) out.push('\n\n');
  }
  return out.join(' ').replace(/ \n\n /g, '\n\n');
}

/** Prose without sentence ends or paragraphs: chunks can only end at whitespace. */
const words = (n: number, seed = 1): string =>
  prose(n, seed)
    .replace(/\.|\n\n/g, ' ')
    .replace(/ +/g, ' ');

const CARD = '4111 1111 1111 1111';

/** Prose with `entity` placed so that it crosses the end of the first chunk (chunks of SMALL bytes). */
function straddling(entity: string, seed: number): { text: string; at: number; firstEnd: number } {
  // Words only: with sentence ends nearby the chunker would break there, before the entity.
  const filler = words(200, seed);
  for (let k = 200; k < filler.length; k++) {
    const text = `${filler.slice(0, k)} ${entity} ${filler.slice(k)}`;
    const at = k + 1;
    const first = chunkText(text, SMALL, SMALL_OVERLAP)[0]!;
    const firstEnd = first.start + first.text.length;
    if (at < firstEnd && firstEnd < at + entity.length) return { text, at, firstEnd };
  }
  throw new Error('no placement crosses the first chunk end');
}
const EMAIL = 'jane.doe@example.com';
const SSN = '123-45-6789';

describe('calls', () => {
  it('sends a short text in one signed DetectPiiEntities call and maps the entities', async () => {
    const text = `Contact ${EMAIL} or use SSN ${SSN}.`;
    const d = detector();
    expect(d.name).toBe('comprehend');
    const found = await d.detect(text);
    expect(found).toEqual(expected(text));
    expect(found.map((e) => text.slice(e.start, e.end))).toEqual([EMAIL, SSN]);
    expect(fake.detectCount).toBe(1);
    const [req] = fake.requests;
    expect(req!.target).toBe(DETECT_PII_TARGET);
    expect(req!.body).toEqual({ Text: text, LanguageCode: 'en' });
    expect(req!.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(req!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKE\//);
  });

  it('sends the configured languageCode', async () => {
    await detector({ languageCode: 'es' }).detect(`Escriba a ${EMAIL}`);
    expect(fake.requests[0]!.body).toEqual({ Text: `Escriba a ${EMAIL}`, LanguageCode: 'es' });
  });

  it('makes no call for empty or blank text', async () => {
    await expect(detector().detect('')).resolves.toEqual([]);
    await expect(detector().detect(' \n\t ')).resolves.toEqual([]);
    expect(fake.detectCount).toBe(0);
  });

  it('returns entities sorted by start whatever the order of the answer', async () => {
    const text = `a ${EMAIL} b ${SSN} c ${CARD}`;
    fake.enqueue({
      kind: 'json',
      body: {
        Entities: [
          { Type: 'CREDIT_DEBIT_NUMBER', Score: 0.9, BeginOffset: text.indexOf(CARD), EndOffset: text.indexOf(CARD) + CARD.length },
          { Type: 'EMAIL', Score: 0.99, BeginOffset: 2, EndOffset: 2 + EMAIL.length },
          { Type: 'SSN', Score: 0.95, BeginOffset: text.indexOf(SSN), EndOffset: text.indexOf(SSN) + SSN.length },
        ],
      },
    });
    const found = await detector().detect(text);
    expect(found.map((e) => e.type)).toEqual(['EMAIL', 'SSN', 'CREDIT_DEBIT_NUMBER']);
  });
});

describe('chunking', () => {
  beforeEach(() => {
    fake.maxTextBytes = SMALL;
  });

  it('defaults to the 100 KB API limit: a 99 000-byte text is one call', async () => {
    fake.maxTextBytes = COMPREHEND_PII_MAX_TEXT_BYTES;
    const text = `${prose(16_000)} ${EMAIL}`.slice(-99_000);
    expect(utf8Bytes(text)).toBeLessThanOrEqual(COMPREHEND_PII_MAX_TEXT_BYTES);
    await detector().detect(text);
    expect(fake.detectCount).toBe(1);
  });

  it('splits a text over the limit into several calls and finds every entity at its original offsets', async () => {
    const parts: string[] = [];
    for (let i = 0; i < 40; i++)
      parts.push(words(5 + (i % 4), i + 1), `user${i}@mail${i}.example.org`, words(2, i + 100), i % 3 ? CARD : SSN);
    const text = parts.join(' ');
    expect(utf8Bytes(text)).toBeGreaterThan(8 * SMALL);

    const found = await detector({ maxChunkBytes: SMALL }).detect(text);
    expect(found).toEqual(expected(text));
    expect(found).toHaveLength(80);
    for (const e of found) expect(findPii(text.slice(e.start, e.end))[0]).toMatchObject({ type: e.type, start: 0, end: e.end - e.start });

    // The calls are exactly the chunks, each within the limit (the fake also enforces it).
    const chunks = chunkText(text, SMALL, SMALL_OVERLAP);
    expect(fake.detectCount).toBe(chunks.length);
    expect([...fake.texts].sort()).toEqual(chunks.map((c) => c.text).sort());
    for (const t of fake.texts) expect(utf8Bytes(t)).toBeLessThanOrEqual(SMALL);

    // The test is meaningful: some entities were cut by a chunk end, some seen by two calls.
    const cut = found.filter((e) => chunks.some((c) => e.start < c.start + c.text.length && c.start + c.text.length < e.end));
    const seenTwice = found.filter((e) => chunks.filter((c) => c.start <= e.start && e.end <= c.start + c.text.length).length > 1);
    expect(cut.length).toBeGreaterThan(0);
    expect(seenTwice.length).toBeGreaterThan(0);
  });

  it('finds once an entity straddling a chunk boundary, with its original offsets', async () => {
    const { text, at, firstEnd } = straddling(CARD, 7);
    const found = await detector({ maxChunkBytes: SMALL }).detect(text);
    expect(found).toEqual([{ type: 'CREDIT_DEBIT_NUMBER', start: at, end: at + CARD.length, score: 0.92 }]);
    // The first call saw only part of it, a later one all of it.
    expect(fake.texts.filter((t) => t.includes(CARD))).toHaveLength(1);
    expect(fake.texts.some((t) => t.endsWith(CARD.slice(0, firstEnd - at)))).toBe(true);
  });

  it('reports once an entity found by two calls (in an overlap)', async () => {
    const filler = prose(200, 3);
    let text = '';
    for (let k = 150; k < filler.length && !text; k++) {
      const candidate = `${filler.slice(0, k)} ${EMAIL} ${filler.slice(k)}`;
      const at = k + 1;
      const chunks = chunkText(candidate, SMALL, SMALL_OVERLAP);
      if (chunks.filter((c) => c.start <= at && at + EMAIL.length <= c.start + c.text.length).length === 2) text = candidate;
    }
    expect(text).not.toBe('');
    const found = await detector({ maxChunkBytes: SMALL }).detect(text);
    expect(fake.texts.filter((t) => t.includes(EMAIL))).toHaveLength(2);
    expect(found).toEqual([{ type: 'EMAIL', start: text.indexOf(EMAIL), end: text.indexOf(EMAIL) + EMAIL.length, score: 0.99 }]);
  });

  it('merges a part found at a chunk end with the whole found in the next chunk', async () => {
    // A detector that recognises a name even when cut: the first call answers the part of the
    // name it saw (up to its end), the next call the whole name.
    const NAME = 'Maria Fernanda Gonzalez';
    const { text, at, firstEnd } = straddling(NAME, 5);
    fake.setScript((req) => {
      const t = req.text ?? '';
      const whole = t.indexOf(NAME);
      if (whole >= 0)
        return { kind: 'json', body: { Entities: [{ Type: 'NAME', Score: 0.95, BeginOffset: whole, EndOffset: whole + NAME.length }] } };
      const part = t.endsWith(NAME.slice(0, firstEnd - at)) ? t.length - (firstEnd - at) : -1;
      return { kind: 'json', body: { Entities: part < 0 ? [] : [{ Type: 'NAME', Score: 0.85, BeginOffset: part, EndOffset: t.length }] } };
    });
    const found = await detector({ maxChunkBytes: SMALL }).detect(text);
    expect(fake.texts.filter((t) => t.includes(NAME))).toHaveLength(1);
    expect(found).toEqual([{ type: 'NAME', start: at, end: at + NAME.length, score: 0.95 }]);
  });

  it('ends chunks at paragraph breaks, then sentence ends, then whitespace', () => {
    const paragraphs = Array.from({ length: 12 }, (_, i) => `${prose(25, i + 1)}.`).join('\n\n');
    const byParagraph = chunkText(paragraphs, SMALL, SMALL_OVERLAP);
    expect(byParagraph.length).toBeGreaterThan(3);
    for (const c of byParagraph.slice(0, -1)) expect(c.text).toMatch(/\n\n$/);

    const sentences = Array.from({ length: 40 }, (_, i) => `${prose(9, i + 1)}.`).join(' ');
    expect(sentences).not.toMatch(/\n/);
    for (const c of chunkText(sentences, SMALL, SMALL_OVERLAP).slice(0, -1)) expect(c.text).toMatch(/\. $/);

    const plain = words(400, 9);
    const chunks = chunkText(plain, SMALL, SMALL_OVERLAP);
    expect(chunks.length).toBeGreaterThan(3);
    for (const [i, c] of chunks.entries()) {
      if (i > 0) expect(plain[c.start - 1]).toBe(' ');
      if (i === chunks.length - 1) continue;
      expect(c.text).toMatch(/ $/);
      expect(c.text.length * 2).toBeGreaterThanOrEqual(SMALL); // at least half full (ASCII)
    }
  });

  it('hard-splits a word longer than a chunk between code points, never inside a surrogate pair', async () => {
    const word = '😀é中x'.repeat(150); // 10 bytes and 5 UTF-16 units per repeat
    const text = `${word} ${EMAIL}`;
    const found = await detector({ maxChunkBytes: SMALL }).detect(text);
    expect(found).toEqual(expected(text));
    expect(fake.detectCount).toBeGreaterThan(3);
    for (const t of fake.texts) {
      expect(utf8Bytes(t)).toBeLessThanOrEqual(SMALL);
      expect(t).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    }
  });

  it('property: chunks cover the text, fit the limit, overlap, and break between code points', () => {
    const piece = fc.constantFrom(
      'word',
      'mot',
      'café',
      'naïve',
      '東京',
      '日本語',
      '😀',
      '👍🏽',
      ' ',
      ' ',
      ' ',
      '. ',
      '\n',
      '\n\n',
      'x'.repeat(30),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 300 }), fc.integer({ min: 16, max: 300 }), (pieces, maxBytes) => {
        const text = pieces.join('');
        const overlap = Math.min(512, Math.floor(maxBytes / 8));
        const chunks = chunkText(text, maxBytes, overlap);
        if (text === '') return chunks.length === 0;
        let covered = 0;
        for (const [i, c] of chunks.entries()) {
          expect(text.slice(c.start, c.start + c.text.length)).toBe(c.text);
          expect(utf8Bytes(c.text)).toBeLessThanOrEqual(maxBytes);
          expect(c.start).toBeLessThanOrEqual(covered); // no gap
          if (i > 0) expect(c.start).toBeGreaterThan(chunks[i - 1]!.start); // progress
          expect(c.start + c.text.length).toBeGreaterThan(covered);
          covered = c.start + c.text.length;
          for (const edge of [c.start, c.start + c.text.length]) {
            expect(/[\uD800-\uDBFF]/.test(text[edge - 1] ?? '') && /[\uDC00-\uDFFF]/.test(text[edge] ?? '')).toBe(false);
          }
        }
        expect(covered).toBe(text.length);
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('property', () => {
  it('detect on chunks finds exactly what the fake finds on the whole text, at the same offsets', async () => {
    // Words of at most 30 bytes, entities shorter than the overlap (>= 25 bytes here), spaces
    // between pieces, a word between card numbers (so a chunk cannot see two halves as one card).
    const piece = fc.constantFrom(
      'word',
      'café',
      'naïve',
      '東京',
      '日本語の',
      '😀',
      '👍🏽',
      '.',
      '\n',
      '\n\n',
      'x'.repeat(30),
      EMAIL,
      `card ${CARD} ok`,
      SSN,
      'a@b.io',
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { minLength: 20, maxLength: 160 }), fc.integer({ min: 200, max: 600 }), async (pieces, maxBytes) => {
        fake.reset();
        fake.maxTextBytes = maxBytes;
        const text = pieces.join(' ');
        const found = await detector({ maxChunkBytes: maxBytes, concurrency: 3 }).detect(text);
        expect(found).toEqual(expected(text));
        for (const t of fake.texts) expect(utf8Bytes(t)).toBeLessThanOrEqual(maxBytes);
      }),
      { numRuns: 60 },
    );
  });
});

describe('offsets', () => {
  it('maps code-point offsets to UTF-16 offsets with emoji before an entity', async () => {
    const text = `👋🏽 Hi 😀😀 — write to ${EMAIL} 🎉 or ${SSN}`;
    const found = await detector().detect(text);
    expect(found.map((e) => text.slice(e.start, e.end))).toEqual([EMAIL, SSN]);
    expect(found[0]).toEqual({ type: 'EMAIL', start: text.indexOf(EMAIL), end: text.indexOf(EMAIL) + EMAIL.length, score: 0.99 });
    // What the service answered counts the emoji as one each (4 astral code points before the email here).
    const cpBegin = [...text.slice(0, text.indexOf(EMAIL))].length;
    expect(cpBegin).toBe(text.indexOf(EMAIL) - 4);
  });

  it('handles accents, CJK and emoji across many chunks', async () => {
    fake.maxTextBytes = SMALL;
    const parts: string[] = [];
    for (let i = 0; i < 25; i++) {
      parts.push(
        `Señora Müller écrit à ${i % 3 ? '東京の顧客' : 'café naïve'} 😀👍🏽 ${'日本語のテキスト '.repeat(i % 4)}`,
        `m${i}@example.jp`,
        `电话 ${SSN.replace('6789', String(1000 + i))} 🎉`,
      );
    }
    const text = parts.join(' ');
    expect(utf8Bytes(text)).toBeGreaterThan(text.length * 1.3);
    const found = await detector({ maxChunkBytes: SMALL }).detect(text);
    expect(found).toEqual(expected(text));
    expect(found).toHaveLength(50);
    expect(fake.detectCount).toBeGreaterThan(5);
    for (const e of found) expect(text.slice(e.start, e.end)).toMatch(e.type === 'EMAIL' ? /^m\d+@example\.jp$/ : /^123-45-\d{4}$/);
  });

  it('rejects offsets outside the text sent as an invalid response', async () => {
    fake.enqueue({ kind: 'json', body: { Entities: [{ Type: 'EMAIL', Score: 0.99, BeginOffset: 3, EndOffset: 400 }] } });
    const e = await rejection(detector().detect(`short ${EMAIL}`));
    expect(e.reason).toBe('invalid_response');
    expect(e.message).toMatch(/offsets 3\.\.400/);
  });
});

describe('concurrency', () => {
  const longText = (): string => Array.from({ length: 40 }, (_, i) => `${prose(20, i + 1)} u${i}@x${i}.example.com`).join(' ');

  it.each([
    [1, 1],
    [3, 3],
    [undefined, 4],
  ])('with concurrency %p keeps at most %i calls in flight and returns results in order', async (concurrency, bound) => {
    fake.maxTextBytes = SMALL;
    fake.setScript(() => ({ kind: 'success', latencyMs: 30 }));
    const text = longText();
    const found = await detector({ maxChunkBytes: SMALL, ...(concurrency === undefined ? {} : { concurrency }) }).detect(text);
    expect(fake.detectCount).toBeGreaterThan(bound * 2);
    expect(fake.maxInFlight).toBe(bound);
    expect(found).toEqual(expected(text));
  });

  it('with varying latencies, still maps every chunk to its own offsets', async () => {
    fake.maxTextBytes = SMALL;
    fake.setScript((_req, n) => ({ kind: 'success', latencyMs: (n * 37) % 60 }));
    const text = longText();
    await expect(detector({ maxChunkBytes: SMALL, concurrency: 5 }).detect(text)).resolves.toEqual(expected(text));
  });
});

describe('filters', () => {
  const text = `Call (555) 123-4567, mail ${EMAIL}, card ${CARD}, SSN ${SSN}.`;

  it('drops entities under minScore (default 0.8)', async () => {
    expect((await detector().detect(text)).map((e) => e.type)).toEqual(['EMAIL', 'CREDIT_DEBIT_NUMBER', 'SSN']);
    expect((await detector({ minScore: 0.5 }).detect(text)).map((e) => e.type)).toEqual(['PHONE', 'EMAIL', 'CREDIT_DEBIT_NUMBER', 'SSN']);
    expect((await detector({ minScore: 0.95 }).detect(text)).map((e) => e.type)).toEqual(['EMAIL', 'SSN']);
    fake.enqueue({ kind: 'success', scores: { EMAIL: 0.8, SSN: 0.7999 } });
    expect((await detector().detect(text)).map((e) => [e.type, e.score])).toEqual([
      ['EMAIL', 0.8],
      ['CREDIT_DEBIT_NUMBER', 0.92],
    ]);
  });

  it('keeps only entityTypes', async () => {
    expect(await detector({ entityTypes: ['SSN', 'PHONE'] }).detect(text)).toEqual(expected(text, 0.8, ['SSN']));
    expect(await detector({ entityTypes: ['SSN', 'PHONE'], minScore: 0 }).detect(text)).toEqual(expected(text, 0, ['SSN', 'PHONE']));
  });
});

describe('failures', () => {
  const SECRET_TEXT = `Patient record: ${EMAIL}, SSN ${SSN}, notes TOP-SECRET-TEXT`;
  const leaks = (e: unknown): boolean => ['TOP-SECRET-TEXT', EMAIL, SSN].some((s) => exposed(e).includes(s));

  it.each([
    ['throttling', COMPREHEND_ERRORS.throttling, 'throttled', true, /throttled.*TooManyRequestsException.*concurrency/],
    ['a 500', COMPREHEND_ERRORS.internal, 'unavailable', true, /InternalServerException, HTTP 500/],
    ['a 503', COMPREHEND_ERRORS.unavailable, 'unavailable', true, /HTTP 503/],
    ['access denied', COMPREHEND_ERRORS.accessDenied, 'denied', false, /comprehend:DetectPiiEntities permission/],
  ] as const)('%s rejects with a clear error that does not quote the text', async (_label, failure, reason, retryable, message) => {
    fake.enqueue({ ...failure, echoText: true });
    const e = await rejection(detector().detect(SECRET_TEXT));
    expect(e.reason).toBe(reason);
    expect(e.retryable).toBe(retryable);
    expect(e.code).toBe(failure.type);
    expect(e.status).toBe(failure.status);
    expect(e.requestId).toBe('fake-request-id');
    expect(e.message).toMatch(message);
    expect(leaks(e)).toBe(false);
  });

  it('an unsupported language names languageCode', async () => {
    const e = await rejection(detector({ languageCode: 'fr' }).detect(SECRET_TEXT));
    expect(e).toMatchObject({ reason: 'invalid_request', retryable: false, code: 'UnsupportedLanguageException' });
    expect(e.message).toMatch(/languageCode "fr"/);
    expect(leaks(e)).toBe(false);
    const v = await rejection(detector({ languageCode: 'xx' }).detect(SECRET_TEXT));
    expect(v).toMatchObject({ reason: 'invalid_request', code: 'ValidationException' });
    expect(v.message).toMatch(/languageCode \("xx"/);
  });

  it('a chunk over the service limit names maxChunkBytes', async () => {
    fake.maxTextBytes = 40;
    const e = await rejection(detector({ maxChunkBytes: 1000 }).detect(SECRET_TEXT));
    expect(e).toMatchObject({ reason: 'invalid_request', code: 'TextSizeLimitExceededException' });
    expect(e.message).toMatch(/maxChunkBytes \(now 1000/);
    expect(leaks(e)).toBe(false);
  });

  it('a call over timeoutMs rejects as a timeout, and the call is cancelled', async () => {
    fake.enqueue({ kind: 'hang' });
    const started = Date.now();
    const e = await rejection(detector({ timeoutMs: 150 }).detect(SECRET_TEXT));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(e).toMatchObject({ reason: 'timeout', retryable: true });
    expect(e.message).toMatch(/timeoutMs \(150 ms\)/);
    expect(leaks(e)).toBe(false);
    await until(() => fake.inFlight === 0, 'the hung request to be closed');
  });

  it('an unreachable endpoint rejects as unavailable', async () => {
    const dead = await startFakeComprehend();
    const endpoint = dead.endpoint;
    await dead.close();
    const c = new ComprehendClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    try {
      const e = await rejection(new ComprehendPiiDetector(c).detect(SECRET_TEXT));
      expect(e).toMatchObject({ reason: 'unavailable', retryable: true });
      expect(leaks(e)).toBe(false);
    } finally {
      c.destroy();
    }
  });

  it('the first failing chunk stops the rest: no new call starts', async () => {
    fake.maxTextBytes = SMALL;
    const text = Array.from({ length: 30 }, (_, i) => `${prose(20, i + 1)} ${EMAIL}`).join(' ');
    const chunks = chunkText(text, SMALL, SMALL_OVERLAP).length;
    expect(chunks).toBeGreaterThan(10);
    fake.setScript((_req, n) => (n === 2 ? { ...COMPREHEND_ERRORS.internal, latencyMs: 10 } : { kind: 'success', latencyMs: 40 }));
    const e = await rejection(detector({ maxChunkBytes: SMALL, concurrency: 3 }).detect(text));
    expect(e.reason).toBe('unavailable');
    expect(fake.detectCount).toBeLessThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.detectCount).toBeLessThanOrEqual(3);
  });
});

describe('abort', () => {
  it('stops the calls in flight and starts no more', async () => {
    fake.maxTextBytes = SMALL;
    fake.setScript(() => ({ kind: 'hang' }));
    const text = Array.from({ length: 20 }, (_, i) => `${prose(20, i + 1)} ${EMAIL}`).join(' ');
    const controller = new AbortController();
    const p = detector({ maxChunkBytes: SMALL, concurrency: 2 }).detect(text, controller.signal);
    await until(() => fake.detectCount === 2, 'two calls in flight');
    const reason = new Error('client went away');
    controller.abort(reason);
    const e = await rejection(p);
    expect(e.reason).toBe('aborted');
    expect(e.cause).toBe(reason);
    await until(() => fake.inFlight === 0, 'the aborted requests to be closed');
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.detectCount).toBe(2);
  });

  it('an already aborted signal makes no call', async () => {
    const e = await rejection(detector().detect(`mail ${EMAIL}`, AbortSignal.abort()));
    expect(e.reason).toBe('aborted');
    expect(fake.detectCount).toBe(0);
  });
});

describe('options', () => {
  it.each([
    [{ minScore: 1.5 }, /minScore/],
    [{ minScore: Number.NaN }, /minScore/],
    [{ concurrency: 0 }, /concurrency/],
    [{ concurrency: 1.5 }, /concurrency/],
    [{ maxChunkBytes: 8 }, /maxChunkBytes/],
    [{ entityTypes: [] }, /entityTypes/],
    [{ timeoutMs: 0 }, /timeoutMs/],
    [{ languageCode: '' }, /languageCode/],
  ] as const)('refuses %p', (opts, message) => {
    expect(() => detector(opts as ComprehendPiiDetectorOptions)).toThrow(message);
  });
});
