/**
 * The module graph of a BUILT bundle directory (assets/<name>/ or a staged copy of it), read by
 * esbuild from the files themselves: which files the entry loads at start (index.mjs and what it
 * imports statically, transitively) and which only through `import()` (lazy chunks). Resolving
 * the graph fails when a file the entry imports, statically or lazily, is missing.
 */
import { build } from 'esbuild';
import { join, relative, resolve, sep } from 'node:path';
import { bundleFiles } from '../../lib/private/handler-code';

export interface BundleGraph {
  /** Every .mjs file of the directory, relative (`/` separators), sorted. */
  readonly files: string[];
  /** Loaded when the entry is imported. */
  readonly start: string[];
  /** Loaded only through `import()` (directly or from another lazy chunk). */
  readonly lazy: string[];
  /** A file and every file it imports statically, transitively (what loading it loads). */
  closure(file: string): string[];
  /** Files `import()`ed, with the specifiers that name them (e.g. `./chunks/bedrock-runtime-X.mjs`). */
  readonly dynamicImports: readonly { readonly from: string; readonly file: string }[];
}

export async function bundleGraph(dir: string): Promise<BundleGraph> {
  const r = await build({
    entryPoints: [join(dir, 'index.mjs')],
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    outdir: join(dir, '.graph'),
    absWorkingDir: dir,
    logLevel: 'silent',
  });
  const rel = (p: string) => relative(dir, resolve(dir, p)).split(sep).join('/');
  const inputs = new Map(Object.entries(r.metafile.inputs).map(([k, v]) => [rel(k), v]));
  const closureOf = (file: string): Set<string> => {
    const seen = new Set([file]);
    for (const queue = [file]; queue.length > 0;) {
      for (const i of inputs.get(queue.pop()!)?.imports ?? []) {
        if (i.external || i.kind !== 'import-statement') continue;
        const f = rel(i.path);
        if (!seen.has(f)) {
          seen.add(f);
          queue.push(f);
        }
      }
    }
    return seen;
  };
  const start = new Set(['index.mjs']);
  const dynamicImports: { from: string; file: string }[] = [];
  for (const [from, v] of inputs)
    for (const i of v.imports) if (!i.external && i.kind === 'dynamic-import') dynamicImports.push({ from, file: rel(i.path) });
  for (const queue = ['index.mjs']; queue.length > 0;) {
    for (const i of inputs.get(queue.pop()!)!.imports) {
      if (i.external || i.kind !== 'import-statement') continue;
      const f = rel(i.path);
      if (!start.has(f)) {
        start.add(f);
        queue.push(f);
      }
    }
  }
  const files = bundleFiles(dir).filter((f) => f.endsWith('.mjs'));
  return {
    files,
    start: [...start].sort(),
    lazy: files.filter((f) => !start.has(f)),
    dynamicImports,
    closure: (f) => [...closureOf(f)].sort(),
  };
}
