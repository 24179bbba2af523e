import { isAbsolute, resolve } from 'node:path';

/**
 * Policy test cases the `EmbeddingGateway` runs at synth against the configuration built from its
 * props: a policy that fails its tests never deploys (synth fails, naming each failing case and
 * the difference). The cases are those of `embedgate policy test` (docs/policy.md, "Testing a
 * policy"), and they run through the same gateway code the Lambda runs, with local stand-ins.
 *
 * ```ts
 * new EmbeddingGateway(stack, 'Gateway', { ..., policyTests: PolicyTests.fromPath('policy-tests') });
 * ```
 */
export class PolicyTests {
  /**
   * Cases from a JSON file, or from every `.json` file under a directory.
   * @param path relative paths are resolved from the current directory (where `cdk synth` runs)
   */
  public static fromPath(path: string): PolicyTests {
    if (typeof path !== 'string' || path.trim() === '') throw new Error('PolicyTests.fromPath: path must be a non-empty string');
    return new PolicyTests(isAbsolute(path) ? path : resolve(path), undefined);
  }

  /**
   * Cases given inline, each an object in the format of a test case file
   * (`name`, `principal`, `request`, optional `time` and `revocations`, `expect`).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- jsii spells a free-form JSON object { [key: string]: any }
  public static fromCases(cases: { [key: string]: any }[]): PolicyTests {
    if (!Array.isArray(cases) || cases.length === 0) throw new Error('PolicyTests.fromCases: give at least one test case');
    return new PolicyTests(undefined, JSON.parse(JSON.stringify(cases)) as { [key: string]: unknown }[]);
  }

  /** The file or directory of cases, when they come from files. */
  public readonly path?: string;
  /** The inline cases, when given inline. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- jsii spells a free-form JSON object { [key: string]: any }
  public readonly cases?: { [key: string]: any }[];

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
  private constructor(path: string | undefined, cases: { [key: string]: any }[] | undefined) {
    this.path = path;
    this.cases = cases;
  }
}
