// Builds the Lambda handler bundles the constructs deploy: one minified ESM file per handler,
// with its dependencies (AWS SDK v3 included: the runtime's SDK version is not ours to choose).
// Usage: node scripts/bundle.mjs [--metafile]   (part of `npm run build`)
import { build } from 'esbuild';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundles = [
  { name: 'proxy', entry: 'lambda/handlers/proxy.lambda.ts' },
  { name: 'edge-recorder', entry: 'lambda/handlers/edge-recorder.lambda.ts' },
  { name: 'digest', entry: 'lambda/handlers/digest.lambda.ts' },
  { name: 'approval-task', entry: 'lambda/handlers/approval-task.lambda.ts' },
];

const sizes = {};
for (const b of bundles) {
  const outfile = join(root, 'assets', b.name, 'index.mjs');
  mkdirSync(dirname(outfile), { recursive: true });
  const result = await build({
    entryPoints: [join(root, b.entry)],
    outfile,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    mainFields: ['module', 'main'],
    // CommonJS dependencies inside an ESM bundle still call require() for Node built-ins.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  if (process.argv.includes('--metafile')) writeFileSync(join(root, 'assets', b.name, 'meta.json'), JSON.stringify(result.metafile));
  sizes[b.name] = statSync(outfile).size;
}
for (const [name, size] of Object.entries(sizes)) console.log(`bundle ${name}: ${(size / 1024).toFixed(1)} KiB`);
