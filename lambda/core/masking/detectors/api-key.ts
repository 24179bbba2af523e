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
 * The key must be delimited and its body (after the prefix) must look random: letters and digits,
 * or upper and lower case (random keys do; hyphenated words such as `sk-learn-style-names` do not).
 */
import { isDigit, isLower, isUpper, matches, type Span } from '../text';
import type { Detector } from '../types';

const PROVIDERS: ReadonlyArray<readonly [prefix: string, body: string]> = [
  ['sk-', '[A-Za-z0-9_\\-]{20,}'],
  ['gh[pousr]_', '[A-Za-z0-9]{36,}'],
  ['github_pat_', '[A-Za-z0-9_]{22,}'],
  ['xox[abprs]-', '[A-Za-z0-9\\-]{10,}'],
  ['xapp-', '[A-Za-z0-9\\-]{10,}'],
  ['[sr]k_(?:live|test)_', '[A-Za-z0-9]{16,}'],
  ['AIza', '[A-Za-z0-9_\\-]{35}'],
  ['glpat-', '[A-Za-z0-9_\\-]{20,}'],
  ['npm_', '[A-Za-z0-9]{36}'],
  ['hf_', '[A-Za-z0-9]{30,}'],
  ['SG\\.', '[A-Za-z0-9_\\-]{22}\\.[A-Za-z0-9_\\-]{43}'],
  ['dop_v1_', '[a-f0-9]{64}'],
  ['gsk_', '[A-Za-z0-9]{40,}'],
  ['shp(?:at|ca|pa|ss)_', '[a-fA-F0-9]{32}'],
  ['pypi-', '[A-Za-z0-9_\\-]{50,}'],
];

/** Group 1 is the prefix, group 2 the body; delimited on both sides. */
const CANDIDATE = new RegExp(
  `(?<![A-Za-z0-9_\\-])(?:${PROVIDERS.map(([p, b]) => `(?:(${p})(${b}))`).join('|')})(?![A-Za-z0-9_\\-])`,
  'g',
);

/** Random-looking: letters and digits, or upper and lower case. */
function randomLooking(s: string): boolean {
  let upper = false;
  let lower = false;
  let digit = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isUpper(c)) upper = true;
    else if (isLower(c)) lower = true;
    else if (isDigit(c)) digit = true;
  }
  return ((upper || lower) && digit) || (upper && lower);
}

function detect(text: string): Span[] {
  const out: Span[] = [];
  for (const m of matches(CANDIDATE, text)) {
    let body = '';
    for (let g = 2; g < m.length; g += 2) {
      if (m[g] !== undefined) {
        body = m[g]!;
        break;
      }
    }
    if (randomLooking(body)) out.push({ start: m.index, end: m.index + m[0].length });
  }
  return out;
}

export const apiKeyDetector: Detector = { name: 'api_key', type: 'API_KEY', patterns: [CANDIDATE], detect };
