/**
 * Runs `embedgate dev` as a child process, exactly as a user would (the `embedgate` bin, which
 * runs the compiled CLI: `npm test` builds first), and collects everything it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface DevProcess {
  readonly url: string;
  /** Set when started with --issuer. */
  readonly issuer: string | null;
  readonly tokenEndpoint: string | null;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<number | null>;
}

const BIN = join(__dirname, '..', '..', 'cli', 'embedgate.js');

/** `bin`: the CLI entry to run (default: this checkout's; test/package passes the installed package's), in `cwd`. */
export function startDevProcess(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 20_000,
  bin = BIN,
  cwd?: string,
): Promise<DevProcess> {
  const child: ChildProcess = spawn(process.execPath, [bin, 'dev', '--port', '0', ...args], {
    ...(cwd ? { cwd } : {}),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`embedgate dev did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const check = () => {
      const url = /gateway listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (!url) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      const issuer = /issuer (http:\/\/\S+)/.exec(out)?.[1] ?? null;
      resolve({
        url,
        issuer,
        tokenEndpoint: issuer ? `${issuer}/token` : null,
        output: () => out,
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          const code = await exited;
          clearTimeout(t);
          return code;
        },
      });
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`embedgate dev exited with ${code} before listening:\n${out}`));
    });
  });
}
