/**
 * Runs a BUILT Lambda bundle (assets/<name>/: index.mjs and its chunks, what the construct
 * deploys) the way the Lambda Node.js runtime does: in its own Node process, from a task root
 * holding the bundle's files and the files the construct ships next to them (`config.json`), with
 * `LAMBDA_TASK_ROOT` and the function's environment, importing the module once (init) and then
 * calling `handler(event, context)` once per invocation, one at a time.
 *
 * jest's module system never sees the bundle: a tiny runner script (written into the task root)
 * does `await import(index.mjs)` in a child process, and events and results travel over Node's
 * IPC channel, so the handler's own log lines (Powertools writes JSON to stdout) never mix with
 * the protocol. The child gets a clean environment (nothing of the test process's, so no stray
 * AWS profile, region or endpoint), and the task root lives in the OS temp directory, away from
 * any node_modules: the bundle must be self-contained, as in Lambda.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { bundleFiles } from '../../lib/private/handler-code';

const ASSETS = join(__dirname, '..', '..', 'assets');

/** Path of a built bundle; throws a clear error when it has not been built. */
export function bundlePath(name: string): string {
  const path = join(ASSETS, name, 'index.mjs');
  if (!existsSync(path)) throw new Error(`assets/${name}/index.mjs is missing: run \`npm run build\` to produce the Lambda bundles`);
  return path;
}

/** Options of {@link startLambdaRunner}. */
export interface LambdaRunnerOptions {
  /** The bundle to run (see {@link bundlePath}); its directory is copied into the task root. */
  readonly bundle: string;
  /** Files of the bundle (relative paths, as `bundleFiles` lists them) to leave out of the task root. */
  readonly omit?: readonly string[];
  /** Other files of the task root, by name (e.g. `config.json`). */
  readonly files?: Readonly<Record<string, string>>;
  /** The function's environment (on top of the variables the Lambda runtime sets). */
  readonly env: Readonly<Record<string, string>>;
  /** @default 'embedgate-test-function' */
  readonly functionName?: string;
  /** How long init (the module import) may take, ms. @default 20000 */
  readonly initTimeoutMs?: number;
  /** How long one invocation may take, ms (the context's remaining time counts down from it). @default 20000 */
  readonly invokeTimeoutMs?: number;
  /**
   * A command the function's Node process is started under, e.g. `['ip', 'netns', 'exec', '<ns>']`
   * to run it inside a network namespace. @default - none
   */
  readonly launcher?: readonly string[];
}

/** A running "execution environment" of one function. */
export interface LambdaRunner {
  /** The task root (`LAMBDA_TASK_ROOT`). */
  readonly taskRoot: string;
  /** Invoke the handler with this event; resolves with what it returned, rejects with what it threw. */
  invoke<T = unknown>(event: unknown): Promise<T>;
  /** Everything the function printed so far (stdout and stderr): its logs. */
  output(): string;
  /** Stop the process and remove the task root. */
  close(): Promise<void>;
}

/** The handler threw (or rejected): the invocation failed, as Lambda would report it. */
export class LambdaInvocationError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
    readonly remoteStack: string | undefined,
  ) {
    super(`${errorType}: ${message}`);
    this.name = 'LambdaInvocationError';
  }
}

interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

type ChildMessage =
  | { readonly type: 'ready'; readonly handler: string }
  | { readonly type: 'init-error'; readonly error: SerializedError }
  | { readonly type: 'result'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'result'; readonly id: number; readonly ok: false; readonly error: SerializedError };

/**
 * The child side. Plain JavaScript (ESM), written into the task root: it imports the bundle as
 * the runtime does (`<task root>/index.mjs`, `handler` export), then serves invocations strictly
 * one after another with a Lambda-like context.
 */
const RUNNER_SOURCE = `
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const describe = (e) => (e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : { name: 'Error', message: String(e) });
const send = (m) => new Promise((resolve) => process.send(m, () => resolve()));
process.on('disconnect', () => process.exit(0));

const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME;
const region = process.env.AWS_REGION;
const timeoutMs = Number(process.env.EMBEDGATE_TEST_INVOKE_TIMEOUT_MS);
let mod;
try {
  mod = await import(pathToFileURL(join(process.env.LAMBDA_TASK_ROOT, 'index.mjs')).href);
  if (typeof mod.handler !== 'function') throw new TypeError('index.mjs exports no handler function (index.handler)');
} catch (e) {
  await send({ type: 'init-error', error: describe(e) });
  process.exit(1);
}

let queue = Promise.resolve();
process.on('message', (msg) => {
  queue = queue.then(async () => {
    const deadline = Date.now() + timeoutMs;
    const requestId = \`00000000-0000-4000-8000-\${String(msg.id).padStart(12, '0')}\`;
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: \`arn:aws:lambda:\${region}:123456789012:function:\${functionName}\`,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: requestId,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => {},
      fail: () => {},
      succeed: () => {},
    };
    process.env._X_AMZN_TRACE_ID = \`Root=1-00000000-\${String(msg.id).padStart(24, '0')};Parent=0000000000000001;Sampled=0\`;
    try {
      const value = await mod.handler(msg.event, context);
      await send({ type: 'result', id: msg.id, ok: true, value: value === undefined ? null : value });
    } catch (e) {
      await send({ type: 'result', id: msg.id, ok: false, error: describe(e) });
    }
  });
});
await send({ type: 'ready', handler: typeof mod.handler });
`;

