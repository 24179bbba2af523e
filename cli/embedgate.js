#!/usr/bin/env node
'use strict';
// The `embedgate` command: runs the compiled CLI (npm install / npm ci build it through `prepare`).
require('../dist/cli/main.js').run(process.argv.slice(2));
