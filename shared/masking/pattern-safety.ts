/**
 * A conservative, synchronous screen for custom detector patterns, run when the configuration is
 * loaded: a pattern passes only if its matching time is linear in the input by construction.
 *
 * Why not recheck at load: recheck is a development dependency (2.9 MB of Scala.js, plus a native
 * x64 binary or a JVM); it is in neither the Lambda bundle (arm64) nor a CDK user's install, and a
 * configuration must load the same way everywhere. So the tests run recheck over every built-in
 * pattern and over a corpus of screened ones (test/masking/pattern-safety.test.ts checks that each
 * pattern this screen accepts is `safe` for recheck); at load, this screen decides, deterministically.
 *
 * The rules (each refusal says which one and how to fix the pattern):
 *  1. no backreferences (`\1`, `\k<name>`);
 *  2. lookarounds hold fixed text or character classes only (`(?<![A-Za-z0-9])`);
 *  3. an unbounded quantifier (`*`, `+`, `{n,}`) applies to a single character or class and stands
 *     at the very end of the pattern, where it never backtracks (`EMP-\d+`); elsewhere quantifiers
 *     are bounded (`{1,16}`);
 *  4. a repeated group (other than `?`) holds no alternation and no unbounded quantifier;
 *  5. the bounded quantifiers' upper bounds add up to at most 24 (exact counts `{n}` are free), and
 *     the number of ways a match attempt can backtrack is at most 1024;
 *  6. the pattern cannot match the empty string; flags are among `i`, `m`, `s`, `u`; at most 512
 *     characters.
 * A refused pattern may still be safe; an accepted one costs at most a constant (≤ 1024 steps)
 * per input position.
 */

export const MAX_PATTERN_LENGTH = 512;
export const MAX_BOUNDED_REPEAT_SUM = 24;
export const MAX_BACKTRACK_PATHS = 1024;
export const ALLOWED_FLAGS = 'imsu';

type Node =
  | { readonly kind: 'char' }
  | { readonly kind: 'assert' }
  | { readonly kind: 'backref' }
  | { readonly kind: 'seq'; readonly items: Node[] }
  | { readonly kind: 'alt'; readonly options: Node[] }
  | { readonly kind: 'group'; readonly body: Node }
  | { readonly kind: 'look'; readonly body: Node }
  | { readonly kind: 'quant'; readonly min: number; readonly max: number; readonly body: Node; readonly text: string };

export type ScreenResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

class Unsupported extends Error {}

const BRACE_QUANTIFIER = /^\{(\d+)(,(\d*))?\}/;
const HEX4 = /^[0-9A-Fa-f]{4}$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
const CONTROL_LETTER = /^[A-Za-z]$/;
/** The screen's own patterns (anchored), for the recheck test. */
export const SCREEN_PATTERNS: readonly RegExp[] = [BRACE_QUANTIFIER, HEX4, HEX2, CONTROL_LETTER];

/** Parse a (syntactically valid) JavaScript pattern into the few shapes the rules look at. */
class Parser {
  private i = 0;
  constructor(
    private readonly src: string,
    private readonly unicode: boolean,
  ) {}

  parse(): Node {
    const n = this.disjunction();
    if (this.i !== this.src.length) throw new Unsupported(`unexpected ${JSON.stringify(this.src[this.i])} at ${this.i}`);
    return n;
  }

  private peek(k = 0): string | undefined {
    return this.src[this.i + k];
  }

  private disjunction(): Node {
    const options = [this.alternative()];
    while (this.peek() === '|') {
      this.i++;
      options.push(this.alternative());
    }
    return options.length === 1 ? options[0]! : { kind: 'alt', options };
  }

  private alternative(): Node {
    const items: Node[] = [];
    while (this.i < this.src.length && this.peek() !== '|' && this.peek() !== ')') items.push(this.term());
    return { kind: 'seq', items };
  }

  private term(): Node {
    const start = this.i;
    const atom = this.atom();
    if (atom.kind === 'assert' || atom.kind === 'look') return atom;
    const q = this.quantifier();
    if (!q) return atom;
    return { kind: 'quant', min: q.min, max: q.max, body: atom, text: this.src.slice(start, this.i) };
  }

