// Where the time goes in a V8 CPU profile (`node --cpu-prof`, e.g. from
// `node bench/compare.mjs --cpu-prof <dir>`): self and total (inclusive) time per function and
// self time per file or package, as shares of the busy (non-idle) time.
//
// Usage: node bench/cpuprofile-summary.mjs <file.cpuprofile> [--top 25] [--match <substring>] [--skip <s>]
//   --skip:  ignore the first <s> seconds of the profile (start-up, module loading, warm-up).
//   --match: also list the callers-to-callee stacks (total time) of functions whose name or file
//            contains the substring.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, match: { type: 'string' }, skip: { type: 'string', default: '0' } },
});
if (positionals.length !== 1)
  throw new Error('usage: node bench/cpuprofile-summary.mjs <file.cpuprofile> [--top 25] [--match <substring>] [--skip <s>]');
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const TOP = Number(values.top);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

/** A short place for a call frame: package (node_modules), node internal, or repository file. */
const place = (cf) => {
  const url = cf.url || '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return url;
  if (!url) return '(native)';
  const m = /\/(dist|bench|cli|lambda|shared)\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url.replace(/^file:\/\//, '');
};
const fnKey = (cf) => `${cf.functionName || '(anonymous)'} ${place(cf)}:${cf.lineNumber + 1}`;

// Time per sample: timeDeltas[i] is the time before sample i.
const self = new Map();
const total = new Map();
const files = new Map();
let busy = 0;
let all = 0;
const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);
let gc = 0;
let program = 0;
const skipMs = Number(values.skip) * 1000;
let at = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000; // ms, attributed to sample i
  at += (profile.timeDeltas[i] ?? 0) / 1000;
  if (at < skipMs) continue;
  const node = byId.get(profile.samples[i]);
  all += dt;
  const name = node.callFrame.functionName;
  if (name === '(idle)') continue;
  if (name === '(garbage collector)') gc += dt;
  if (name === '(program)') program += dt;
  busy += dt;
  if (IDLE.has(name) && name !== '(garbage collector)' && name !== '(program)') continue;
  const k = fnKey(node.callFrame);
  self.set(k, (self.get(k) ?? 0) + dt);
  const f = IDLE.has(name) ? name : place(node.callFrame);
  files.set(f, (files.get(f) ?? 0) + dt);
  const seen = new Set();
  for (let id = node.id; id !== undefined; id = parent.get(id)) {
    const kk = fnKey(byId.get(id).callFrame);
    if (seen.has(kk)) continue;
    seen.add(kk);
    total.set(kk, (total.get(kk) ?? 0) + dt);
  }
}

const pctOf = (ms) => `${((100 * ms) / busy).toFixed(1).padStart(5)} %`;
const rows = (m, n) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, ms]) => `${pctOf(ms)} ${ms.toFixed(0).padStart(7)} ms  ${k}`);
console.log(
  `profile: ${(all / 1000).toFixed(1)} s sampled, busy ${(busy / 1000).toFixed(1)} s (${((100 * busy) / all).toFixed(0)} %), of which GC ${pctOf(gc)}, (program) ${pctOf(program)}`,
);
console.log(`\nself time by file or package (share of busy time):`);
console.log(rows(files, TOP).join('\n'));
console.log(`\nself time by function:`);
console.log(rows(self, TOP).join('\n'));
console.log(`\ntotal (inclusive) time by function:`);
console.log(rows(total, TOP).join('\n'));
if (values.match) {
  const m = values.match;
  console.log(`\ntotal time of functions matching "${m}":`);
  console.log(rows(new Map([...total].filter(([k]) => k.includes(m))), TOP).join('\n'));
}
