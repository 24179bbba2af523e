/**
 * Harness of the security suites (test/security): `embedgate dev` as a child process with a
 * controllable clock, raw HTTP requests (what SDKs refuse to send: repeated headers, odd paths,
 * arbitrary bytes), and the records it leaves in its archive directory.
 *
 *   const gw = await startGateway({ config, env: { UPSTREAM_KEY: 'sk-...' } });
 *   const res = await send(gw.url, '/v1/embeddings', { headers: { authorization: `Bearer ${t}` }, body });
 *   const [record] = await recordsOf(gw.archiveDir, res.sessionId!);
 *   await gw.advanceClock(31_000);           // the child's Date.now() jumps 31 s ahead
 *
 * The child runs the CLI from dist (`npm run build` first), like every end-to-end test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLocalArchive } from '../../cli/archive-reader';
import type { SessionRecord } from '../../lambda/core/record';

/** The repository root, whether this file runs from test/support or compiled from dist/test/support. */
const ROOT = existsSync(join(__dirname, '..', '..', 'package.json')) ? join(__dirname, '..', '..') : join(__dirname, '..', '..', '..');
const BIN = join(ROOT, 'cli', 'embedgate.js');
const CLOCK_PRELOAD = join(ROOT, 'test', 'support', 'clock-shift.cjs');

/** Options of {@link startGateway}. */
export interface GatewayProcessOptions {
  /** The configuration document (it may carry a `dev` section). */
  readonly config: object;
  /** Extra CLI arguments, e.g. `['--skip-edge-auth']` or `['--issuer']`. */
  readonly args?: readonly string[];
  /** Extra environment of the child (upstream keys, Powertools settings). */
  readonly env?: NodeJS.ProcessEnv;
  /** Archive directory. @default `<a fresh temp dir>/archive` */
  readonly archiveDir?: string;
  /** @default 20000 */
  readonly startTimeoutMs?: number;
}

/** A running `embedgate dev` child process. */
export interface GatewayProcess {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The embedded issuer (with `--issuer`), else null. */
  readonly issuer: string | null;
  readonly tokenEndpoint: string | null;
  readonly pid: number;
  /** The temp directory holding the config file (and, by default, the archive). */
  readonly dir: string;
  readonly archiveDir: string;
  /** Everything the child printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Still running. */
  alive(): boolean;
  /** The child's clock, ms since the epoch (real time plus the offset set so far). */
  now(): number;
  /** Move the child's clock `ms` further ahead; resolves once the child has applied it. */
  advanceClock(ms: number): Promise<void>;
  /**
   * SIGTERM (SIGKILL after 5 s), then remove the temp directory (config, clock file and the default
   * archive; set EMBEDGATE_KEEP_TEST_DIRS=1 to keep it); resolves with the exit code.
   */
  stop(): Promise<number | null>;
}