  private quantifier(): { min: number; max: number } | null {
    const c = this.peek();
    let q: { min: number; max: number } | null = null;
    if (c === '*') q = { min: 0, max: Infinity };
    else if (c === '+') q = { min: 1, max: Infinity };
    else if (c === '?') q = { min: 0, max: 1 };
    if (q) {
      this.i++;
    } else if (c === '{') {
      const m = BRACE_QUANTIFIER.exec(this.src.slice(this.i));
      if (!m) return null;
      this.i += m[0].length;
      const min = Number(m[1]);
      q = { min, max: m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]) };
    } else {
      return null;
    }
    if (this.peek() === '?') this.i++;
    return q;
  }

  private atom(): Node {
    const c = this.src[this.i++]!;
    switch (c) {
      case '^':
      case '$':
        return { kind: 'assert' };
      case '.':
        return { kind: 'char' };
      case '[':
        this.classBody();
        return { kind: 'char' };
      case '(':
        return this.group();
      case '\\':
        return this.escape();
      default:
        return { kind: 'char' };
    }
  }

  private group(): Node {
    let look = false;
    if (this.peek() === '?') {
      const rest = this.src.slice(this.i, this.i + 3);
      if (rest.startsWith('?:')) this.i += 2;
      else if (rest.startsWith('?=') || rest.startsWith('?!')) {
        this.i += 2;
        look = true;
      } else if (rest === '?<=' || rest === '?<!') {
        this.i += 3;
        look = true;
      } else if (rest.startsWith('?<')) {
        const close = this.src.indexOf('>', this.i);
        if (close === -1) throw new Unsupported('unterminated group name');
        this.i = close + 1;
      } else {
        throw new Unsupported(`group syntax "(${rest}"`);
      }
    }
    const body = this.disjunction();
    if (this.src[this.i++] !== ')') throw new Unsupported('unterminated group');
    return look ? { kind: 'look', body } : { kind: 'group', body };
  }

  private escape(): Node {
    const c = this.src[this.i++];
    if (c === undefined) throw new Unsupported('trailing backslash');
    if (c === 'b' || c === 'B') return { kind: 'assert' };
    if (c >= '1' && c <= '9') return { kind: 'backref' };
    if (c === 'k' && (this.unicode || this.peek() === '<')) return { kind: 'backref' };
    if ((c === 'p' || c === 'P') && this.unicode && this.peek() === '{') this.i = this.src.indexOf('}', this.i) + 1;
    else if (c === 'u' && this.unicode && this.peek() === '{') this.i = this.src.indexOf('}', this.i) + 1;
    else if (c === 'u' && HEX4.test(this.src.slice(this.i, this.i + 4))) this.i += 4;
    else if (c === 'x' && HEX2.test(this.src.slice(this.i, this.i + 2))) this.i += 2;
    else if (c === 'c' && CONTROL_LETTER.test(this.src[this.i] ?? '')) this.i += 1;
    return { kind: 'char' };
  }

  private classBody(): void {
    if (this.peek() === '^') this.i++;
    while (this.i < this.src.length) {
      const c = this.src[this.i++];
      if (c === ']') return;
      if (c === '\\') {
        const e = this.src[this.i++];
        if ((e === 'p' || e === 'P' || e === 'u') && this.unicode && this.peek() === '{') this.i = this.src.indexOf('}', this.i) + 1;
      }
    }
    throw new Unsupported('unterminated character class');
  }
}

interface Walk {
  paths: number;
  boundedSum: number;
}

const cap = (n: number): number => Math.min(n, Number.MAX_SAFE_INTEGER);

/** Smallest number of characters a node matches. */
function minWidth(n: Node): number {
  switch (n.kind) {
    case 'char':
      return 1;
    case 'seq':
      return n.items.reduce((s, x) => s + minWidth(x), 0);
    case 'alt':
      return Math.min(...n.options.map(minWidth));
    case 'group':
      return minWidth(n.body);
    case 'quant':
      return n.min * minWidth(n.body);
    default:
      return 0;
  }
}

/** Whether `n` contains a quantifier. */
function hasQuant(n: Node): boolean {
  switch (n.kind) {
    case 'seq':
      return n.items.some(hasQuant);
    case 'alt':
      return n.options.some(hasQuant);
    case 'group':
    case 'look':
      return hasQuant(n.body);
    case 'quant':
      return true;
    default:
      return false;
  }
}

