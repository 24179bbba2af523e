import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/** The handler bundles `npm run build` writes under `<package>/assets/<name>/index.mjs`. */
export type BundleName = 'proxy' | 'edge-recorder' | 'digest' | 'approval-task';

/**
 * The code of a handler: its pre-built bundle plus extra files (the configuration document),
 * staged in a content-addressed directory so the asset hash changes exactly when either does.
 */
export function handlerCode(bundle: BundleName, files: Readonly<Record<string, string>>): lambda.Code {
  const source = join(packageRoot(), 'assets', bundle, 'index.mjs');
  if (!existsSync(source)) {
    throw new Error(`embedgate: the "${bundle}" handler bundle is missing (${source}); run "npm run build" in the embedgate package`);
  }
  const h = createHash('sha256').update(readFileSync(source));
  for (const [name, content] of Object.entries(files).sort()) h.update(`\0${name}\0${content}`);
  const dir = join(tmpdir(), 'embedgate-assets', `${bundle}-${h.digest('hex').slice(0, 32)}`);
  if (!existsSync(join(dir, 'index.mjs'))) {
    // Stage in a private directory, then rename: concurrent synths never see a half-written asset.
    const staging = `${dir}.${process.pid}.${Date.now()}`;
    mkdirSync(staging, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(staging, name), content);
    copyFileSync(source, join(staging, 'index.mjs'));
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
