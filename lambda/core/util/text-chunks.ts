/**
 * Text cut into chunks under a UTF-8 byte limit, and code point offsets mapped to UTF-16 ones:
 * the one chunker and the one code point map of the code base (the external-detector runner in
 * core/masking and the Comprehend adapter both use them). Pure; no AWS SDK.
 */

/** One slice of a text. */
export interface TextChunk {
  /** Offset of the slice in the original string, UTF-16 code units. */
  readonly start: number;
  readonly text: string;
}

/** The default chunk size: 100 000 bytes, under Comprehend DetectPiiEntities' 100 KB limit whatever a KB is. */
export const DEFAULT_MAX_CHUNK_BYTES = 100_000;
/** Most bytes of overlap between consecutive chunks by default (less for small chunks: an eighth of one). */
export const MAX_DEFAULT_OVERLAP_BYTES = 512;
/** Smallest accepted chunk size (room for a few code points plus the overlap). */
export const MIN_CHUNK_BYTES = 16;

/** The default overlap for a chunk size: min(512, maxBytes / 8) bytes. */
export function defaultOverlapBytes(maxBytes: number): number {
  return Math.min(MAX_DEFAULT_OVERLAP_BYTES, Math.floor(maxBytes / 8));
}

/** UTF-8 bytes of the code point (or lone surrogate, sent as U+FFFD) at `i`, and its UTF-16 length. */
function codePointAt(text: string, i: number): { bytes: number; units: number } {
  const c = text.charCodeAt(i);
  if (c < 0x80) return { bytes: 1, units: 1 };
  if (c < 0x800) return { bytes: 2, units: 1 };
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return { bytes: 4, units: 2 };
  }
  return { bytes: 3, units: 1 };
}

/** Start of the code point that ends at `i` (exclusive), i.e. `i - 1` or `i - 2` for a pair. */
function previousCodePoint(text: string, i: number): number {
  const c = text.charCodeAt(i - 1);
  if (c >= 0xdc00 && c <= 0xdfff && i >= 2) {
    const h = text.charCodeAt(i - 2);
    if (h >= 0xd800 && h <= 0xdbff) return i - 2;
  }
  return i - 1;
}

/** UTF-8 length of `text` (lone surrogates count as U+FFFD, as they are sent). */
export function utf8Bytes(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length;) {
    const cp = codePointAt(text, i);
    n += cp.bytes;
    i += cp.units;
  }
  return n;
}

