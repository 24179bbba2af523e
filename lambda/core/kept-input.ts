/**
 * What a session record keeps of the input (`input.kept`, `input.text`, `input.tokens`,
 * `input.cut`), within the budget of the `recording` section (shared/recording.ts).
 *
 * The input is kept exactly as it left for the model (the masked items when masking is on, token
 * ids as ids), as a prefix: items 0..k-1 in `text` (or `tokens`) while they fit; from the first
 * item that does not fit, every item is cut and kept as a digest in `cut`: the SHA-256 and the
 * byte length of the item (its UTF-8 text; for token ids, the JSON of its id list). The cut list
 * has per-item entries for up to a quarter of the budget; the items after those share one entry
 * (`items` > 1: the SHA-256 and length of the JSON array of those items), so the record stays
 * within its budget whatever the number of items. The budget counts bytes of JSON: every kept
 * item and every cut entry, before compression.
 */
import { createHash } from 'node:crypto';
import type { RecordingConfig } from '../../shared/recording';
import type { RecordInput } from './record';

/** The input as it left (or would have left) for the model. */
export type SentInput =
  | { readonly kind: 'text'; readonly items: readonly string[] }
  | { readonly kind: 'tokens'; readonly items: readonly (readonly number[])[] };

/** A run of cut items: `item` is the first, `items` how many (1: one item's own digest). */
export interface CutItems {
  readonly item: number;
  readonly items: number;
  /** `sha256:<hex>` of the item's UTF-8 text (token ids: the JSON of the id list); of a run of several: the JSON array of them. */
  readonly sha256: string;
  /** Bytes hashed. */
  readonly bytes: number;
}

type Kept = Pick<RecordInput, 'kept' | 'text' | 'tokens' | 'cut'>;

/** Upper bound of one cut entry's JSON (and its comma): ids and lengths of up to 15 digits. */
export const CUT_ENTRY_BYTES = JSON.stringify({ item: 1e14, items: 1e14, sha256: `sha256:${'0'.repeat(64)}`, bytes: 1e14 }).length + 1;

/** Characters JSON writes escaped (or, lone surrogates, as `\\uXXXX`): a string without them costs its UTF-8 bytes and two quotes. */
// eslint-disable-next-line no-control-regex
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/** Bytes of the JSON of an item, without writing it when it is plain text (the common case). */
function jsonBytes(item: string | readonly number[]): number {
  if (typeof item === 'string' && !ESCAPED.test(item)) return Buffer.byteLength(item, 'utf8') + 2;
  return Buffer.byteLength(JSON.stringify(item), 'utf8');
}

const sha256 = (data: string): string => `sha256:${createHash('sha256').update(data, 'utf8').digest('hex')}`;

/**
 * The kept part of `sent` under `recording`; `sent` null: the request ended before its input was
 * prepared for the model (refused earlier, or masking failed), so nothing can be kept.
 */
export function keepInput(sent: SentInput | null, recording: RecordingConfig): Kept {
  if (recording.inputText === 'omit') return { kept: 'omitted', text: null, tokens: null, cut: null };
  if (sent === null) return { kept: 'none', text: null, tokens: null, cut: null };
  const items: ReadonlyArray<string | readonly number[]> = sent.items;
  const n = items.length;
  const budget = recording.maxTextBytes;
  const slots = Math.max(1, Math.floor(budget / 4 / CUT_ENTRY_BYTES));
  let used = 0;
  let k = 0;
  for (; k < n; k++) {
    const cost = jsonBytes(items[k]!) + 1;
    const reserve = CUT_ENTRY_BYTES * Math.min(n - 1 - k, slots);
    if (used + cost + reserve > budget) break;
    used += cost;
  }
  const kept = items.slice(0, k);
  const text = sent.kind === 'text' ? (kept as string[]) : null;
  const tokens = sent.kind === 'tokens' ? (kept as Array<readonly number[]>).map((ids) => [...ids]) : null;
  if (k === n) return { kept: 'all', text, tokens, cut: null };
  const cut: CutItems[] = [];
  for (let i = k; i < n; i++) {
    if (cut.length === slots - 1 && n - i > 1) {
      const rest = JSON.stringify(items.slice(i));
      cut.push({ item: i, items: n - i, sha256: sha256(rest), bytes: Buffer.byteLength(rest, 'utf8') });
      break;
    }
    const one = items[i]!;
    const data = typeof one === 'string' ? one : JSON.stringify(one);
    cut.push({ item: i, items: 1, sha256: sha256(data), bytes: Buffer.byteLength(data, 'utf8') });
  }
  return { kept: 'partial', text, tokens, cut };
}