/** Start `embedgate dev --port 0` with `config`, a clock that tests can move, and a fresh archive. */
export async function startGateway(opts: GatewayProcessOptions): Promise<GatewayProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'embedgate-security-'));
  const configFile = join(dir, 'config.json');
  const clockFile = join(dir, 'clock');
  const archiveDir = opts.archiveDir ?? join(dir, 'archive');
  await writeFile(configFile, JSON.stringify(opts.config));
  await writeFile(clockFile, '0 0');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--require', CLOCK_PRELOAD, BIN, 'dev', '--port', '0', '--config', configFile, '--archive-dir', archiveDir, ...(opts.args ?? [])],
    { env: { ...process.env, ...opts.env, EMBEDGATE_TEST_CLOCK_FILE: clockFile }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let exited = false;
  const waiters = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exited = true;
      for (const w of waiters) w();
      resolve(code);
    }),
  );

  /** Resolve once `test(out)` holds; reject when the child exits or `ms` pass first. */
  const waitFor = <T>(test: (o: string) => T | undefined, ms: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const v = test(out);
        if (v !== undefined) {
          done();
          resolve(v);
        } else if (exited) {
          done();
          reject(new Error(`embedgate dev exited while waiting for ${what}:\n${out}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`embedgate dev: no ${what} within ${ms} ms:\n${out}`));
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  let url: string;
  try {
    url = await waitFor((o) => /gateway listening on (http:\/\/\S+)/.exec(o)?.[1], opts.startTimeoutMs ?? 20_000, 'listening line');
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const issuer = /\n {2}issuer (http:\/\/\S+)/.exec(out)?.[1] ?? null;
  let offset = 0;
  let seq = 0;
  return {
    url,
    issuer,
    tokenEndpoint: issuer ? `${issuer}/token` : null,
    pid: child.pid!,
    dir,
    archiveDir,
    output: () => out,
    alive: () => !exited,
    now: () => Date.now() + offset,
    advanceClock: async (ms) => {
      const next = offset + ms;
      const n = ++seq;
      await writeFile(clockFile, `${n} ${next}`);
      child.kill('SIGUSR2');
      await waitFor((o) => (o.includes(`embedgate-test-clock seq=${n} offset=${next}`) ? true : undefined), 5000, `clock ack ${n}`);
      offset = next;
    },
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exit;
      clearTimeout(t);
      if (!process.env.EMBEDGATE_KEEP_TEST_DIRS) await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** A response as {@link send} returns it. */
export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** `x-embedgate-session-id`, the id of the request's record. */
  readonly sessionId: string | undefined;
}

/** Options of {@link send}. */
export interface SendOptions {
  /** @default 'POST' */
  readonly method?: string;
  /** Sent as given: an array value sends the header once per element. */
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string | Uint8Array;
  /** @default 'application/json' (pass `null` to send no content-type) */
  readonly contentType?: string | null;
  readonly agent?: Agent;
}

/**
 * One raw HTTP request to `base` + `path` (the path is sent verbatim: `//x`, `/%zz` and friends
 * reach the server as written).
 */
export function send(base: string, path: string, opts: SendOptions = {}): Promise<RawResponse> {
  const u = new URL(base);
  const headers: OutgoingHttpHeaders = {
    ...(opts.contentType === null ? {} : { 'content-type': opts.contentType ?? 'application/json' }),
    ...opts.headers,
  };
  // Frame the body explicitly: node:http sends no Content-Length for a body on OPTIONS or DELETE,
  // and the server would read it as the next request.
  if (opts.body !== undefined && headers['content-length'] === undefined) headers['content-length'] = Buffer.byteLength(opts.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: u.hostname, port: u.port, method: opts.method ?? 'POST', path, headers, ...(opts.agent ? { agent: opts.agent } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const sid = res.headers['x-embedgate-session-id'];
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            sessionId: typeof sid === 'string' ? sid : undefined,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The session id of every record (archived in either layout, or journaled and not archived yet). */
export async function recordFiles(archiveDir: string): Promise<string[]> {
  // Records of both layouts and the journal's pending ones (issue 16): one entry per record.
  return (await readArchiveOrNone(archiveDir)).map((r) => r.session_id);
}

export async function recordsOf(archiveDir: string, sessionId: string): Promise<SessionRecord[]> {
  return (await readArchiveOrNone(archiveDir)).filter((r) => r.session_id === sessionId);
}

/** Every record (archived in either layout, or journaled), or none when the archive was made unreadable on purpose. */
async function readArchiveOrNone(archiveDir: string): Promise<SessionRecord[]> {
  try {
    return await readLocalArchive(archiveDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw e;
  }
}

/** The raw text of every record file, for leak scans. */
export async function archiveText(archiveDir: string): Promise<string> {
  return (await readArchiveOrNone(archiveDir)).map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** The parsed JSON body, or undefined. */
export function jsonBody(res: RawResponse): Record<string, unknown> | undefined {
  try {
    return JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The `error.code` of an OpenAI-shaped error body. */
export function errorCode(res: RawResponse): unknown {
  return (jsonBody(res)?.error as { code?: unknown } | undefined)?.code;
}
