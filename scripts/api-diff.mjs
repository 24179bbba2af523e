// npm run api:diff: jsii-diff of the committed baseline assembly (api/baseline/assembly.jsii, the
// last release's) against the one the build wrote (.jsii). The baseline is staged in a temporary
// directory as `.jsii`: inside the repository, jsii-docgen would find it and document the old API.
// Usage: node scripts/api-diff.mjs [updated-dir]   (exit 1 on any breaking change not declared in
// api/allowed-breaking-changes.txt)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The baseline as a package directory jsii-diff can read (caller removes it). */
export function stageBaseline() {
  const dir = mkdtempSync(join(tmpdir(), 'embedgate-api-baseline-'));
  copyFileSync(join(root, 'api', 'baseline', 'assembly.jsii'), join(dir, '.jsii'));
  copyFileSync(join(root, 'api', 'baseline', 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const baseline = stageBaseline();
  try {
    const r = spawnSync(
      process.execPath,
      [
        join(root, 'node_modules', 'jsii-diff', 'bin', 'jsii-diff.js'),
        baseline,
        process.argv[2] ?? '.',
        '--error-on',
        'all',
        '--ignore-file',
        join(root, 'api', 'allowed-breaking-changes.txt'),
      ],
      { cwd: root, stdio: 'inherit' },
    );
    process.exitCode = r.status ?? 1;
  } finally {
    rmSync(baseline, { recursive: true, force: true });
  }
}
