// The esbuild options the handler bundles (scripts/bundle.mjs) and the CLI bundle
// (scripts/bundle-cli.mjs) share: minified ESM for Node 22 with code splitting, what a module
// loads with import() becoming a chunk under chunks/.
export const ESM_BUNDLE_OPTIONS = {
  bundle: true,
  splitting: true,
  format: 'esm',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  minify: true,
  platform: 'node',
  target: 'node22',
  mainFields: ['module', 'main'],
  legalComments: 'none',
};
