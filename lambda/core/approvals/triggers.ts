/**
 * When an allow rule holds a request for approval, and what reviewers are shown: the rule's
 * conditions evaluated on the request AS MASKED (the approval stage never sees raw input), the
 * hash of the masked payload an approval covers, and the preview.
 */
import type { ApprovalConfig } from '../../../shared/config';
import { canonicalJson, sha256Hex } from '../../../shared/canonical';
import { matchesAny } from '../../../shared/glob';
import type { Principal } from '../principal';
import type { EmbeddingsRequest } from '../request';

const compiled = new Map<string, RegExp>();
function patternOf(p: { pattern: string; flags?: string | undefined }): RegExp {
  const key = `${p.flags ?? ''}/${p.pattern}`;
  let re = compiled.get(key);
  if (!re) compiled.set(key, (re = new RegExp(p.pattern, p.flags ?? '')));
  return re;
}

/**
 * Which of the rule's approval conditions this request meets (empty: no approval needed).
 * `input` is the input as masked (what leaves for the model: patterns look at what the model
 * would see, normalised); `maskedTypes` the entity types masking found in it.
 */
export function approvalTriggers(
  a: ApprovalConfig,
  principal: Pick<Principal, 'groups'>,
  input: EmbeddingsRequest['input'],
  maskedTypes: ReadonlySet<string>,
): string[] {
  const w = a.when;
  if (
    !w ||
    (w.principalOutsideGroups === undefined && w.batchOver === undefined && w.inputMatches === undefined && w.maskingFound === undefined)
  ) {
    return ['always'];
  }
  const out: string[] = [];
  if (w.principalOutsideGroups && !principal.groups.some((g) => matchesAny(w.principalOutsideGroups!, g)))
    out.push('principal_outside_groups');
  if (w.batchOver !== undefined && input.items.length > w.batchOver) out.push(`batch_over:${w.batchOver}`);
  if (w.inputMatches && input.kind === 'text') {
    const texts = input.items.map(normaliseForMatching);
    for (const p of w.inputMatches) {
      const re = patternOf(p);
      if (texts.some((t) => re.test(t))) out.push(`input_matches:${p.name}`);
    }
  }
  if (w.maskingFound) for (const t of w.maskingFound) if (maskedTypes.has(t)) out.push(`masking_found:${t}`);
  // Token ids cannot be read: a rule that looks at the input holds them rather than let them pass unread.
  if ((w.inputMatches || w.maskingFound) && input.kind === 'tokens') out.push('input_unscannable');
  return out;
}

/**
 * The text regulated-language patterns look at: NFKC (compatibility forms folded, e.g. full-width
 * letters) without format characters (zero-width spaces and joiners, bidi controls), so
 * `I\u200BTAR` or `ＩＴＡＲ` match a pattern for `ITAR`.
 */
export function normaliseForMatching(text: string): string {
  return text.normalize('NFKC').replace(/\p{Cf}/gu, '');
}

/**
 * `sha256:<hex>` of the payload an approval covers: the canonical JSON of the model, the MASKED
 * input items and every other parameter that changes what is sent or returned. Any change to
 * any of them is a different payload.
 */
export function payloadSha256(p: {
  model: string;
  input: EmbeddingsRequest['input']['items'];
  encodingFormat: string;
  dimensions?: number | undefined;
  user?: string | undefined;
}): string {
  return `sha256:${sha256Hex(canonicalJson({ model: p.model, input: p.input, encoding_format: p.encodingFormat, dimensions: p.dimensions ?? null, user: p.user ?? null }))}`;
}

/**
 * A short preview of the input for reviewers, from what the masking stage lets them see: the first
 * items as the session record keeps them (masked; values found under `detect` shown as `[TYPE]`;
 * see `MaskedInput.review`), shortened, control characters removed (a requester cannot lay out
 * fake instructions). Without masking there is no preview: nothing says what the text holds; nor
 * when the configuration keeps no input text (`noPreview` says why).
 */
export function approvalPreview(input: {
  readonly kind: 'text' | 'tokens';
  readonly count: number;
  review(n: number): string[] | null;
  readonly noPreview?: string | undefined;
}): string {
  if (input.kind === 'tokens') return `[${input.count} item(s) of token ids: no preview]`;
  const review = input.review(3);
  if (review === null) return `[no preview: ${input.noPreview ?? 'masking is off, the text was not scanned'}]`;
  const shown = review.map((text, i) => {
    const t = text.replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, ' ');
    return `  [${i}] ${t.length > 160 ? `${t.slice(0, 160)}…` : t}`;
  });
  if (input.count > 3) shown.push(`  (+${input.count - 3} more item(s))`);
  return shown.join('\n');
}
