/**
 * The independent evaluation of masking: labelled texts built from other tools' public test data
 * (corpus/independent.json: Microsoft Presidio's recognizer test cases, libphonenumber's example
 * numbers), phone-number hard negatives and evasion cases; precision and recall per set and type.
 * Used by independent.test.ts (goals) and bench/masking.mjs (BENCHMARKS.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { Masker } from '../../lambda/core/masking';
import { DEFAULT_PHONE_REGIONS } from '../../shared/masking/catalog';

export interface EvalCase {
  /** `presidio`, `libphonenumber`, `hard-negatives`, `evasion`. */
  readonly set: string;
  /** What the case is (`national, no context`, `ZIP+4`, ...), for reports. */
  readonly kind: string;
  readonly text: string;
  /** Labelled values: type and span. Empty for a negative case. */
  readonly labels: ReadonlyArray<{ readonly type: string; readonly start: number; readonly end: number }>;
  /** The types the case speaks for: a region of one of these types outside every label is a false positive. */
  readonly types: readonly string[];
}

interface Corpus {
  presidio: Array<{ source: string; type: string; text: string; spans: Array<[number, number]> }>;
  phoneExamples: Array<{ region: string; countryCode: string; kind: string; nationalNumber: string }>;
}

/** The corpus, next to this file (tests) or in the source tree (compiled into dist/test/masking for the benchmark). */
function corpusFile(): Corpus {
  for (const dir of [join(__dirname, 'corpus'), join(__dirname, '..', '..', '..', 'test', 'masking', 'corpus')]) {
    try {
      return JSON.parse(readFileSync(join(dir, 'independent.json'), 'utf8')) as Corpus;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  throw new Error('test/masking/corpus/independent.json not found');
}

/** A seeded generator (mulberry32), so the hard negatives are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WITH_CONTEXT = ['Call me at {}.', 'Phone: {}', 'You can reach the office on {} until six.', 'Tel. {} (ask for Sam)'];
const WITHOUT_CONTEXT = ['{}', 'Details: {} for the record.', 'Sam wrote {} on the form yesterday.', 'see {}, then continue'];

function labelled(set: string, kind: string, template: string, value: string, type: string): EvalCase {
  const start = template.indexOf('{}');
  return { set, kind, text: template.replace('{}', value), labels: [{ type, start, end: start + value.length }], types: [type] };
}

/** Presidio's cases, as they are. */
export function presidioCases(): EvalCase[] {
  return corpusFile().presidio.map((c) => ({
    set: 'presidio',
    kind: c.source.slice(c.source.lastIndexOf('/') + 1),
    text: c.text,
    labels: c.spans.map(([start, end]) => ({ type: c.type, start, end })),
    types: [c.type],
  }));
}

/**
 * libphonenumber's example numbers written as people write them: international (`+44 20 7946 0958`)
 * and E.164 for every region, national format (`020 7946 0958`) for the regions whose national
 * numbers are recognised (`masking.phoneRegions`, default DEFAULT_PHONE_REGIONS), each in a
 * sentence with a phone word and in one without.
 */
export function phoneCases(regions: readonly string[] = DEFAULT_PHONE_REGIONS): EvalCase[] {
  const out: EvalCase[] = [];
  let k = 0;
  for (const ex of corpusFile().phoneExamples) {
    const n = parsePhoneNumberFromString(`+${ex.countryCode}${ex.nationalNumber}`);
    if (!n) continue;
    const forms: Array<[string, string]> = [
      ['international', n.formatInternational()],
      ['E.164', n.format('E.164')],
    ];
    if (regions.includes(ex.region)) forms.push(['national', n.formatNational()]);
    for (const [form, value] of forms) {
      k++;
      out.push(labelled('libphonenumber', `${form}, context`, WITH_CONTEXT[k % WITH_CONTEXT.length]!, value, 'PHONE'));
      out.push(labelled('libphonenumber', `${form}, no context`, WITHOUT_CONTEXT[k % WITHOUT_CONTEXT.length]!, value, 'PHONE'));
    }
  }
  return out;
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

/** Numbers that are not phone numbers: order numbers, timestamps, versions, prices, ISBNs, ZIP+4, SKUs. */
export function hardNegatives(count = 100, seed = 20261207): EvalCase[] {
  const r = rng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const digits = (n: number): string => Array.from({ length: n }, (_, i) => (i === 0 ? int(1, 9) : int(0, 9))).join('');
  const isbn13 = (): string => {
    const body = `978${digits(9)}`;
    const sum = [...body].reduce((s, d, i) => s + Number(d) * (i % 2 ? 3 : 1), 0);
    const full = body + ((10 - (sum % 10)) % 10);
    return `${full.slice(0, 3)}-${full.slice(3, 4)}-${full.slice(4, 8)}-${full.slice(8, 12)}-${full.slice(12)}`;
  };
  const makers: Array<[string, () => string]> = [
    [
      'order number',
      () =>
        [
          `Order #${digits(8)} has shipped.`,
          `order number ${digits(10)} was refunded`,
          `Your order ${digits(3)}-${digits(7)}-${digits(7)} is ready`,
        ][int(0, 2)]!,
    ],
    [
      'timestamp',
      () =>
        [
          `at 2024-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)} ${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}`,
          `ts=${int(1500000000, 1800000000)}`,
          `logged ${pad(int(1, 28), 2)}.${pad(int(1, 12), 2)}.2023 ${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}`,
          `epoch ms ${int(1500000000, 1800000000)}${digits(3)}`,
        ][int(0, 3)]!,
    ],
    [
      'version',
      () =>
        [
          `upgrade to v${int(1, 20)}.${int(0, 40)}.${int(0, 400)}`,
          `build ${int(1, 9)}.${int(0, 9)}.${int(1000, 9999)}.${int(100, 999)}`,
          `kernel ${int(4, 6)}.${int(0, 19)}.${int(0, 200)}-${int(10, 999)}-generic`,
        ][int(0, 2)]!,
    ],
    [
      'price',
      () =>
        [
          `costs $${int(1, 999)},${pad(int(0, 999), 3)},${pad(int(0, 999), 3)}.${pad(int(0, 99), 2)}`,
          `total € ${int(10, 999)} ${pad(int(0, 999), 3)},${pad(int(0, 99), 2)}`,
          `JPY ${int(100, 999)},${pad(int(0, 999), 3)},${pad(int(0, 999), 3)}`,
        ][int(0, 2)]!,
    ],
    ['ISBN', () => [`ISBN ${isbn13()}`, `see ${isbn13()} in the catalogue`, `ISBN-13: ${isbn13().replace(/-/g, '')}`][int(0, 2)]!],
    [
      'ZIP+4',
      () =>
        [
          `Boston, MA ${pad(int(1000, 99999), 5)}-${pad(int(0, 9999), 4)}`,
          `zip ${pad(int(1000, 99999), 5)}-${pad(int(0, 9999), 4)}`,
          `Springfield IL ${pad(int(60000, 62999), 5)}-${pad(int(0, 9999), 4)} USA`,
        ][int(0, 2)]!,
    ],
    [
      'SKU',
      () =>
        [
          `SKU ${digits(4)}-${digits(4)}-${digits(2)}`,
          `part no. ${digits(3)}-${digits(3)}-${digits(4)}`,
          `item ${digits(2)}.${digits(3)}.${digits(3)}.${digits(2)}`,
        ][int(0, 2)]!,
    ],
  ];
  const out: EvalCase[] = [];
  for (const [kind, make] of makers) {
    for (let i = 0; i < count; i++) out.push({ set: 'hard-negatives', kind, text: make(), labels: [], types: ['PHONE'] });
  }
  return out;
}

const ZW = ['\u200B', '\u200C', '\u200D', '\u2060', '\u00AD', '\uFEFF', '\u180E', '\u034F'];
const FULLWIDTH = (s: string): string => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));

/** Invisible characters between the characters of `value`, every `step` characters. */
function sprinkle(value: string, char: string, step: number): string {
  let out = '';
  for (let i = 0; i < value.length; i++) out += value[i]! + (i % step === step - 1 && i < value.length - 1 ? char : '');
  return out;
}

/** Values hidden behind invisible and look-alike characters (the gateway's own promise, so its own set). */
export function evasionCases(): EvalCase[] {
  const values: Array<[string, string]> = [
    ['US_SSN', '123-45-6789'],
    ['US_SSN', '078-05-1120'],
    ['CREDIT_CARD', '4111 1111 1111 1111'],
    ['CREDIT_CARD', '5555555555554444'],
    ['EMAIL', 'jane.doe@example.com'],
    ['EMAIL', 'ops+alerts@corp.example.org'],
    ['CODENAME', 'Project Falcon'],
  ];
  const out: EvalCase[] = [];
  for (const [type, value] of values) {
    const forms: Array<[string, string]> = [
      ...ZW.map((z, i): [string, string] => [`invisible U+${z.charCodeAt(0).toString(16).toUpperCase()}`, sprinkle(value, z, 1 + (i % 3))]),
      ['fullwidth', FULLWIDTH(value)],
      ['mixed fullwidth and invisible', sprinkle(FULLWIDTH(value), '\u200B', 2)],
      ['Cyrillic look-alikes', value.replace(/o/g, 'о').replace(/a/g, 'а').replace(/e/g, 'е')],
      ['dashes and spaces', value.replace(/-/g, '\u2013').replace(/ /g, '\u00A0')],
    ];
    for (const [kind, v] of forms) {
      if (v === value) continue;
      out.push(labelled('evasion', `${type}: ${kind}`, `on file: ${'{}'} (confidential)`, v, type));
    }
  }
  return out;
}

export interface Score {
  labelled: number;
  found: number;
  regions: number;
  correct: number;
  /** Cases with a false positive (for sets of negatives). */
  cases: number;
  casesWithFalsePositive: number;
}

export const recall = (s: Score): number => (s.labelled === 0 ? 1 : s.found / s.labelled);
export const precision = (s: Score): number => (s.regions === 0 ? 1 : s.correct / s.regions);

export interface Evaluation {
  /** By `set/type`. */
  readonly scores: Map<string, Score>;
  readonly misses: Array<{ set: string; kind: string; text: string }>;
  readonly falsePositives: Array<{ set: string; kind: string; type: string; text: string; value: string }>;
}

/** Mask every case and score it: recall over labels, precision over regions of the case's types. */
export async function evaluate(masker: Masker, cases: readonly EvalCase[]): Promise<Evaluation> {
  const scores = new Map<string, Score>();
  const score = (k: string): Score => {
    let s = scores.get(k);
    if (!s) scores.set(k, (s = { labelled: 0, found: 0, regions: 0, correct: 0, cases: 0, casesWithFalsePositive: 0 }));
    return s;
  };
  const misses: Evaluation['misses'] = [];
  const falsePositives: Evaluation['falsePositives'] = [];
  for (const c of cases) {
    const r = await masker.maskItems([c.text]);
    const regions = r.findings[0]!.flatMap((g) => g.offsets.map(([start, end]) => ({ type: g.type, start, end })));
    for (const l of c.labels) {
      const s = score(`${c.set}/${l.type}`);
      s.labelled++;
      let covered = l.start;
      for (const g of regions.filter((x) => x.type === l.type).sort((a, b) => a.start - b.start))
        if (g.start <= covered && g.end > covered) covered = g.end;
      if (covered >= l.end) s.found++;
      else misses.push({ set: c.set, kind: c.kind, text: c.text });
    }
    let fp = false;
    for (const g of regions) {
      if (!c.types.includes(g.type)) continue;
      const s = score(`${c.set}/${g.type}`);
      s.regions++;
      if (c.labels.some((l) => l.type === g.type && l.start < g.end && g.start < l.end)) s.correct++;
      else {
        fp = true;
        falsePositives.push({ set: c.set, kind: c.kind, type: g.type, text: c.text, value: c.text.slice(g.start, g.end) });
      }
    }
    for (const t of c.types) {
      const s = score(`${c.set}/${t}`);
      s.cases++;
      if (fp) s.casesWithFalsePositive++;
    }
  }
  return { scores, misses, falsePositives };
}
