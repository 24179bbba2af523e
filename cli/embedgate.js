#!/usr/bin/env node
'use strict';
// The `embedgate` command: runs the CLI bundle `npm run build` writes (scripts/bundle-cli.mjs),
// which carries its dependencies, so the installed package needs none at run time.
import('../dist/cli-bundle/main.mjs').then(
  (cli) => cli.run(process.argv.slice(2)),
  (e) => {
    process.stderr.write(
      `embedgate: cannot load the CLI (${e.code ?? e.message}); in a checkout of the repository, run npm run build first\n`,
    );
    process.exit(1);
  },
);