/** Stage a task root for the bundle, start its process and wait for init to finish. */
export async function startLambdaRunner(opts: LambdaRunnerOptions): Promise<LambdaRunner> {
  const taskRoot = await mkdtemp(join(tmpdir(), 'embedgate-lambda-'));
  const functionName = opts.functionName ?? 'embedgate-test-function';
  const invokeTimeoutMs = opts.invokeTimeoutMs ?? 20_000;
  // Every file the construct ships (lib/private/handler-code.ts), but those omitted.
  for (const f of bundleFiles(dirname(opts.bundle))) {
    if (opts.omit?.includes(f)) continue;
    await mkdir(dirname(join(taskRoot, f)), { recursive: true });
    await copyFile(join(dirname(opts.bundle), f), join(taskRoot, f));
  }
  for (const [name, content] of Object.entries(opts.files ?? {})) await writeFile(join(taskRoot, name), content);
  const runner = join(taskRoot, '.embedgate-test-runner.mjs');
  await writeFile(runner, RUNNER_SOURCE);

  const region = opts.env.AWS_REGION ?? 'us-east-1';
  const env: Record<string, string> = {
    // What the Lambda runtime sets (a subset), then the function's own environment.
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    LAMBDA_TASK_ROOT: taskRoot,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: '2025/01/01/[$LATEST]00000000000000000000000000000000',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    // Keep the SDK away from this machine's AWS files and from instance metadata.
    AWS_CONFIG_FILE: join(taskRoot, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(taskRoot, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    EMBEDGATE_TEST_INVOKE_TIMEOUT_MS: String(invokeTimeoutMs),
    ...opts.env,
  };

  const [command, ...prefix] = [...(opts.launcher ?? []), process.execPath];
  const child: ChildProcess = spawn(command!, [...prefix, runner], {
    cwd: taskRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));

  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = `exited with ${signal ?? code}`;
      for (const [id, p] of pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`the function process ${exitInfo} during invocation ${id}; its output:\n${out}`));
      }
      pending.clear();
      resolve();
    });
  });

  const cleanup = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      if (child.connected) child.disconnect();
      const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(kill);
    }
    await rm(taskRoot, { recursive: true, force: true });
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`init of ${opts.bundle} did not finish within ${opts.initTimeoutMs ?? 20_000} ms; output:\n${out}`)),
        opts.initTimeoutMs ?? 20_000,
      );
      const onMessage = (m: ChildMessage) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve();
        } else if (m.type === 'init-error') {
          clearTimeout(timer);
          reject(new Error(`init of ${opts.bundle} failed: ${m.error.name}: ${m.error.message}\n${m.error.stack ?? ''}\noutput:\n${out}`));
        }
      };
      child.on('message', onMessage);
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the function process ${exitInfo} during init; output:\n${out}`));
      });
    });
  } catch (e) {
    await cleanup();
    throw e;
  }

  child.on('message', (m: ChildMessage) => {
    if (m.type !== 'result') return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.ok) p.resolve(m.value);
    else {
      const err = new LambdaInvocationError(m.error.name, m.error.message, m.error.stack);
      p.reject(err);
    }
  });

  return {
    taskRoot,
    output: () => out,
    invoke: <T>(event: unknown) =>
      new Promise<T>((resolve, reject) => {
        if (exitInfo !== undefined || !child.connected) {
          reject(new Error(`the function process is not running (${exitInfo ?? 'disconnected'}); output:\n${out}`));
          return;
        }
        const id = nextId++;
        // Invocations run one at a time in the child, so the budget covers queueing too.
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`invocation ${id} did not finish within ${invokeTimeoutMs} ms; output:\n${out}`));
        }, invokeTimeoutMs);
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
        child.send({ id, event });
      }),
    close: cleanup,
  };
}
