// Builds the `embedgate` command as it ships: dist/cli-bundle/main.mjs (ESM, minified) and the
// chunks it loads with import(), every dependency inside (the AWS SDK clients, jose, zod, middy,
// Powertools, oidc-provider), so the installed package needs no runtime `dependencies` (jsii
// allows none but bundled ones, and a CDK app should not install the CLI's). One exception:
// @duckdb/node-api (a native binary per platform, ~50 MB) stays outside; `embedgate audit query`
// names the command that installs it.
//
// Usage: node scripts/bundle-cli.mjs   (part of `npm run build`; prints the size it wrote)
import { build } from 'esbuild';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESM_BUNDLE_OPTIONS } from './esm-bundle-options.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_OUTDIR = join(root, 'dist', 'cli-bundle');
/** Packages the CLI bundle leaves outside (installed by the user when needed). */
export const CLI_EXTERNAL = ['@duckdb/node-api'];

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  rmSync(CLI_OUTDIR, { recursive: true, force: true });
  await build({
    entryPoints: { main: join(root, 'cli', 'main.ts') },
    outdir: CLI_OUTDIR,
    ...ESM_BUNDLE_OPTIONS,
    // oidc-provider looks settings up by class name (the TTL of `ClientCredentials`): keep names.
    keepNames: true,
    external: CLI_EXTERNAL,
    // CommonJS dependencies inside an ESM bundle call require() for Node built-ins; CommonJS
    // sources of this repository use __dirname.
    banner: {
      js: [
        "import { createRequire as __cr } from 'node:module';",
        "import { fileURLToPath as __fu } from 'node:url';",
        "import { dirname as __dn } from 'node:path';",
        'const require = __cr(import.meta.url);',
        'const __filename = __fu(import.meta.url);',
        'const __dirname = __dn(__filename);',
      ].join(' '),
    },
    logLevel: 'warning',
  });
  const files = readdirSync(CLI_OUTDIR, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
  const bytes = files.reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
  console.log(
    `cli bundle: ${(statSync(join(CLI_OUTDIR, 'main.mjs')).size / 1024).toFixed(1)} KiB at start, ${(bytes / 1024).toFixed(1)} KiB in ${files.length} file(s)`,
  );
}
