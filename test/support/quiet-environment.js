// Jest's node environment, with console output captured per test: what a test (or the code it
// runs) logs through `console` is printed, under the test's name, only when that test fails, or
// when a hook (beforeAll, afterAll) fails; passing tests are silent. EMBEDGATE_TEST_LOGS=1 prints
// everything as it comes, as plain jest does.
'use strict';
const { TestEnvironment } = require('jest-environment-node');
const { format } = require('node:util');

const METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'];

class QuietEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.buffer = [];
    this.file = context.testPath;
  }

  async setup() {
    await super.setup();
    if (process.env.EMBEDGATE_TEST_LOGS === '1') return;
    const console = this.global.console;
    const buffer = this.buffer;
    for (const m of METHODS) {
      console[m] = (...args) => {
        buffer.push(`${m === 'log' ? '' : `[${m}] `}${format(...args)}`);
      };
    }
  }

  flush(title) {
    if (this.buffer.length === 0) return;
    process.stderr.write(`\n--- output of ${title} (${this.file}) ---\n${this.buffer.join('\n')}\n--- end ---\n`);
    this.buffer.length = 0;
  }

  handleTestEvent(event) {
    if (event.name === 'test_start') this.buffer.length = 0;
    if (event.name === 'test_done') {
      if (event.test.errors.length > 0) this.flush(fullName(event.test));
      this.buffer.length = 0;
    }
    if (event.name === 'hook_failure') this.flush(`${event.hook.type} hook`);
  }
}

function fullName(test) {
  const names = [];
  for (let t = test; t && t.name !== 'ROOT_DESCRIBE_BLOCK'; t = t.parent) names.unshift(t.name);
  return names.join(' > ');
}

module.exports = QuietEnvironment;
