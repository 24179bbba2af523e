// Masking quality and speed, against the compiled code in dist/.
//   1. Precision and recall per entity type on a labelled evaluation set generated with a seeded
//      @faker-js/faker (bench/masking-corpus.mjs): sentences with entities, hard negatives, clean prose.
//   2. Throughput on one core (MB/s of UTF-8 input through `maskItems`, items of ~8 KB): clean text
//      and PII-dense text (every sentence holds entities), redact and pseudonymize.
//   3. Linear time on adversarial inputs: time for n, 2n, 4n characters.
//   4. Precision and recall on the independent evaluation set (test/masking/corpus/independent.json:
//      Presidio's recognizer test cases, libphonenumber's example numbers), phone-number hard
//      negatives and evasion cases (invisible and look-alike characters), see test/masking/evaluation.ts.
// Usage: npm run build && node bench/masking.mjs [--runs 7] [--verbose]
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { createCorpus } from './masking-corpus.mjs';

const require = createRequire(import.meta.url);
const { createMasker, scan, mask, builtinDetectors, loadPhoneLibrary } = require('../dist/lambda/core/masking/index.js');
const evaluation = require('../dist/test/masking/evaluation.js');
await loadPhoneLibrary();
const { loadConfig } = require('../dist/shared/config.js');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const runs = arg('--runs', 7);
const seed = arg('--seed', 20261129);
const verbose = process.argv.includes('--verbose');

const baseDoc = {
  issuers: [{ id: 'corp', issuer: 'https://idp.example.com', audiences: 'embedgate' }],
  models: [{ name: 'local', provider: 'local' }],
  policy: { rules: [] },
};
const maskingOf = (masking) => loadConfig({ ...baseDoc, masking: { enabled: true, ...masking } }).masking;
const KEY = 'bench-pseudonym-key-0123456789abcdef';

// ---- 1. quality ----------------------------------------------------------------------------
const corpus = createCorpus({ seed });
const masker = createMasker(maskingOf({}));
const stats = new Map();
const stat = (k) => {
  if (!stats.has(k)) stats.set(k, { labelled: 0, found: 0, findings: 0, correct: 0 });
  return stats.get(k);
};
const kinds = new Map();
const falsePositives = [];
const misses = [];
const t0 = performance.now();
for (const item of corpus) {
  const r = await masker.maskItems([item.text]);
  const regions = r.findings[0].flatMap((g) => g.offsets.map(([start, end]) => ({ type: g.type, detector: g.detector, start, end })));
  for (const e of item.entities) {
    const s = stat(e.type);
    s.labelled++;
    // Found: the labelled span is covered by regions of its type.
    let covered = e.start;
    for (const g of regions.filter((x) => x.type === e.type).sort((a, b) => a.start - b.start))
      if (g.start <= covered && g.end > covered) covered = g.end;
    const ok = covered >= e.end;
    if (ok) s.found++;
    else misses.push({ type: e.kind, value: item.text.slice(e.start, e.end), text: item.text });
    const k = kinds.get(e.kind) ?? { labelled: 0, found: 0 };
    k.labelled++;
    if (ok) k.found++;
    kinds.set(e.kind, k);
  }
  for (const g of regions) {
    const s = stat(g.type);
    s.findings++;
    if (item.entities.some((e) => e.type === g.type && e.start < g.end && g.start < e.end)) s.correct++;
    else
      falsePositives.push({
        type: g.type,
        detector: g.detector,
        value: item.text.slice(g.start, g.end),
        group: item.group,
        text: item.text,
      });
  }
}
const evalMs = performance.now() - t0;
const fpByGroup = Object.fromEntries(
  ['hard-negative', 'unseen-negative', 'clean', 'positive'].map((g) => [g, falsePositives.filter((x) => x.group === g).length]),
);

