/**
 * The example app (bin/app.ts, the cdk.json app) synthesizes offline with the real CDK CLI, with
 * aws-cdk-lib's built-in CloudFormation validator on, for both stages, without an error or a
 * warning.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(__dirname, '..', '..');
const outdirs: string[] = [];
afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

type Metadata = Record<string, { type: string; data: unknown }[]>;

test.each(['dev', 'prod'])(
  'npx cdk synth -c stage=%s works offline and the CloudFormation validator finds nothing',
  async (stage) => {
    const out = mkdtempSync(join(tmpdir(), `embedgate-synth-${stage}-`));
    outdirs.push(out);
    await run(process.execPath, [join(root, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'synth', '-q', '-o', out, '-c', `stage=${stage}`], {
      cwd: root,
      timeout: 120_000,
    });
    const report = JSON.parse(readFileSync(join(out, 'validation-report.json'), 'utf8')) as { pluginReports: unknown[] };
    expect(report.pluginReports).toEqual([]);
    const metadata = JSON.parse(readFileSync(join(out, `Embedgate-${stage}.metadata.json`), 'utf8')) as Metadata;
    const entries = Object.values(metadata).flat();
    expect(entries.filter((e) => e.type === 'aws:cdk:error' || e.type === 'aws:cdk:warning')).toEqual([]);
    // The validator ran: its rules appear among the acknowledged ones (CDK's own, with reasons).
    expect(JSON.stringify(entries.filter((e) => e.type === 'aws:cdk:acknowledged-rules'))).toContain('CloudFormation-Validate::');
    const template = JSON.parse(readFileSync(join(out, `Embedgate-${stage}.template.json`), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const bucket = Object.values(template.Resources).find((r) => r.Type === 'AWS::S3::Bucket' && r.Properties.ObjectLockConfiguration)!; // every bucket has Object Lock activated (CT.S3.PR.9); the archive has its retention
    expect(bucket.Properties.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: stage === 'prod' ? { Mode: 'COMPLIANCE', Days: 2555 } : { Mode: 'GOVERNANCE', Days: 7 } },
    });
  },
  120_000,
);
