/**
 * Runs the embedded dev issuer (cli/issuer.ts) in a child Node.js process, for tests: jest's module
 * system cannot load the ESM-only oidc-provider, a plain child process can. The child is
 * ./run-issuer.ts run with `node --import tsx` (no build needed), or ./run-issuer.js when this file
 * itself runs compiled.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DevIssuerOptions } from '../../cli/issuer';

/** A dev issuer running in a child process. */
export interface IssuerProcess {
  /** The issuer identifier, without trailing slash, e.g. `http://127.0.0.1:PORT`. */
  issuer: string;
  /** The OAuth 2.0 token endpoint. */
  tokenEndpoint: string;
  /** The JWKS URI. */
  jwksUri: string;
  /** Everything the child wrote besides its ready line (stderr and stray stdout): '' when quiet. */
  logs(): string;
  /** Stops the issuer and waits for the child to exit (killing it if it does not exit promptly). */
  stop(): Promise<void>;
}

/** Options of {@link startIssuerProcess}. */
export interface IssuerProcessOptions {
  /** How long to wait for the child to be listening; default 30 s. */
  startTimeoutMs?: number;
}

interface ReadyLine {
  devIssuer: { issuer: string; tokenEndpoint: string; jwksUri: string };
}

function childCommand(): string[] {
  const ts = path.join(__dirname, 'run-issuer.ts');
  if (fs.existsSync(ts)) {
    // tsx's "." export is its ESM loader; an absolute URL makes this independent of the cwd.
    return ['--import', pathToFileURL(require.resolve('tsx')).href, ts];
  }
  return [path.join(__dirname, 'run-issuer.js')];
}

function parseReadyLine(line: string): ReadyLine['devIssuer'] | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as Partial<ReadyLine>;
    return typeof parsed.devIssuer?.issuer === 'string' ? parsed.devIssuer : undefined;
  } catch {
    return undefined;
  }
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Starts a dev issuer in a child process and resolves once it is listening. Always call `stop()`
 * (e.g. in `afterAll`); the child also exits by itself when this process dies (its stdin closes).
 */
export function startIssuerProcess(opts: DevIssuerOptions, processOpts: IssuerProcessOptions = {}): Promise<IssuerProcess> {
  const startTimeoutMs = processOpts.startTimeoutMs ?? 30_000;
  const child = spawn(process.execPath, childCommand(), { stdio: ['pipe', 'pipe', 'pipe'] });
  let logs = '';
  let stdoutBuffer = '';
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      child.stdin?.end();
      await waitForExit(child, 5_000);
    })();
    return stopped;
  };

  return new Promise<IssuerProcess>((resolve, reject) => {
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${message}${logs ? `\n--- issuer output ---\n${logs}` : ''}`));
    };
    const timer = setTimeout(() => fail(`dev issuer did not start within ${startTimeoutMs} ms`), startTimeoutMs);

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      logs += chunk;
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      stdoutBuffer += chunk;
      let newline: number;
      while ((newline = stdoutBuffer.indexOf('\n')) !== -1) {
        const line = stdoutBuffer.slice(0, newline);
        stdoutBuffer = stdoutBuffer.slice(newline + 1);
        const ready = settled ? undefined : parseReadyLine(line);
        if (!ready) {
          logs += `${line}\n`;
          continue;
        }
        settled = true;
        clearTimeout(timer);
        resolve({ ...ready, logs: () => logs + stdoutBuffer, stop });
      }
    });
    child.once('error', (error) => fail(`could not start the dev issuer: ${error.message}`));
    child.once('exit', (code, signal) => fail(`dev issuer exited before it was ready (${signal ?? `code ${code}`})`));
    // Don't let a closed pipe (child already gone) crash the parent.
    child.stdin?.on('error', () => undefined);
    child.stdin?.write(`${JSON.stringify(opts)}\n`);
  });
}