const PARAGRAPH = /\n[^\S\n]*\n\s*/g;
const SENTENCE = /(?:[.!?…]["'”’)\]]*\s+|[。！？]\s*|\n\s*)/g;
const WHITESPACE = /\s+/g;
const SPACE = /\s/;
/** Patterns of this module, for the recheck test. */
export const CHUNK_PATTERNS: readonly RegExp[] = [PARAGRAPH, SENTENCE, WHITESPACE, SPACE];

/**
 * Split `text` into chunks of at most `maxBytes` UTF-8 bytes. A chunk ends, by preference, at a
 * paragraph break, then at the end of a sentence or line, then at whitespace, and only for a word
 * longer than about half a chunk inside the word (never inside a surrogate pair); a break is looked
 * for in the second half, so chunks are at least half full. Consecutive chunks overlap by about
 * `overlapBytes` (widened to start at a word), so a value cut by a boundary is whole in the next
 * chunk when it is no longer than the overlap. Every position of `text` is in at least one chunk.
 */
export function chunkText(text: string, maxBytes = DEFAULT_MAX_CHUNK_BYTES, overlapBytes = defaultOverlapBytes(maxBytes)): TextChunk[] {
  if (!Number.isInteger(maxBytes) || maxBytes < MIN_CHUNK_BYTES) {
    throw new RangeError(`maxBytes must be an integer of at least ${MIN_CHUNK_BYTES}, got ${maxBytes}`);
  }
  if (text === '') return [];
  const chunks: TextChunk[] = [];
  let start = 0;
  let prevEnd = 0;
  for (;;) {
    // Walk forward: the farthest end within maxBytes, and the point where the chunk is half full.
    let bytes = 0;
    let i = start;
    let half = -1;
    while (i < text.length) {
      const cp = codePointAt(text, i);
      if (bytes + cp.bytes > maxBytes) break;
      bytes += cp.bytes;
      i += cp.units;
      if (half < 0 && bytes * 2 >= maxBytes) half = i;
    }
    const hardEnd = i;
    if (hardEnd >= text.length) {
      chunks.push({ start, text: text.slice(start) });
      return chunks;
    }
    // Never end at or before the previous chunk's end (progress), never before half full.
    const minEnd = Math.max(half < 0 ? hardEnd : half, prevEnd + 1);
    const end = lastBreak(text, start, minEnd, hardEnd) ?? hardEnd;
    chunks.push({ start, text: text.slice(start, end) });
    start = overlapStart(text, start, end, overlapBytes);
    prevEnd = end;
  }
}

/** The last break position in [minEnd, hardEnd] by preference class, or undefined. */
function lastBreak(text: string, start: number, minEnd: number, hardEnd: number): number | undefined {
  if (minEnd > hardEnd) return undefined;
  const window = text.slice(start, hardEnd);
  for (const re of [PARAGRAPH, SENTENCE, WHITESPACE]) {
    let best: number | undefined;
    re.lastIndex = Math.max(0, minEnd - start - 8);
    for (let m = re.exec(window); m; m = re.exec(window)) {
      const at = start + m.index + m[0].length;
      if (at >= minEnd) best = at;
    }
    if (best !== undefined) return best;
  }
  return undefined;
}

/**
 * Where the chunk after [start, end) begins: about `overlapBytes` before `end`, moved back (by at
 * most `overlapBytes` more) to the start of a word; `end` itself when there is no room.
 */
function overlapStart(text: string, start: number, end: number, overlapBytes: number): number {
  if (overlapBytes <= 0) return end;
  let p = end;
  let bytes = 0;
  while (p > start) {
    const q = previousCodePoint(text, p);
    const b = codePointAt(text, q).bytes;
    if (bytes + b > overlapBytes) break;
    bytes += b;
    p = q;
  }
  // Widen to a word start: just after the nearest whitespace before p.
  let w = p;
  let extra = 0;
  while (w > start && !SPACE.test(text[w - 1]!)) {
    const q = previousCodePoint(text, w);
    extra += codePointAt(text, q).bytes;
    if (extra > overlapBytes) {
      w = p;
      break;
    }
    w = q;
  }
  return w > start ? w : p > start ? p : end;
}

/** Code point offsets of one text mapped to UTF-16 offsets. */
export interface CodePointMap {
  /** Number of code points in the text. */
  readonly length: number;
  /** UTF-16 offset of code point offset `cp` (`at(length)` is the text's length). */
  at(cp: number): number;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Code point offset to UTF-16 offset within `text` (Comprehend's `BeginOffset` / `EndOffset`
 * count code points: an emoji is one of them but two UTF-16 code units). Identity, without a
 * table, when `text` has no surrogates.
 */
export function codePointMap(text: string): CodePointMap {
  if (!SURROGATE.test(text)) return { length: text.length, at: (cp) => cp };
  const table: number[] = [];
  for (let i = 0; i < text.length;) {
    table.push(i);
    i += codePointAt(text, i).units;
  }
  table.push(text.length);
  return { length: table.length - 1, at: (cp) => table[cp]! };
}

/** {@link codePointMap} as a function, offsets clamped to [0, code points]. */
export function codePointToUtf16(text: string): (codePointOffset: number) => number {
  const map = codePointMap(text);
  return (offset) => map.at(Math.max(0, Math.min(offset, map.length)));
}
