/** Shared helpers of the masking tests. */
import { builtinDetectors, loadPhoneLibrary, scan, type Detector, type Finding } from '../../lambda/core/masking';

// The phone detector needs its library loaded (createMasker's maskItems does it; scan does not).
beforeAll(() => loadPhoneLibrary());

export const ALL = builtinDetectors();

/** What the built-in detectors find in `text`: `detector:value` strings, in text order. */
export function found(text: string, detectors: readonly Detector[] = ALL): string[] {
  return scan(text, detectors).map((f) => `${f.detector}:${text.slice(f.start, f.end)}`);
}

/** The values one detector finds in `text`. */
export function values(detector: Detector, text: string): string[] {
  return detector.detect(text).map((s) => text.slice(s.start, s.end));
}

/** `prefix` completed with random digits and a Luhn check digit to `length` digits. */
export function withLuhn(prefix: string, length: number, fill = '3'): string {
  const body = prefix.padEnd(length - 1, fill);
  return body + [...'0123456789'].find((c) => luhnOk(body + c))!;
}

export function luhnOk(d: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = d.length - 1; i >= 0; i--) {
    let x = Number(d[i]);
    if (dbl) x = x * 2 > 9 ? x * 2 - 9 : x * 2;
    sum += x;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** The same digits with the last one changed so that Luhn fails. */
export function breakLuhn(d: string): string {
  const last = Number(d.at(-1));
  return d.slice(0, -1) + String((last + 1) % 10);
}

/** An unsigned JWT-shaped token with the given header. */
export function jwt(
  header: object = { alg: 'HS256', typ: 'JWT' },
  payload: object = { sub: 'svc-1', iat: 1700000000 },
  signature = 'c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMDEyMzQ1Njc4OQ',
): string {
  const b = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b(header)}.${b(payload)}.${signature}`;
}

export const span = (f: Finding): [number, number] => [f.start, f.end];