/** Whether `n` contains an alternation. */
function hasAlt(n: Node): boolean {
  switch (n.kind) {
    case 'seq':
      return n.items.some(hasAlt);
    case 'alt':
      return true;
    case 'group':
    case 'look':
    case 'quant':
      return hasAlt(n.body);
    default:
      return false;
  }
}

/** Check the rules; returns the number of backtracking paths of `n`. Throws a refusal reason. */
function check(n: Node, tail: boolean, w: Walk): number {
  switch (n.kind) {
    case 'char':
    case 'assert':
      return 1;
    case 'backref':
      throw new Refusal('backreferences (\\1, \\k<name>) are not allowed: match the text again explicitly');
    case 'look':
      if (hasQuant(n.body)) {
        throw new Refusal('a lookaround may hold only fixed text or character classes, e.g. (?<![A-Za-z0-9])');
      }
      return 1;
    case 'group':
      return check(n.body, tail, w);
    case 'alt':
      return cap(n.options.reduce((s, o) => s + check(o, tail, w), 0));
    case 'seq': {
      let paths = 1;
      n.items.forEach((item, k) => {
        paths = cap(paths * check(item, tail && k === n.items.length - 1, w));
      });
      return paths;
    }
    case 'quant': {
      if (n.max === Infinity) {
        if (n.body.kind !== 'char' || !tail) {
          throw new Refusal(
            `unbounded quantifier in "${n.text}": "*", "+" and "{n,}" are allowed only on a single character or class at the very end of the pattern; use a bounded one such as {1,16}`,
          );
        }
        return 1;
      }
      const span = n.max - n.min + 1;
      if (n.max > n.min) w.boundedSum += n.max;
      if (n.body.kind === 'char') return span;
      if (n.max > 1 && hasAlt(n.body)) {
        throw new Refusal(
          `repeated group "${n.text}" holds an alternation ("|"), which can backtrack exponentially; list the alternatives outside the repetition`,
        );
      }
      const inner = check(n.body, false, w);
      if (n.max > 1 && inner > 1 && n.max - n.min > 0) {
        // Each repetition may backtrack on its own: inner^k paths for k repetitions.
        let total = 0;
        for (let k = n.min; k <= n.max; k++) total = cap(total + inner ** k);
        return total;
      }
      return cap(span * inner);
    }
  }
}

class Refusal extends Error {}

/** Screen `source` (with `flags`) as a custom detector pattern. */
export function screenPattern(source: string, flags = ''): ScreenResult {
  if (source.length > MAX_PATTERN_LENGTH)
    return { ok: false, reason: `the pattern is ${source.length} characters long; at most ${MAX_PATTERN_LENGTH} are allowed` };
  for (const f of flags) {
    if (!ALLOWED_FLAGS.includes(f))
      return {
        ok: false,
        reason: `flag "${f}" is not allowed; use only ${[...ALLOWED_FLAGS].map((x) => `"${x}"`).join(', ')} (the engine adds "g" itself)`,
      };
  }
  if (new Set(flags).size !== flags.length) return { ok: false, reason: `flags "${flags}" repeat a flag` };
  try {
    new RegExp(source, flags);
  } catch (e) {
    return { ok: false, reason: `it is not a valid regular expression: ${(e as Error).message}` };
  }
  let ast: Node;
  try {
    ast = new Parser(source, flags.includes('u')).parse();
  } catch (e) {
    return { ok: false, reason: `it uses syntax the safety check does not support (${(e as Error).message})` };
  }
  const w: Walk = { paths: 1, boundedSum: 0 };
  try {
    w.paths = check(ast, true, w);
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, reason: e.message };
    throw e;
  }
  if (w.boundedSum > MAX_BOUNDED_REPEAT_SUM) {
    return {
      ok: false,
      reason: `its bounded quantifiers allow up to ${w.boundedSum} repetitions in total; at most ${MAX_BOUNDED_REPEAT_SUM} are allowed (exact counts such as {16} do not count): tighten the ranges`,
    };
  }
  if (w.paths > MAX_BACKTRACK_PATHS) {
    return {
      ok: false,
      reason: `a match attempt can backtrack through ${w.paths >= Number.MAX_SAFE_INTEGER ? 'too many' : w.paths} paths; at most ${MAX_BACKTRACK_PATHS} are allowed: use fewer optional parts or narrower ranges`,
    };
  }
  if (minWidth(ast) === 0) return { ok: false, reason: 'it can match the empty string; every detector must match at least one character' };
  return { ok: true };
}
