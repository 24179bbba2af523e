/**
 * US Social Security numbers: `123-45-6789` or `123 45 6789` (one separator kind), or nine bare
 * digits only after a context word (`SSN`, `social security`, ...). Refused as never issued:
 * area 000, 666 and 900-999, group 00, serial 0000.
 */
import { forEachMatch, hasContextBefore, type Span } from '../text';
import type { Detector } from '../types';

const CANDIDATE = /(?<![A-Za-z0-9_+\-./#$@])(?:\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}|(\d{9}))(?![A-Za-z0-9_]|[.\-/:,]\d)/g;
const CONTEXT = ['ssn', 'social security', 'ss#', 'ss #', 'soc sec', 'soc. sec', 'sozialversicherung'];
const CONTEXT_WINDOW = 40;

/** Whether the nine digits are a number the SSA could have issued. */
export function validSsn(digits: string): boolean {
  const area = Number(digits.slice(0, 3));
  return area !== 0 && area !== 666 && area < 900 && digits.slice(3, 5) !== '00' && digits.slice(5) !== '0000';
}

function detect(text: string): Span[] {
  const out: Span[] = [];
  forEachMatch(CANDIDATE, text, (m) => {
    const v = m[0];
    const digits = m[1] ?? `${v.slice(0, 3)}${v.slice(4, 6)}${v.slice(7)}`;
    if (!validSsn(digits)) return;
    if (m[1] !== undefined && !hasContextBefore(text, m.index, CONTEXT, CONTEXT_WINDOW)) return;
    out.push({ start: m.index, end: m.index + v.length });
  });
  return out;
}

export const ssnDetector: Detector = { name: 'us_ssn', type: 'US_SSN', patterns: [CANDIDATE], detect };
