/**
 * Well-known provider API keys, recognised by their documented prefixes:
 *
 *   OpenAI `sk-`, `sk-proj-`, `sk-svcacct-`, `sk-admin-`; Anthropic `sk-ant-`  (one rule: `sk-` + 20 or more)
 *   GitHub `ghp_` `gho_` `ghu_` `ghs_` `ghr_` (+ 36 or more), `github_pat_` (+ 22 or more)
 *   Slack `xoxa-` `xoxb-` `xoxp-` `xoxr-` `xoxs-`, `xapp-`   Stripe `sk_live_` `rk_live_` `sk_test_` `rk_test_`
 *   Google `AIza` + 35    GitLab `glpat-`    npm `npm_` + 36    Hugging Face `hf_`    SendGrid `SG.x.y`
 *   DigitalOcean `dop_v1_` + 64 hex    Groq `gsk_`    Shopify `shpat_` `shpca_` `shppa_` `shpss_` + 32 hex
 *   PyPI `pypi-` + 50 or more
 *
 * Prefixes are found through their final "-", "_" or "." (`indexOf`; no regular expression runs
 * over text without a prefix), then the key's shape is matched there. The key must be delimited and its body (after the prefix) must look random: letters and digits,
 * or upper and lower case (random keys do; hyphenated words such as `sk-learn-style-names` do not).
 */
import { characterKinds, isAlnum, isDigit, type Span } from '../text';
import type { Detector } from '../types';

/** Literal prefixes (found with `indexOf`), then the key's shape, matched where the prefix is. */
const PROVIDERS: ReadonlyArray<readonly [literals: readonly string[], shape: string]> = [
  [['sk-'], 'sk-[A-Za-z0-9_\\-]{20,}'],
  [['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'], 'gh[pousr]_[A-Za-z0-9]{36,}'],
  [['github_pat_'], 'github_pat_[A-Za-z0-9_]{22,}'],
  [['xoxa-', 'xoxb-', 'xoxp-', 'xoxr-', 'xoxs-'], 'xox[abprs]-[A-Za-z0-9\\-]{10,}'],
  [['xapp-'], 'xapp-[A-Za-z0-9\\-]{10,}'],
  [['sk_live_', 'rk_live_', 'sk_test_', 'rk_test_'], '[sr]k_(?:live|test)_[A-Za-z0-9]{16,}'],
  [['AIza'], 'AIza[A-Za-z0-9_\\-]{35}'],
  [['glpat-'], 'glpat-[A-Za-z0-9_\\-]{20,}'],
  [['npm_'], 'npm_[A-Za-z0-9]{36}'],
  [['hf_'], 'hf_[A-Za-z0-9]{30,}'],
  [['SG.'], 'SG\\.[A-Za-z0-9_\\-]{22}\\.[A-Za-z0-9_\\-]{43}'],
  [['dop_v1_'], 'dop_v1_[a-f0-9]{64}'],
  [['gsk_'], 'gsk_[A-Za-z0-9]{40,}'],
  [['shpat_', 'shpca_', 'shppa_', 'shpss_'], 'shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}'],
  [['pypi-'], 'pypi-[A-Za-z0-9_\\-]{50,}'],
];

/** Per provider: its prefixes and a sticky pattern of the whole key, delimited on the right. */
const SHAPES = PROVIDERS.map(([literals, shape]) => ({
  literals,
  prefixLength: literals[0]!.length,
  re: new RegExp(`${shape}(?![A-Za-z0-9_\\-])`, 'y'),
}));
type Shape = (typeof SHAPES)[number];

/**
 * Every prefix ends with "-", "_" or "." (but `AIza`): the text is searched for those characters
 * only (`indexOf` on one character is the fastest scan there is), and the prefixes ending there
 * are tried by the character just before it.
 */
const BY_SEPARATOR = new Map<string, Map<number, Array<{ prefix: string; shape: Shape }>>>();
for (const shape of SHAPES) {
  for (const prefix of shape.literals) {
    const sep = prefix.at(-1)!;
    if (sep !== '-' && sep !== '_' && sep !== '.') continue;
    const byChar = BY_SEPARATOR.get(sep) ?? new Map<number, Array<{ prefix: string; shape: Shape }>>();
    BY_SEPARATOR.set(sep, byChar);
    const before = prefix.charCodeAt(prefix.length - 2);
    byChar.set(before, [...(byChar.get(before) ?? []), { prefix, shape }]);
  }
}
const UNSEPARATED = SHAPES.flatMap((shape) =>
  shape.literals.filter((p) => !BY_SEPARATOR.has(p.at(-1)!)).map((prefix) => ({ prefix, shape })),
);

const isKeyChar = (c: number): boolean => isAlnum(c) || c === 95 || c === 45;

/** Random-looking: letters and digits, or upper and lower case. */
function randomLooking(s: string): boolean {
  const { upper, lower, other: digit } = characterKinds(s, isDigit);
  return ((upper || lower) && digit) || (upper && lower);
}

function tryAt(text: string, start: number, shape: Shape, out: Span[]): number {
  if (start < 0 || (start > 0 && isKeyChar(text.charCodeAt(start - 1)))) return -1;
  shape.re.lastIndex = start;
  const m = shape.re.exec(text);
  if (m === null || !randomLooking(m[0].slice(shape.prefixLength))) return -1;
  out.push({ start, end: start + m[0].length });
  return start + m[0].length;
}

function detect(text: string): Span[] {
  const out: Span[] = [];
  for (const [sep, byChar] of BY_SEPARATOR) {
    for (let i = text.indexOf(sep, 1); i !== -1; i = text.indexOf(sep, i + 1)) {
      const candidates = byChar.get(text.charCodeAt(i - 1));
      if (candidates === undefined) continue;
      for (const { prefix, shape } of candidates) {
        const start = i + 1 - prefix.length;
        if (start >= 0 && text.startsWith(prefix, start)) {
          const end = tryAt(text, start, shape, out);
          if (end !== -1) {
            i = end - 1;
            break;
          }
        }
      }
    }
  }
  for (const { prefix, shape } of UNSEPARATED) {
    for (let i = text.indexOf(prefix); i !== -1; i = text.indexOf(prefix, i + 1)) tryAt(text, i, shape, out);
  }
  return out;
}

export const apiKeyDetector: Detector = { name: 'api_key', type: 'API_KEY', patterns: SHAPES.map((x) => x.re), detect };
