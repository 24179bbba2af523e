/**
 * Scan and mask one text until masking it again would change nothing.
 *
 * Detectors look at a value's neighbours (boundaries, context words). Masking changes neighbours:
 * `4000000000000002+44 70 0000 0000` hides the phone number behind the card's last digit, but
 * once the card is `[CREDIT_CARD]` the phone number stands alone; a product word inside a masked
 * e-mail address no longer vetoes the phone number after it. So the masked text is scanned again
 * (the placeholders themselves are never findings), what is new is mapped back to the original
 * offsets, and the original is masked with the larger set, until a rescan finds nothing new.
 * One rescan when anything was replaced; more only in the rare cases above. This is what makes
 * masking idempotent by construction rather than by luck.
 *
 * The rescan reads only the text within `RESCAN_REACH` characters of a replacement: a decision can
 * change only where a neighbour or a context word changed, and context windows are at most 1000
 * characters (custom detectors; built-in ones 140). A finding that touches the edge of such a
 * window may be cut, so it triggers a rescan of the whole text instead; so does a text whose
 * windows cover most of it (PII-dense text).
 */
import { scan, type ScanOptions } from './engine';
import { maskWithMap, type MaskedText, type MaskPolicy, type Replacement } from './mask';
import type { Detector, Finding } from './types';
import { firstNotBefore } from '../util/sorted';

/** Rounds after the first; the result of the last round is returned even if it could still grow. */
export const MAX_RESCANS = 4;
/** Characters around a replacement that a rescan reads: the longest context window (1000) plus margin. */
export const RESCAN_REACH = 1280;

export interface MaskTextOptions extends ScanOptions {
  /** Findings from elsewhere (the external detector), in the original text's offsets. */
  readonly external?: readonly Finding[];
  /** Pseudonyms memoised across the texts of one request. */
  readonly cache?: Map<string, string>;
}

const id = (f: Finding): string => `${f.type}\u0000${f.detector}\u0000${f.start}\u0000${f.end}`;

/** Offsets of a finding in masked text, mapped to the original (it lies between replacements). */
function toOriginal(f: Finding, replaced: readonly Replacement[]): Finding {
  const lo = firstNotBefore(replaced, (r) => r.outEnd <= f.start);
  const delta = lo === 0 ? 0 : replaced[lo - 1]!.end - replaced[lo - 1]!.outEnd;
  return { ...f, start: f.start + delta, end: f.end + delta };
}

export function maskText(
  text: string,
  detectors: readonly Detector[],
  policy: MaskPolicy,
  key: Uint8Array | null,
  opts: MaskTextOptions = {},
): MaskedText {
  let findings = scan(text, detectors, opts);
  if (opts.external && opts.external.length > 0) findings = findings.concat(opts.external);
  let known: Set<string> | null = null;
  for (let round = 0; ; round++) {
    const r = maskWithMap(text, findings, policy, key, opts.cache);
    if (r.replaced.length === 0 || round === MAX_RESCANS) return { text: r.text, findings: r.findings, blocked: r.blocked };
    const added: Finding[] = [];
    const again = rescan(r.text, r.replaced, detectors, opts);
    if (again.length > 0) known ??= new Set(findings.map(id));
    for (const f of again) {
      const o = toOriginal(f, r.replaced);
      const k = id(o);
      if (!known!.has(k)) {
        known!.add(k);
        added.push(o);
      }
    }
    if (added.length === 0) return { text: r.text, findings: r.findings, blocked: r.blocked };
    findings = findings.concat(added);
  }
}

/** Findings in the masked text near its replacements (or in all of it; see the module comment). */
function rescan(text: string, replaced: readonly Replacement[], detectors: readonly Detector[], opts: ScanOptions): Finding[] {
  const scanOpts: ScanOptions = opts.tokens ? { tokens: opts.tokens } : {};
  const windows: Array<[number, number]> = [];
  for (const r of replaced) {
    const from = Math.max(0, r.outStart - RESCAN_REACH);
    const to = Math.min(text.length, r.outEnd + RESCAN_REACH);
    const last = windows[windows.length - 1];
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else windows.push([from, to]);
  }
  const covered = windows.reduce((n, [from, to]) => n + to - from, 0);
  if (covered * 2 > text.length) return scan(text, detectors, scanOpts);
  const out: Finding[] = [];
  for (const [from, to] of windows) {
    for (const f of scan(text.slice(from, to), detectors, scanOpts)) {
      if ((f.start === 0 && from > 0) || (f.end === to - from && to < text.length)) return scan(text, detectors, scanOpts);
      out.push({ ...f, start: f.start + from, end: f.end + from });
    }
  }
  return out;
}