// ---- 2. throughput -------------------------------------------------------------------------
function batches(texts, itemChars) {
  const items = [];
  let cur = '';
  for (const t of texts) {
    cur += (cur ? ' ' : '') + t;
    if (cur.length >= itemChars) {
      items.push(cur);
      cur = '';
    }
  }
  if (cur) items.push(cur);
  return items;
}
const repeatTo = (texts, chars) => {
  const out = [];
  let n = 0;
  for (let i = 0; n < chars; i++) {
    out.push(texts[i % texts.length]);
    n += texts[i % texts.length].length + 1;
  }
  return out;
};
const TARGET = 4 * 1024 * 1024;
const textsOf = (...groups) => corpus.filter((x) => groups.includes(x.group)).map((x) => x.text);
const denseTexts = textsOf('positive');
const workloads = [
  { name: 'clean prose (no entities)', items: batches(repeatTo(textsOf('clean'), TARGET), 8192), masking: {} },
  {
    name: 'number-heavy text without PII (hard negatives)',
    items: batches(repeatTo(textsOf('hard-negative', 'unseen-negative'), TARGET), 8192),
    masking: {},
  },
  { name: 'PII-dense text, redact', items: batches(repeatTo(denseTexts, TARGET), 8192), masking: {} },
  {
    name: 'PII-dense text, pseudonymize all',
    items: batches(repeatTo(denseTexts, TARGET), 8192),
    masking: {
      pseudonymKey: { source: 'env', name: 'K' },
      strategies: Object.fromEntries(
        [
          'EMAIL',
          'PHONE',
          'US_SSN',
          'CREDIT_CARD',
          'IBAN',
          'IP_ADDRESS',
          'AWS_ACCESS_KEY_ID',
          'AWS_SECRET_ACCESS_KEY',
          'JWT',
          'PRIVATE_KEY',
          'API_KEY',
        ].map((t) => [t, 'pseudonymize']),
      ),
    },
  },
];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const w of workloads) {
  const m = createMasker(maskingOf(w.masking), { key: KEY });
  const bytes = w.items.reduce((n, t) => n + Buffer.byteLength(t), 0);
  await m.maskItems(w.items); // warm-up
  const rates = [];
  let findings = 0;
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    const out = await m.maskItems(w.items);
    rates.push(bytes / 1e6 / ((performance.now() - t) / 1000));
    findings = Object.values(out.counts).reduce((a, b) => a + b, 0);
  }
  w.result = { bytes, median: median(rates), min: Math.min(...rates), max: Math.max(...rates), findings, perKb: findings / (bytes / 1024) };
}

// ---- 3. adversarial inputs: linear time ----------------------------------------------------
const rep = (unit, n) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
const ADVERSARIAL = [
  ['digits', (n) => rep('1', n)],
  ['digits and spaces', (n) => rep('1 ', n)],
  ['digits and dashes', (n) => rep('12-', n)],
  ['dotted numbers', (n) => rep('1.', n)],
  ['@ runs', (n) => rep('a@', n)],
  ['local-part chars, no @', (n) => rep('a.', n)],
  ['long local part then @', (n) => `${rep('a', n - 8)}@x.com`],
  ['colons and hex', (n) => rep('a:', n)],
  ['double colons', (n) => rep('1::', n)],
  ['+ digits', (n) => rep('+1', n)],
  ['parentheses', (n) => rep('(0', n)],
  ['IBAN-like', (n) => rep('DE00', n)],
  ['base64 after context', (n) => `aws_secret_access_key ${rep('Ab1/', n - 22)}`],
  ['repeated context', (n) => rep('secret access key ', n)],
  ['JWT prefix runs', (n) => rep('eyJ', n)],
  ['JWT dots', (n) => `eyJ${rep('a.', n - 3)}`],
  ['PEM BEGIN without END', (n) => rep('-----BEGIN PRIVATE KEY-----\n', n)],
  ['API key prefixes', (n) => rep('sk-', n)],
  ['ghp_ runs', (n) => `ghp_${rep('a', n - 4)}_`],
  ['brackets', (n) => rep('[', n)],
  ['angle brackets', (n) => rep('<EMAIL_', n)],
  ['mixed PII-like', (n) => rep('555-123-4567 4111 1111 1111 1111 a@b.co 10.0.0.1 ', n)],
];
const detectors = builtinDetectors();
const N = 25_000;
const adversarial = [];
for (const [name, make] of ADVERSARIAL) {
  const times = [N, 2 * N, 4 * N].map((n) => {
    const text = make(n);
    const samples = [];
    mask(text, scan(text, detectors), { strategies: {} }, null); // warm-up
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      mask(text, scan(text, detectors), { strategies: {} }, null);
      samples.push(performance.now() - t);
    }
    return median(samples);
  });
  adversarial.push({ name, times, ratio: times[2] / times[0] });
}

