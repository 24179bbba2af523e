/**
 * Preloaded (`node --require`) into an `embedgate dev` child process by the security suites to move
 * that process's wall clock forward without waiting: JWKS cooldowns (30 s), key-set freshness
 * (10 min) and stale-if-error windows (1 h) are real-time rules inside the child.
 *
 * Only `Date.now()` is shifted (jose, the verifier, the gateway clock and session ids all read it);
 * timers are not. On SIGUSR2 the child reads `<seq> <offsetMs>` from the file named by
 * EMBEDGATE_TEST_CLOCK_FILE, sets its offset and acknowledges on stderr with
 * `embedgate-test-clock seq=<seq> offset=<offsetMs>`. Test use only.
 */
'use strict';
const { readFileSync } = require('node:fs');

const file = process.env.EMBEDGATE_TEST_CLOCK_FILE;
const realNow = Date.now.bind(Date);
let offset = 0;

Date.now = () => realNow() + offset;

if (file) {
  process.on('SIGUSR2', () => {
    const [seq, value] = readFileSync(file, 'utf8').trim().split(/\s+/);
    const next = Number(value);
    if (Number.isFinite(next)) offset = next;
    process.stderr.write(`embedgate-test-clock seq=${seq} offset=${offset}\n`);
  });
}
