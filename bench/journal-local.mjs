// embedgate dev's record write (issue 16), in process: the old FileArchive (one file per record:
// open O_EXCL, write, fdatasync, close) against the FileJournal (append + fdatasync; group commit
// under concurrency), at concurrency 1 (inline, as with one request in flight) and 8 and 32.
// Usage: npm run build && node bench/journal-local.mjs [--records 2000]
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { FileArchive } = require('../dist/lambda/adapters/local/file-archive.js');
const { FileJournal } = require('../dist/lambda/adapters/local/journal.js');
const { sealRecord, RECORD_SCHEMA } = require('../dist/lambda/core/record.js');
const { values } = parseArgs({ options: { records: { type: 'string', default: '2000' } } });
const N = Number(values.records);

let n = 0;
const record = () => {
  const at = new Date().toISOString();
  return sealRecord({
    schema: RECORD_SCHEMA,
    session_id: `0190f000-0000-7000-8000-${String(++n).padStart(12, '0')}`,
    started_at: at,
    ended_at: at,
    request: { method: 'POST', path: '/v1/embeddings', request_id: 'r', source_ip: '127.0.0.1', user_agent: 'bench' },
    principal: null,
    model: { name: 'm', provider: 'local', upstream_model: null },
    decision: { outcome: 'allow', status: 200, reason: 'rule_allow', rule_id: 'all', policy_version: 'sha256:0' },
    input: { kind: 'text', items: 2, characters: 10, encoding_format: 'float', dimensions: null, request_bytes: 40, text: null },
    masking: null,
    upstream: null,
    usage: { prompt_tokens: 2, total_tokens: 2 },
    output: null,
    timings: { total_ms: 1, auth_ms: 0, upstream_ms: 0 },
    approval: null,
  });
};

async function run(name, archive, c) {
  const times = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next++ < N) {
        const r = record();
        const s = performance.now();
        await archive.put(r);
        times.push(performance.now() - s);
      }
    }),
  );
  const wall = performance.now() - t0;
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(3);
  console.log(
    `  ${name.padEnd(12)} c=${String(c).padStart(2)}: put p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, ${Math.round((N / wall) * 1000)} records/s`,
  );
}

console.log(`record writes, ${N} per row (${new Date().toISOString()})`);
for (const c of [1, 8, 32]) {
  const d1 = mkdtempSync(join(tmpdir(), 'eg-fa-'));
  await run('FileArchive', new FileArchive(d1, { writeInline: () => c === 1 }), c);
  rmSync(d1, { recursive: true, force: true });
  const d2 = mkdtempSync(join(tmpdir(), 'eg-fj-'));
  const j = await FileJournal.open(d2, { writeInline: () => c === 1 });
  await run('FileJournal', j, c);
  await j.close();
  rmSync(d2, { recursive: true, force: true });
}
