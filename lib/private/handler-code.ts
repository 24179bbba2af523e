import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * The handler bundles `npm run build` writes under `<package>/assets/<name>/`: `index.mjs` (the
 * entry) and the chunks it loads (`chunks/*.mjs`, some only on demand, e.g. the Bedrock client).
 */
export type BundleName = 'proxy' | 'edge-recorder' | 'digest' | 'approval-task' | 'key-mirror';

/**
 * The files of a built bundle, relative to its directory and sorted (`/` separators): everything
 * under `assets/<name>/` but esbuild's `meta.json` (written by `bundle.mjs --metafile`).
 */
export function bundleFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== 'meta.json')
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/**
 * The code of a handler: its pre-built bundle (every file of it: the entry and all its chunks)
 * plus extra files (the configuration document), staged in a content-addressed directory so the
 * asset hash changes exactly when any of them does.
 */
export function handlerCode(bundle: BundleName, files: Readonly<Record<string, string>>): lambda.Code {
  const source = join(packageRoot(), 'assets', bundle);
  if (!existsSync(join(source, 'index.mjs'))) {
    throw new Error(
      `embedgate: the "${bundle}" handler bundle is missing (${join(source, 'index.mjs')}); run "npm run build" in the embedgate package`,
    );
  }
  const shipped = bundleFiles(source);
  for (const name of Object.keys(files)) {
    if (shipped.includes(name)) throw new Error(`embedgate: "${name}" is both a file of the "${bundle}" bundle and an extra file`);
  }
  const h = createHash('sha256');
  for (const f of shipped) {
    const content = readFileSync(join(source, f));
    h.update(`\0${f}\0${content.length}\0`).update(content);
  }
  for (const [name, content] of Object.entries(files).sort()) h.update(`\0${name}\0${content}`);
  const dir = join(tmpdir(), 'embedgate-assets', `${bundle}-${h.digest('hex').slice(0, 32)}`);
  if (!existsSync(join(dir, 'index.mjs'))) {
    // Stage in a private directory, then rename: concurrent synths never see a half-written asset.
    const staging = `${dir}.${process.pid}.${Date.now()}`;
    mkdirSync(staging, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(staging, name), content);
    for (const f of shipped) {
      mkdirSync(dirname(join(staging, f)), { recursive: true });
      copyFileSync(join(source, f), join(staging, f));
    }
    try {
      renameSync(staging, dir);
    } catch (e) {
      if (!existsSync(join(dir, 'index.mjs'))) throw e;
    }
  }
  return lambda.Code.fromAsset(dir);
}

let root: string | undefined;

/** The embedgate package root (works from `lib/` in the repository and `dist/lib/` when installed). */
export function packageRoot(): string {
  if (root) return root;
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'embedgate') return (root = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`embedgate: cannot find the embedgate package root above ${__dirname}`);
    dir = parent;
  }
}
