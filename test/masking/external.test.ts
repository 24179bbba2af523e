/** Running the external detector: chunking, offsets, concurrency, failures, code points. */
import { chunkText, codePointToUtf16, detectExternal } from '../../lambda/core/masking';
import type { PiiDetector, PiiEntity } from '../../lambda/core/ports';

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

describe('chunkText', () => {
  it('returns one chunk when the text fits', () => {
    expect(chunkText('hello world', 100)).toEqual([{ start: 0, text: 'hello world' }]);
    expect(chunkText('', 100)).toEqual([]);
  });

  it('cuts under the byte limit at a sentence or space, chunks overlap, and together they cover the text', () => {
    const text = Array.from({ length: 400 }, (_, i) => `Sentence ${i} is here.`).join(' ');
    const chunks = chunkText(text, 1000, 64);
    expect(chunks.length).toBeGreaterThan(8);
    let covered = 0;
    for (const c of chunks) {
      expect(bytes(c.text)).toBeLessThanOrEqual(1000);
      expect(text.slice(c.start, c.start + c.text.length)).toBe(c.text);
      expect(c.start).toBeLessThanOrEqual(covered); // no gap
      covered = Math.max(covered, c.start + c.text.length);
      if (c.start + c.text.length < text.length) expect(c.text.endsWith('. ') || c.text.endsWith(' ')).toBe(true);
    }
    expect(covered).toBe(text.length);
  });

  it('counts UTF-8 bytes and never splits a surrogate pair', () => {
    const text = '😀'.repeat(1000); // 4 bytes each, no spaces
    const chunks = chunkText(text, 101, 8);
    for (const c of chunks) {
      expect(bytes(c.text)).toBeLessThanOrEqual(101);
      expect(c.text).toBe([...c.text].join(''));
      expect(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(c.text)).toBe(false);
    }
    expect(chunks.reduce((end, c) => Math.max(end, c.start + c.text.length), 0)).toBe(text.length);
  });

  it('an entity that straddles a cut is whole in one chunk (overlap)', () => {
    const text = `${'word '.repeat(180)}Jane Doe Smith lives here ${'word '.repeat(180)}`;
    const at = text.indexOf('Jane');
    const chunks = chunkText(text, 920, 64);
    expect(chunks.some((c) => c.start <= at && c.start + c.text.length >= at + 'Jane Doe Smith'.length)).toBe(true);
  });
});

function recorder(
  answer: (text: string) => PiiEntity[],
  delayMs = 5,
): PiiDetector & { inFlight: number; maxInFlight: number; calls: number; signals: AbortSignal[] } {
  const d = {
    name: 'fake',
    inFlight: 0,
    maxInFlight: 0,
    calls: 0,
    signals: [] as AbortSignal[],
    async detect(text: string, signal?: AbortSignal): Promise<PiiEntity[]> {
      d.calls++;
      if (signal) d.signals.push(signal);
      d.inFlight++;
      d.maxInFlight = Math.max(d.maxInFlight, d.inFlight);
      await new Promise((r) => setTimeout(r, delayMs));
      d.inFlight--;
      return answer(text);
    },
  };
  return d;
}

describe('detectExternal', () => {
  const findAll =
    (needle: string) =>
    (text: string): PiiEntity[] => {
      const out: PiiEntity[] = [];
      for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + 1))
        out.push({ type: 'NAME', start: i, end: i + needle.length, score: 0.9 });
      return out;
    };

  it('maps chunk offsets back to the item and removes duplicates from overlaps', async () => {
    const text = `${'filler '.repeat(300)}Jane Doe ${'filler '.repeat(300)}Jane Doe`;
    const [entities] = await detectExternal([text], recorder(findAll('Jane Doe'), 0), {
      maxConcurrency: 2,
      maxChunkBytes: 1000,
      overlap: 100,
    });
    expect(entities!.map((e) => text.slice(e.start, e.end))).toEqual(['Jane Doe', 'Jane Doe']);
    expect(entities!.map((e) => e.start)).toEqual([text.indexOf('Jane Doe'), text.lastIndexOf('Jane Doe')]);
  });

  it('keeps at most maxConcurrency calls in flight over all items', async () => {
    const d = recorder(() => []);
    await detectExternal(
      Array.from({ length: 12 }, (_, i) => `item ${i}`),
      d,
      { maxConcurrency: 3 },
    );
    expect(d.calls).toBe(12);
    expect(d.maxInFlight).toBe(3);
  });

  it('rejects on the first failure and aborts the signal given to the other calls', async () => {
    let n = 0;
    const d: PiiDetector & { signals: AbortSignal[] } = {
      name: 'flaky',
      signals: [],
      async detect(_text, signal) {
        d.signals.push(signal!);
        if (++n === 2) throw new Error('boom');
        await new Promise((r) => setTimeout(r, 20));
        return [];
      },
    };
    await expect(detectExternal(['a', 'b', 'c', 'd'], d, { maxConcurrency: 4 })).rejects.toThrow('boom');
    expect(d.signals[0]!.aborted).toBe(true);
  });

  it("passes on the caller's abort: the running call's signal is aborted, no new call starts, and it rejects", async () => {
    const controller = new AbortController();
    const d = recorder(() => []);
    const run = detectExternal(['a', 'b'], d, { maxConcurrency: 1, signal: controller.signal });
    controller.abort(new Error('client went away'));
    await expect(run).rejects.toThrow('client went away');
    expect(d.signals.every((s) => s.aborted)).toBe(true);
    expect(d.calls).toBe(1);
  });
});

describe('codePointToUtf16', () => {
  it('maps code point offsets to UTF-16 offsets across astral characters', () => {
    const text = 'a😀b😀c';
    const map = codePointToUtf16(text);
    expect([0, 1, 2, 3, 4, 5].map(map)).toEqual([0, 1, 3, 4, 6, 7]);
    expect(text.slice(map(2), map(3))).toBe('b');
    expect(map(99)).toBe(text.length);
  });
});
