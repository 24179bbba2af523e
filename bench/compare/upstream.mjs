// The upstream stand-in of bench/compare.mjs, in a process of its own: the fake OpenAI-compatible
// embeddings server of the tests (test/support/fake-upstream.ts, compiled in dist/), answering every
// `POST .../embeddings` with deterministic vectors after a fixed latency.
//
//   node bench/compare/upstream.mjs [--latency <ms>] [--dimensions <n>]
//
// Once listening it writes one JSON line `{"benchUpstream":{"url":…,"origin":…}}`; on SIGTERM/SIGINT
// or when stdin ends it writes `{"benchUpstream":{"requests":<n>}}` and exits.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setInterval, clearInterval } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'dist', 'package.json'));
const { startFakeUpstream } = require('./test/support/fake-upstream.js');

const { values } = parseArgs({ options: { latency: { type: 'string', default: '0' }, dimensions: { type: 'string', default: '1536' } } });
let count = 0;
const upstream = await startFakeUpstream({
  dimensions: Number(values.dimensions),
  latencyMs: Number(values.latency),
  script: () => {
    count++;
    return undefined; // the default behaviour: success after `latencyMs`
  },
});
// The fake keeps every request for tests to inspect; a benchmark must not.
const trim = setInterval(() => upstream.requests.splice(0), 250);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  clearInterval(trim);
  process.stdout.on('error', () => undefined); // the parent may be gone already
  process.stdout.write(`${JSON.stringify({ benchUpstream: { requests: count } })}\n`);
  void upstream.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
process.stdout.write(`${JSON.stringify({ benchUpstream: { url: upstream.url, origin: upstream.origin } })}\n`);
