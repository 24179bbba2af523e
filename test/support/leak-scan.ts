/**
 * Leak scanning for the security suites: look for secrets (bearer tokens, upstream keys, client
 * secrets) and planted PII values in log output and session records.
 *
 *   const secrets = new SecretSet();
 *   secrets.token('indexer token', token);          // the token and its signature segment
 *   secrets.add('upstream key', UPSTREAM_KEY);
 *   expect(findLeaks([{ name: 'dev output', text: gw.output() }], secrets)).toEqual([]);
 *
 * Besides the registered values, anything shaped like a signed JWT (three base64url segments whose
 * first two decode to JSON objects) is a hit: no log line or record may carry a token, even one
 * the suite did not register.
 */

/** A named value that must never appear. */
export interface Secret {
  readonly label: string;
  readonly value: string;
}

/** Where to look. */
export interface Haystack {
  readonly name: string;
  readonly text: string;
}

/** The secrets of a suite. Values shorter than 12 characters are refused (they would match by chance). */
export class SecretSet {
  private readonly items = new Map<string, Secret>();

  add(label: string, value: string): this {
    if (value.length < 12) throw new Error(`secret "${label}" is too short to scan for (${value.length} chars)`);
    if (!this.items.has(value)) this.items.set(value, { label, value });
    return this;
  }

  /** A bearer token: the whole token, and each signature / ciphertext segment long enough to matter. */
  token(label: string, token: string): this {
    if (token.length >= 12) this.add(label, token);
    const parts = token.split('.');
    if (parts.length === 3 || parts.length === 5) {
      const tail = parts.at(-1)!;
      if (tail.length >= 16) this.add(`${label} (signature)`, tail);
      if (parts.length === 5 && parts[3]!.length >= 16) this.add(`${label} (ciphertext)`, parts[3]!);
    }
    return this;
  }

  get values(): readonly Secret[] {
    return [...this.items.values()];
  }

  get size(): number {
    return this.items.size;
  }
}

const JWT_SHAPE = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g;

/** Every leak, as `"<label>" in <haystack> at <offset>: …context…`. Empty when clean. */
export function findLeaks(haystacks: readonly Haystack[], secrets: SecretSet | readonly Secret[]): string[] {
  const list = secrets instanceof SecretSet ? secrets.values : secrets;
  const hits: string[] = [];
  for (const h of haystacks) {
    for (const s of list) {
      let at = h.text.indexOf(s.value);
      let n = 0;
      while (at !== -1 && n < 3) {
        hits.push(`"${s.label}" in ${h.name} at ${at}: …${context(h.text, at, s.value.length)}…`);
        at = h.text.indexOf(s.value, at + 1);
        n++;
      }
    }
    for (const m of h.text.matchAll(JWT_SHAPE)) {
      hits.push(`a JWT-shaped string in ${h.name} at ${m.index}: …${context(h.text, m.index, m[0].length)}…`);
    }
  }
  return hits;
}

function context(text: string, at: number, len: number): string {
  return text.slice(Math.max(0, at - 40), Math.min(text.length, at + Math.min(len, 24) + 40)).replace(/\s+/g, ' ');
}
