/** Check-digit validators: Luhn (payment cards) and ISO 7064 mod 97-10 (IBAN). */
import type { ValidatorName } from '../../../shared/masking/catalog';
import { digitsOf, isAlnum } from './text';

/** Luhn check over the digits of `digits` (non-digits must be removed first). */
export function luhn(digits: string): boolean {
  if (digits.length < 2) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * ISO 7064 mod 97-10 as IBAN uses it: the first four characters move to the end, letters become
 * 10-35, and the number must leave remainder 1. `value` holds only [A-Z0-9] (upper case).
 */
export function mod97(value: string): boolean {
  if (value.length < 5) return false;
  const rearranged = value.slice(4) + value.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      rem = (rem * 10 + (c - 48)) % 97;
    } else if (c >= 65 && c <= 90) {
      rem = (rem * 100 + (c - 55)) % 97;
    } else {
      return false;
    }
  }
  return rem === 1;
}

/** Validators by the name configuration uses, applied to a match's text. */
export const VALIDATOR_FUNCTIONS: Readonly<Record<ValidatorName, (matched: string) => boolean>> = {
  luhn: (m) => luhn(digitsOf(m)),
  mod97: (m) => mod97(alnumUpper(m)),
};

/** The ASCII letters and digits of `s`, upper-cased. */
export function alnumUpper(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (isAlnum(s.charCodeAt(i))) out += s[i];
  }
  return out.toUpperCase();
}
