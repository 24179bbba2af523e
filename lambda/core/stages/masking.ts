/**
 * Stage `masking`: every input item scanned before anything leaves for the model, order and count
 * kept; text it was asked to protect is never passed on unscanned. In: the parsed request and the
 * admitted rule. Out: the input as it will be sent (`MaskedInput`): the only form of the input the
 * later stages (approval, upstream, record) see. Blocked entity types refuse the request (422,
 * types named, never values); findings go into the session.
 */
import type { GatewayConfig } from '../../../shared/config';
import { GatewayError, invalidRequest, unavailable } from '../errors';
import type { Session } from '../exchange';
import { MaskingError, ruleMaskingStrategies, type Masker, type MaskItemsResult } from '../masking';
import type { EmbeddingsRequest, TextInput, TokenInput } from '../request';

/** The input as it leaves for the model: masked text items, or token ids (never scanned). */
export type MaskedInput = (TextInput | TokenInput) & MaskedFacts;

interface MaskedFacts {
  /** Entity types masking found (empty when nothing was scanned). */
  readonly found: ReadonlySet<string>;
  /**
   * The first `n` text items with EVERY value masking found shown as `[TYPE]`, whatever its
   * strategy (a `detect` strategy passes the value upstream, but reviewers are no place for it):
   * what reviewers may see. Null when the text was not scanned (masking off, token ids).
   */
  review(n: number): string[] | null;
}

export async function maskInput(
  masker: (() => Promise<Masker>) | undefined,
  config: GatewayConfig,
  request: EmbeddingsRequest,
  ruleId: string,
  s: Session,
): Promise<MaskedInput> {
  const { input } = request;
  const unscanned = (): MaskedInput => ({ ...input, found: new Set(), review: () => null });
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
  if (m.storeInputText) s.inputText = r.items;
  if (r.blocked.length > 0) {
    throw new GatewayError(`The input contains sensitive data of a type this policy blocks: ${r.blocked.join(', ')}.`, {
      status: 422,
      type: 'invalid_request_error',
      code: 'sensitive_data_blocked',
      param: 'input',
      reason: 'masking_blocked',
    });
  }
  const raw = input.items;
  return {
    kind: 'text',
    items: r.items,
    found: new Set(counts.filter((c) => c.count > 0).map((c) => c.type)),
    review: (n) =>
      raw.slice(0, n).map((text, i) => {
        const spans = findings
          .filter((f) => f.item === i)
          .flatMap((f) => f.offsets.map(([a, b]) => ({ a: a!, b: b!, type: f.type })))
          .sort((x, y) => y.a - x.a);
        let t = text;
        for (const { a, b, type } of spans) t = `${t.slice(0, a)}[${type}]${t.slice(b)}`;
        return t;
      }),
  };
}
