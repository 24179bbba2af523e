import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Annotations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { expandEnvRefs } from '../../shared/config';
import { configWarnings, type WarnableConfig } from '../../shared/config-warnings';
import type { PolicyTests } from '../policy-tests';
import { packageRoot } from './handler-code';

/**
 * The shipped configuration (`BuiltConfig.json`) with its deploy-time references (`${env:NAME}`)
 * replaced by the placeholders `shipConfig` validates them with: what can be checked at synth.
 */
function checkableConfig(shippedJson: string): Record<string, unknown> {
  const doc = JSON.parse(shippedJson) as Record<string, unknown>;
  const names = new Set<string>();
  JSON.stringify(doc, (_k, v: unknown) => {
    if (typeof v === 'string') for (const m of v.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g)) names.add(m[1]!);
    return v;
  });
  const env = Object.fromEntries([...names].map((n) => [n, `https://deploy-time-reference.invalid/${n}`]));
  return expandEnvRefs(doc, env) as Record<string, unknown>;
}

/** The configuration warnings (shared/config-warnings.ts) as CDK warnings on `scope`. */
export function addConfigWarnings(scope: IConstruct, shippedJson: string): void {
  for (const w of configWarnings(checkableConfig(shippedJson) as unknown as WarnableConfig)) {
    Annotations.of(scope).addWarningV2(w.id, `${w.path}: ${w.message}`);
  }
}

interface CliReport {
  readonly failed: number;
  readonly cases: ReadonlyArray<{ name: string; source: string; passed: boolean; differences: readonly string[] }>;
}

/**
 * Run the policy tests with the package's own CLI (`embedgate policy test`, a child process: the
 * constructs never load the runtime code), synchronously. Throws when a case fails, naming each
 * failing case and its differences, or when the cases cannot be read.
 */
export function runPolicyTests(shippedJson: string, tests: PolicyTests): void {
  const cli = join(packageRoot(), 'cli', 'embedgate.js');
  if (!existsSync(join(packageRoot(), 'dist', 'cli-bundle', 'main.mjs'))) {
    throw new Error(
      `EmbeddingGateway: policyTests need the built embedgate CLI (${join(packageRoot(), 'dist', 'cli-bundle', 'main.mjs')}); run "npm run build" in the embedgate package`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'embedgate-policy-tests-'));
  try {
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify(checkableConfig(shippedJson)));
    let casesPath = tests.path;
    if (!casesPath) {
      casesPath = join(dir, 'cases.json');
      writeFileSync(casesPath, JSON.stringify({ cases: tests.cases }));
    }
    const r = spawnSync(process.execPath, [cli, 'policy', 'test', casesPath, '--config', config, '--format', 'json'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, POWERTOOLS_METRICS_DISABLED: 'true' },
    });
    if (r.error) throw new Error(`EmbeddingGateway: policyTests could not run: ${r.error.message}`, { cause: r.error });
    if (r.status !== 0 && r.status !== 1) {
      throw new Error(`EmbeddingGateway: policyTests could not run (exit ${r.status}):\n${(r.stderr || r.stdout).trim()}`);
    }
    const report = JSON.parse(r.stdout) as CliReport;
    if (report.failed > 0) {
      const failing = report.cases.filter((c) => !c.passed);
      throw new Error(
        `EmbeddingGateway: ${failing.length} of ${report.cases.length} policy test case(s) failed; the policy is not deployed:\n${failing
          .map((c) => `  - ${c.name} (${c.source})\n${c.differences.map((d) => `      ${d}`).join('\n')}`)
          .join('\n')}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
