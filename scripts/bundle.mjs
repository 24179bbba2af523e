// Builds the Lambda handler bundles the constructs deploy: one directory per handler,
// assets/<name>/, holding index.mjs (the entry: minified ESM, `index.handler`) and, when the
// handler loads code lazily with `import()`, the chunks it loads (assets/<name>/chunks/*.mjs).
// Dependencies are bundled (AWS SDK v3 included: the runtime's SDK version is not ours to choose).
// The whole directory is the function's code (lib/private/handler-code.ts copies all of it).
//
// Size levers applied here (measured in BENCHMARKS.md, "Lambda bundles"):
// - code splitting: what a handler `import()`s (the Bedrock and Comprehend clients) becomes a
//   chunk loaded only by gateways that configure it;
// - the SDK's default credential chain (`@aws-sdk/credential-provider-node`: env, SSO, INI,
//   process, web identity, container, IMDS, and the nested STS/SSO clients) resolves to
//   lambda/adapters/aws/lambda-credentials.ts, the environment variables Lambda sets;
// - SDK schema modules: computed keys naming module constants are written as the constants'
//   string values, which lets esbuild drop the schemas of operations nobody calls;
// - SDK package.json imports (read for `version` only) are reduced to name and version;
// - the configuration schema (zod, shared/config-schema*.ts, the shared/config.ts facade) is not
//   loaded at start: the entries read the sealed document the construct validated at synth
//   (shared/config-runtime.ts); the schema is a chunk loaded only for a document that needs it.
//   The build fails if it is on the start path.
//
// Usage: node scripts/bundle.mjs [--metafile]   (part of `npm run build`; --metafile also writes
// assets/<name>/meta.json, esbuild's metafile, for inspection; it is never deployed)
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESM_BUNDLE_OPTIONS } from './esm-bundle-options.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The handler bundles: assets/<name>/index.mjs from lambda/handlers/<name>.lambda.ts. The names are
 * the contract's (HANDLER_BUNDLES, shared/contract.ts), read from its compiled form: `npm run build`
 * runs tsc first, and one list serves the constructs and this script.
 */
export const bundles = contractBundles().map((name) => ({ name, entry: `lambda/handlers/${name}.lambda.ts` }));

