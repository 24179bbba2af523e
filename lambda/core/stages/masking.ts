/**
 * Stage `masking`: every input item scanned before anything leaves for the model, order and count
 * kept; text it was asked to protect is never passed on unscanned. In: the parsed request and the
 * admitted rule. Out: the input as it will be sent (`MaskedInput`): the only form of the input the
 * later stages (approval, upstream, record) see. Blocked entity types refuse the request (422,
 * types named, never values); findings go into the session, and so does the input in the form the
 * record may keep (`Session.sentInput`): the items as they leave, except that a value found under
 * a `detect` strategy (which leaves as it was) is shown as `[TYPE]`: a record never holds a value
 * masking found. Reviewers see that same form.
 */
import type { GatewayConfig } from '../../../shared/config';
import { GatewayError, invalidRequest, unavailable } from '../errors';
import type { Session } from '../exchange';
import { MaskingError, ruleMaskingStrategies, type Masker, type MaskItemsResult } from '../masking';
import { pseudonymToken, redactToken } from '../masking/placeholders';
import type { EmbeddingsRequest, TextInput, TokenInput } from '../request';

/** The input as it leaves for the model: masked text items, or token ids (never scanned). */
export type MaskedInput = (TextInput | TokenInput) & MaskedFacts;

interface MaskedFacts {
  /** Entity types masking found (empty when nothing was scanned). */
  readonly found: ReadonlySet<string>;
  /**
   * The first `n` text items as the record keeps them: masked, values found under `detect` shown
   * as `[TYPE]` (a `detect` strategy passes the value upstream, but reviewers are no place for it):
   * what reviewers may see. Null when the text was not scanned (masking off, token ids) or the
   * configuration keeps no input text (`recording.inputText: "omit"`: `noPreview` says so).
   */
  review(n: number): string[] | null;
  /** Why there is no review text, when the text was scanned but may not be shown. */
  readonly noPreview?: string;
}

/** Why reviewers get no preview when the configuration keeps no input text. */
export const NO_PREVIEW_OMITTED = 'this gateway keeps no input text (recording.inputText is "omit")';

export async function maskInput(
  masker: (() => Promise<Masker>) | undefined,
  config: GatewayConfig,
  request: EmbeddingsRequest,
  ruleId: string,
  s: Session,
): Promise<MaskedInput> {
  const { input } = request;
  const unscanned = (): MaskedInput => {
    s.sentInput = input; // masking off, or token ids let through: the input as sent
    return { ...input, found: new Set(), review: () => null };
  };
  if (!masker) return unscanned();
  let m: Masker;
  try {
    m = await masker();
  } catch (cause) {
    throw unavailable('Sensitive-data masking is unavailable right now; nothing was sent. Try again later.', 'masking_unavailable', {
      cause,
    });
  }
  if (input.kind === 'tokens') {
    if (m.tokenInputs === 'refuse') {
      throw invalidRequest(
        'Token-id inputs cannot be scanned for sensitive data and are refused while masking is on; send text.',
        'tokens_not_scannable',
        'input',
      );
    }
    s.masking = { scanned: false, findings: [], counts: [], blocked: [], external: null };
    return unscanned();
  }
  let r: MaskItemsResult;
  try {
    r = await m.maskItems(input.items, ruleMaskingStrategies(config, ruleId));
  } catch (e) {
    if (!(e instanceof MaskingError)) throw e;
    const tooLarge = e.code === 'too_large';
    throw new GatewayError(e.message, {
      status: e.status,
      type: tooLarge ? 'invalid_request_error' : 'server_error',
      code: tooLarge ? 'input_too_large_to_scan' : 'masking_unavailable',
      param: tooLarge ? 'input' : null,
      reason: `masking_${e.code}`,
      cause: e,
    });
  }
  const findings = r.findings.flatMap((fs, item) =>
    fs.map((f) => ({
      item,
      type: f.type,
      detector: f.detector,
      strategy: f.strategy,
      count: f.count,
      offsets: f.offsets.map(([a, b]) => [a, b]),
      pseudonyms: [...(f.pseudonyms ?? [])],
    })),
  );
  const counts = Object.entries(r.counts).map(([type, count]) => ({ type, count }));
  s.masking = {
    scanned: true,
    findings,
    counts,
    blocked: r.blocked,
    external: r.external ? { detector: r.external.detector, status: r.external.status } : null,
  };
  const hex = config.masking?.pseudonymLength ?? 16;
  const raw = input.items;
  const kept = r.items.map((sent, i) => hideDetected(raw[i]!, sent, r.findings[i]!, hex));
  s.sentInput = { kind: 'text', items: kept };
  if (r.blocked.length > 0) {
    throw new GatewayError(`The input contains sensitive data of a type this policy blocks: ${r.blocked.join(', ')}.`, {
      status: 422,
      type: 'invalid_request_error',
      code: 'sensitive_data_blocked',
      param: 'input',
      reason: 'masking_blocked',
    });
  }
  const omitted = config.recording.inputText === 'omit';
  return {
    kind: 'text',
    items: r.items,
    found: new Set(counts.filter((c) => c.count > 0).map((c) => c.type)),
    review: (n) => (omitted ? null : kept.slice(0, n)),
    ...(omitted ? { noPreview: NO_PREVIEW_OMITTED } : {}),
  };
}

type Region = { readonly start: number; readonly end: number; readonly type: string; readonly strategy: string };

/**
 * The masked item `sent` with every value found under a `detect` strategy (left as it was by
 * masking) replaced by `[TYPE]`; `sent` itself when there is none. Regions are walked in order:
 * text between them is the same in `raw` and `sent`, a replaced region has the length of its
 * placeholder (`[TYPE]`, or `<TYPE_hex>` for a pseudonym). Should `sent` not line up with that,
 * every found value of the item is shown as `[TYPE]` instead (never a value).
 */
export function hideDetected(
  raw: string,
  sent: string,
  findings: readonly { type: string; strategy: string; offsets: ReadonlyArray<readonly number[]> }[],
  pseudonymHex: number,
): string {
  if (!findings.some((f) => f.strategy === 'detect')) return sent;
  const regions: Region[] = findings
    .flatMap((f) => f.offsets.map(([start, end]) => ({ start: start!, end: end!, type: f.type, strategy: f.strategy })))
    .sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  let pos = 0;
  for (const g of regions) {
    const between = raw.slice(at, g.start);
    if (g.start < at || !sent.startsWith(between, pos)) return allRedacted(raw, regions);
    out += between;
    pos += between.length;
    const length =
      g.strategy === 'detect'
        ? g.end - g.start
        : g.strategy === 'pseudonymize'
          ? pseudonymToken(g.type, '0'.repeat(pseudonymHex)).length
          : redactToken(g.type).length;
    const replaced = sent.slice(pos, pos + length);
    if (g.strategy === 'detect' ? replaced !== raw.slice(g.start, g.end) : replaced.length !== length) return allRedacted(raw, regions);
    out += g.strategy === 'detect' ? redactToken(g.type) : replaced;
    pos += length;
    at = g.end;
  }
  if (sent.slice(pos) !== raw.slice(at)) return allRedacted(raw, regions);
  return out + raw.slice(at);
}

/** `raw` with every region shown as `[TYPE]`. */
function allRedacted(raw: string, regions: readonly Region[]): string {
  let t = raw;
  for (const g of [...regions].sort((a, b) => b.start - a.start)) t = `${t.slice(0, g.start)}${redactToken(g.type)}${t.slice(g.end)}`;
  return t;
}
