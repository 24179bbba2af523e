/**
 * The fake upstream (./fake-upstream.ts) in a process of its own, with seeded random faults
 * (./load-driver.ts `faultScript`), for the load benchmark (bench/load.mjs): the gateway under
 * load should not share its CPU with its upstream.
 *
 *   node dist/test/support/run-fake-upstream.js [--seed <n>] [--fault-rate <0..1>] [--dimensions <n>]
 *
 * Once listening it writes one JSON line `{"fakeUpstream":{"url":…}}` to stdout; on SIGTERM/SIGINT
 * or when stdin ends it writes `{"fakeUpstream":{"requests":<n>}}` and exits.
 */
import { parseArgs } from 'node:util';
import { startFakeUpstream } from './fake-upstream';
import { faultScript } from './load-driver';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '1' },
      'fault-rate': { type: 'string', default: '0.2' },
      dimensions: { type: 'string', default: '32' },
    },
  });
  const faults = faultScript(Number(values.seed), Number(values['fault-rate']));
  let count = 0;
  const upstream = await startFakeUpstream({ dimensions: Number(values.dimensions), script: (req) => faults(req, count++) });
  // The fake keeps every request for tests to inspect; a long benchmark must not.
  const trim = setInterval(() => upstream.requests.splice(0), 1000);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(trim);
    process.stdout.on('error', () => undefined); // the parent may be gone already
    process.stdout.write(`${JSON.stringify({ fakeUpstream: { requests: count } })}\n`);
    void upstream.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ fakeUpstream: { url: upstream.url } })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`run-fake-upstream: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