function contractBundles() {
  const compiled = join(root, 'dist', 'shared', 'contract.js');
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run tsc first (npm run build does)`);
  return createRequire(import.meta.url)(compiled).HANDLER_BUNDLES;
}

/** Goal (issue 7): what a handler loads at start, at most this many bytes. */
const BUDGET_BYTES = 500_000;

/** The SDK's default credential chain (and the STS/SSO clients it uses): never in a bundle. */
const CREDENTIAL_CHAIN =
  /[\\/]node_modules[\\/]@aws-sdk[\\/](credential-provider-(node|ini|sso|process|web-identity|login|http)[\\/]|nested-clients[\\/]dist-es[\\/]submodules[\\/](sts|sso|signin|cognito-identity)[\\/])/;

/** The configuration schema (zod, shared/config-schema*.ts and the shared/config.ts facade): never in what a handler loads at start. */
const CONFIG_SCHEMA = /([\\/]node_modules[\\/]zod[\\/]|(^|[\\/])shared[\\/]config(-schema[a-z-]*|-ship)?\.ts$)/;

/** `@aws-sdk/credential-provider-node` -> the Lambda credential provider (environment variables). */
const lambdaCredentials = {
  name: 'lambda-credentials',
  setup(b) {
    const target = join(root, 'lambda', 'adapters', 'aws', 'lambda-credentials.ts');
    b.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({ path: target }));
  },
};

/**
 * The SDK's generated schema modules (`dist-es/schemas/schemas_0.js`) declare every operation's
 * schemas as `export var X$ = [3, n0, _X, { [_h]: [...] }, ...]`. esbuild keeps an object literal
 * with a computed key (`[_h]`) even when nothing uses it (a computed key could have side effects),
 * so the schemas of all of S3's operations were bundled to call PutObject. Each computed key that
 * names a string constant of the same module (`const _h = "http";`) is replaced by that string:
 * the same objects at run time, and unused declarations are now dropped.
 */
const schemaKeys = {
  name: 'sdk-schema-keys',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]@aws-sdk[\\/].*[\\/]dist-es[\\/](?:.*[\\/])?schemas[\\/]schemas_\d+\.js$/ }, async (args) => {
      const src = await readFile(args.path, 'utf8');
      const strings = new Map();
      for (const m of src.matchAll(/^const (_[A-Za-z0-9_]+|n\d+) = ("(?:[^"\\\n]|\\.)*");$/gm)) strings.set(m[1], m[2]);
      const contents = src.replace(/\[(_[A-Za-z0-9_]+|n\d+)\]:/g, (m, id) => (strings.has(id) ? `${strings.get(id)}:` : m));
      return { contents, loader: 'js' };
    });
  },
};

/**
 * `bowser` (34 KiB) parses `window.navigator.userAgent` for the SDK's browser user agent; the SDK
 * imports it with `import()` and calls it only when `window` exists. In Node it is never called:
 * an empty module (the SDK then falls back to `() => ""`) keeps it out of the function's code.
 */
const noBrowserUserAgent = {
  name: 'no-browser-user-agent',
  setup(b) {
    b.onResolve({ filter: /^bowser$/ }, () => ({ path: 'bowser', namespace: 'empty-bowser' }));
    b.onLoad({ filter: /.*/, namespace: 'empty-bowser' }, () => ({ contents: 'export default {};', loader: 'js' }));
  },
};

/** SDK clients import their whole package.json to read `version`: keep name and version only. */
const packageVersions = {
  name: 'sdk-package-versions',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]@(aws-sdk|smithy)[\\/][^\\/]+[\\/]package\.json$/ }, async (args) => {
      const { name, version } = JSON.parse(await readFile(args.path, 'utf8'));
      return { contents: JSON.stringify({ name, version }), loader: 'json' };
    });
  },
};

/**
 * The files of a built bundle directory and what its entry loads at start: index.mjs and the
 * chunks it imports statically, transitively. Chunks reached only through `import()` are `lazy`.
 * The import graph is read by esbuild from the built files themselves.
 */
export async function bundleLayout(dir) {
  const r = await build({
    entryPoints: [join(dir, 'index.mjs')],
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    outdir: join(dir, '.graph'),
    absWorkingDir: root,
    logLevel: 'silent',
  });
  const inputs = Object.fromEntries(Object.entries(r.metafile.inputs).map(([k, v]) => [relative(dir, resolve(root, k)), v]));
  const start = new Set(['index.mjs']);
  for (const queue = ['index.mjs']; queue.length > 0;) {
    for (const i of inputs[queue.pop()].imports) {
      if (i.external || i.kind !== 'import-statement') continue;
      const f = relative(dir, resolve(root, i.path));
      if (!start.has(f)) {
        start.add(f);
        queue.push(f);
      }
    }
  }
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.mjs'))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
  const bytes = (fs) => fs.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  const lazy = files.filter((f) => !start.has(f));
  return {
    files,
    start: [...start].sort(),
    lazy,
    startBytes: bytes([...start]),
    totalBytes: bytes(files),
    bytesOf: (f) => statSync(join(dir, f)).size,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const failures = [];
  for (const b of bundles) {
    const outdir = join(root, 'assets', b.name);
    // A fresh directory: chunk names carry content hashes, stale chunks must not be deployed.
    rmSync(outdir, { recursive: true, force: true });
    mkdirSync(outdir, { recursive: true });
    const result = await build({
      entryPoints: { index: join(root, b.entry) },
      outdir,
      ...ESM_BUNDLE_OPTIONS,
      // CommonJS dependencies inside an ESM bundle still call require() for Node built-ins.
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      plugins: [lambdaCredentials, schemaKeys, packageVersions, noBrowserUserAgent],
      metafile: true,
      logLevel: 'warning',
    });
    if (process.argv.includes('--metafile')) writeFileSync(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
    const chain = Object.keys(result.metafile.inputs).filter((i) => CREDENTIAL_CHAIN.test(i));
    if (chain.length > 0)
      failures.push(
        `bundle ${b.name} contains the SDK's default credential chain (${chain.slice(0, 3).join(', ')}, ...): is the lambda-credentials alias still applied?`,
      );
    const g = await bundleLayout(outdir);
    const schemaAtStart = Object.entries(result.metafile.outputs)
      .filter(([out]) => g.start.includes(relative(outdir, resolve(out))))
      .flatMap(([, o]) => Object.keys(o.inputs).filter((i) => CONFIG_SCHEMA.test(i)));
    if (schemaAtStart.length > 0)
      failures.push(
        `bundle ${b.name} loads the configuration schema at start (${schemaAtStart.slice(0, 3).join(', ')}, ...): is shared/config.ts or shared/config-schema*.ts imported (not type-only) by a module of the start path? (use shared/config-runtime.ts)`,
      );
    const lazy = g.lazy.map((f) => `${basename(f)} ${(g.bytesOf(f) / 1024).toFixed(1)} KiB`).join(', ');
    console.log(
      `bundle ${b.name}: ${(g.startBytes / 1024).toFixed(1)} KiB loaded at start (${g.start.length} file(s)), ${(g.totalBytes / 1024).toFixed(1)} KiB in all${lazy ? `; lazy: ${lazy}` : ''}`,
    );
    if (g.startBytes > BUDGET_BYTES)
      console.warn(`warning: bundle ${b.name} loads ${g.startBytes} bytes at start, over the ${BUDGET_BYTES}-byte goal (BENCHMARKS.md)`);
  }
  if (failures.length > 0) {
    for (const f of failures) console.error(f);
    process.exit(1);
  }
}