// ---- 4. independent evaluation -------------------------------------------------------------
const independentMasker = createMasker(
  maskingOf({ customDetectors: [{ name: 'CODENAME', pattern: 'project\\s{1,4}falcon', flags: 'i' }] }),
);
const independentCases = [
  ...evaluation.presidioCases(),
  ...evaluation.phoneCases(),
  ...evaluation.hardNegatives(),
  ...evaluation.evasionCases(),
];
const independent = await evaluation.evaluate(independentMasker, independentCases);

// ---- report --------------------------------------------------------------------------------
const f1 = (x) => x.toFixed(1);
const f3 = (x) => (Number.isNaN(x) ? 'n/a' : x.toFixed(3));
const cpu = cpus();
console.log(`node ${process.version}, ${cpu[0].model} x${cpu.length}, ${runs} runs, ${new Date().toISOString()}`);
const count = (g) => corpus.filter((x) => x.group === g).length;
console.log(
  `\nEvaluation set (seed ${seed}): ${corpus.length} items: ${count('positive')} with entities, ${count('hard-negative')} hard negatives, ${count('unseen-negative')} hard negatives written after tuning, ${count('clean')} clean; scanned in ${f1(evalMs)} ms`,
);
console.log('| entity type | labelled | recall | findings | precision |');
console.log('| --- | --- | --- | --- | --- |');
for (const [type, s] of [...stats.entries()].sort()) {
  console.log(`| ${type} | ${s.labelled} | ${f3(s.found / s.labelled)} | ${s.findings} | ${f3(s.correct / s.findings)} |`);
}
console.log(
  `\nFalse positives by group: ${Object.entries(fpByGroup)
    .map(([g, n]) => `${g} ${n}/${count(g)} items`)
    .join(', ')}`,
);
console.log('\nRecall by format:');
console.log(
  [...kinds.entries()]
    .sort()
    .filter(([k]) => k.includes('/'))
    .map(([k, v]) => `${k} ${v.found}/${v.labelled}`)
    .join(', '),
);
console.log('\nThroughput, one core, `maskItems` over ~8 KB items (median, min-max over runs):');
console.log('| workload | input | findings per KB | MB/s median (min-max) |');
console.log('| --- | --- | --- | --- |');
for (const w of workloads) {
  const r = w.result;
  console.log(`| ${w.name} | ${f1(r.bytes / 1e6)} MB | ${f1(r.perKb)} | ${f1(r.median)} (${f1(r.min)}-${f1(r.max)}) |`);
}
console.log(`\nAdversarial inputs, scan + mask, median of 5 (n = ${N} characters):`);
console.log('| input | n | 2n | 4n | 4n / n |');
console.log('| --- | --- | --- | --- | --- |');
for (const a of adversarial) console.log(`| ${a.name} | ${a.times.map((t) => `${t.toFixed(2)} ms`).join(' | ')} | ${a.ratio.toFixed(1)} |`);
console.log(`\nIndependent evaluation set: ${independentCases.length} cases (Presidio, libphonenumber, hard negatives, evasion):`);
console.log('| set / entity type | labelled | recall | regions | precision | cases with a false positive |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [k, s] of [...independent.scores.entries()].sort()) {
  console.log(
    `| ${k} | ${s.labelled} | ${f3(evaluation.recall(s))} | ${s.regions} | ${f3(evaluation.precision(s))} | ${s.casesWithFalsePositive}/${s.cases} |`,
  );
}
console.log('\nIndependent set, misses:');
for (const m of independent.misses) console.log(`  ${m.set} ${m.kind}: ${JSON.stringify(m.text.slice(0, 120))}`);
console.log('Independent set, false positives:');
for (const fp of independent.falsePositives)
  console.log(`  ${fp.set} ${fp.kind} ${fp.type} ${JSON.stringify(fp.value)} in ${JSON.stringify(fp.text.slice(0, 120))}`);
if (verbose) {
  console.log('\nFalse positives:');
  for (const fp of falsePositives.slice(0, 60))
    console.log(`  ${fp.type}/${fp.detector} [${fp.group}] ${JSON.stringify(fp.value)} in ${JSON.stringify(fp.text.slice(0, 160))}`);
  console.log('\nMisses:');
  for (const m of misses.slice(0, 60)) console.log(`  ${m.type} ${JSON.stringify(m.value)} in ${JSON.stringify(m.text.slice(0, 160))}`);
}
