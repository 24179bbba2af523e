/**
 * Control Tower: the proactive controls (cfn-guard rules shipped by `@cdklabs/cdk-validator-cfnguard`,
 * run offline as a policy-validation plugin, next to cdk-nag in nag.test.ts) pass on the prod stage
 * of the example app (bin/example.ts), but for the controls acknowledged by id in
 * docs/control-tower.md, which cannot apply (at most 4).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { exampleStack } from '../../bin/example';

const outdirs: string[] = [];
afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function guardedApp(extra?: (app: App) => void): App {
  const outdir = mkdtempSync(join(tmpdir(), 'embedgate-ct-'));
  outdirs.push(outdir);
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false, outdir });
  exampleStack(app, 'prod');
  extra?.(app);
  Validations.of(app).addPlugins(new CfnGuardValidator({ maxBuffer: 64 * 1024 * 1024 }));
  return app;
}

interface Report {
  pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath?: string; resourceLogicalId?: string }[] }[] }[];
}

function violations(app: App): string[] {
  let error: unknown;
  try {
    app.synth();
  } catch (e) {
    error = e;
  }
  const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8')) as Report;
  const found = report.pluginReports
    .flatMap((p) =>
      p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} ${c.constructPath ?? c.resourceLogicalId}`)),
    )
    .sort();
  if (error !== undefined && found.length === 0) throw error;
  return found;
}

test('the prod stage passes every Control Tower proactive control not acknowledged in the docs', () => {
  expect(violations(guardedApp())).toEqual([]);
}, 300_000);

test('the controls really run: a non-compliant bucket next to the gateway is reported', () => {
  const found = violations(guardedApp((app) => new s3.Bucket(app.node.findChild('Embedgate-prod'), 'Careless')));
  expect(found).toEqual(expect.arrayContaining([expect.stringMatching(/^s3_bucket_logging_enabled_check Embedgate-prod\/Careless\//)]));
}, 300_000);
