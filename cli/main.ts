/**
 * The `embedgate` command line.
 *
 *   embedgate dev --config <file> [--port <n>] [--issuer-port <n>] [--host <addr>] [--archive-dir <dir>] [--issuer] [--skip-edge-auth]
 *   embedgate config validate <file>
 *   embedgate audit digest|verify|query|queries ...   (see cli/audit.ts); audit replay (see cli/replay.ts)
 *   embedgate policy test | explain ...  (see cli/policy.ts)
 *   embedgate usage [--by principal|model|rule|day] ...  (see cli/usage.ts)
 *   embedgate revoke | unrevoke | revocations list ...  (see cli/revoke.ts)
 *   embedgate approvals list | show | approve | deny ...  (see cli/approvals.ts)
 *   embedgate --version | --help;  <command> --help;  --debug (or the CLI_ENV.debug variable) anywhere: stacks on errors
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/config';
import { CLI_ENV } from '../shared/contract';
import { buildConfig, devPublicClients, missingSecrets, readDevConfigFile } from './dev-config';

const DEV_USAGE = `usage:
  embedgate dev --config <file> [--port <n>] [--issuer] [--issuer-port <n>] [--host <addr>] [--archive-dir <dir>]
                [--skip-edge-auth] [--metrics] [--digest-on-exit] [--no-journal] [--compact-every-ms <n>]
                [--function-timeout <seconds>]
      Run the gateway locally with the local adapters (--port: default 8787, 0 picks a free port).
      --issuer also starts the embedded OIDC issuer configured in the file's "dev.issuer" section
      (--issuer-port: default dev.issuer.port, 0 picks a free port). --digest-on-exit writes the
      archive's signed digests when it stops (embedgate audit digest --include-current-hour).
      Records go through a write-ahead journal (group commit) compacted into batch objects every
      2 s (--compact-every-ms); --no-journal writes one object per record. --function-timeout
      (default 29) emulates the proxy function's timeout: upstream work ends before it (504).`;

const CONFIG_USAGE = `usage:
  embedgate config validate <file>
      Validate a configuration file; print its warnings (exit 0) or its errors (exit 2), and its version.`;

const REVOKE_USAGE = `usage:
  embedgate revoke (--subject <sub> | --client-id <id> | --token-id <jti> --issuer <iss>) [--issuer <iss>]
                   [--reason <text>] [--until <ISO time | 30m | 12h | 7d>] [--by <name>] (--table <name> [--region <r>] | --archive-dir <dir>)
      Cut off a principal at runtime: in the DynamoDB table of a deployed gateway (its output
      RevocationTableName), or in the deny list of embedgate dev (its --archive-dir).
  embedgate unrevoke (--subject | --client-id | --token-id) <value> [--issuer <iss>] (--table <name> | --archive-dir <dir>)
  embedgate revocations list (--table <name> | --archive-dir <dir>) [--format table|json]`;

const USAGE = `usage: embedgate <command> [options]      (embedgate <command> --help, embedgate --version)
${[DEV_USAGE, CONFIG_USAGE].map((u) => u.replace(/^usage:\n/, '')).join('\n')}
  embedgate audit digest|verify|query|queries ...
      Digests and verification of an archive, named audit queries ("embedgate audit --help" for details).
  embedgate audit replay --config <file> [--since <time>] [--until <time>] [--archive-dir <dir>] [--format text|json]
      Re-decide recorded sessions under another configuration and report what would change.
${REVOKE_USAGE.replace(/^usage:\n/, '')}
  embedgate approvals list | show <id> | approve <id> --reason <text> | deny <id> --reason <text> --url <gateway URL>
      Review held requests through the gateway's approval API, with the token in ${CLI_ENV.token}
      (or --token-file). Works the same against embedgate dev and a deployed gateway.
  embedgate policy test <file|dir> --config <file> | policy explain --config <file> --claims <file> --request <file>
      Test a policy with test cases, or explain one decision ("embedgate policy --help" for details).
  embedgate usage [--by principal|model|rule|day] [--since <t>] [--until <t>] [--format table|json|csv] [--archive-dir <dir> | --athena ...]
      Requests, throttled requests, items and tokens from the archive (DuckDB locally, Athena with --athena).
  --debug (or ${CLI_ENV.debug}=1) prints the stack of an unexpected error.`;

/** The help text of one command (lazy: audit and approvals own theirs). */
async function helpOf(command: string | undefined): Promise<string> {
  switch (command) {
    case 'dev':
      return DEV_USAGE;
    case 'config':
      return CONFIG_USAGE;
    case 'revoke':
    case 'unrevoke':
    case 'revocations':
      return REVOKE_USAGE;
    case 'audit':
      return (await import('./audit.js')).AUDIT_USAGE;
    case 'approvals':
      return (await import('./approvals.js')).APPROVALS_USAGE;
    case 'policy':
      return (await import('./policy.js')).POLICY_USAGE;
    case 'usage':
      return (await import('./usage.js')).USAGE_HELP;
    default:
      return USAGE;
  }
}

/** The version of the installed package (package.json above this file, in the sources as in dist/). */
export function packageVersion(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'embedgate' && pkg.version) return pkg.version;
    } catch {
      // not here: one level up
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`embedgate ${packageVersion()}\n`);
    return 0;
  }
  // `--help` anywhere before a `--` asks for the help of the command it follows, and succeeds.
  const options = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (command === 'audit' && rest[0] === 'replay' && (options.includes('--help') || options.includes('-h'))) {
    process.stdout.write(`${(await import('./replay.js')).REPLAY_USAGE}\n`);
    return 0;
  }
  if (options.includes('--help') || options.includes('-h') || command === 'help') {
    process.stdout.write(`${await helpOf(command === 'help' ? rest[0] : command)}\n`);
    return 0;
  }
  switch (command) {
    case 'dev':
      return dev(rest);
    case 'audit': {
      if (rest[0] === 'replay') {
        const r = await import('./replay.js');
        try {
          return await r.auditReplay(rest.slice(1), (line) => process.stdout.write(`${line}\n`));
        } catch (e) {
          if (e instanceof r.ReplayUsageError) throw new UsageError(e.message);
          throw e;
        }
      }
      const { audit } = await import('./audit.js');
      return audit(rest);
    }
    case 'policy': {
      const p = await import('./policy.js');
      try {
        return await p.policy(rest, (line) => process.stdout.write(`${line}\n`));
      } catch (e) {
        if (e instanceof p.PolicyUsageError) throw new UsageError(e.message);
        throw e;
      }
    }
    case 'usage': {
      const u = await import('./usage.js');
      try {
        return await u.usage(rest);
      } catch (e) {
        if (e instanceof (await import('./audit.js')).AuditUsageError) throw new UsageError(`${(e as Error).message}\n${u.USAGE_HELP}`);
        throw e;
      }
    }
    case 'revoke':
    case 'unrevoke':
    case 'revocations': {
      const r = await import('./revoke.js');
      const out = (line: string) => process.stdout.write(`${line}\n`);
      try {
        if (command === 'revoke') return await r.revoke(rest, out);
        if (command === 'unrevoke') return await r.unrevoke(rest, out);
        if (rest[0] === 'list') return await r.listRevocations(rest.slice(1), out);
      } catch (e) {
        if (e instanceof r.UsageError || e instanceof r.InvalidRevocationError) throw new UsageError(e.message);
        throw e;
      }
      break;
    }
    case 'approvals': {
      const a = await import('./approvals.js');
      try {
        return await a.approvals(rest, { out: (line) => process.stdout.write(`${line}\n`) });
      } catch (e) {
        if (e instanceof a.ApprovalsUsageError) throw new UsageError(e.message);
        throw e;
      }
    }
    case 'config':
      if (rest[0] === 'validate' && rest[1]) {
        const { validateConfigFile } = await import('./policy-warnings.js');
        const { config, warnings } = validateConfigFile(rest[1]);
        for (const w of warnings) process.stdout.write(`warning: ${w.path}: ${w.message} [${w.id}]\n`);
        process.stdout.write(
          `valid: ${config.issuers.length} issuer(s), ${config.models.length} model(s), ${config.policy.rules.length} rule(s); version ${config.version}${warnings.length ? `; ${warnings.length} warning(s)` : ''}\n`,
        );
        return 0;
      }
      break;
    case undefined:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
  process.stderr.write(`embedgate: unknown command ${JSON.stringify(argv.join(' '))}\n${await helpOf(command)}\n`);
  return 2;
}

async function dev(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p', default: '8787' },
      'issuer-port': { type: 'string' },
      'function-timeout': { type: 'string', default: '29' },
      host: { type: 'string', default: '127.0.0.1' },
      'archive-dir': { type: 'string', default: '.archive' },
      'no-journal': { type: 'boolean', default: false },
      'compact-every-ms': { type: 'string' },
      issuer: { type: 'boolean', default: false },
      'skip-edge-auth': { type: 'boolean', default: false },
      metrics: { type: 'boolean', default: false },
      'digest-on-exit': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.config) throw new UsageError('--config <file> is required');
  const port = portOption('--port', values.port);
  const issuerPort = values['issuer-port'] === undefined ? undefined : portOption('--issuer-port', values['issuer-port']);
  if (issuerPort !== undefined && !values.issuer) throw new UsageError('--issuer-port needs --issuer');
  // Metrics go to CloudWatch as EMF in Lambda; locally they would only clutter the terminal.
  if (!values.metrics) process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

  const file = readDevConfigFile(values.config);
  // Every secret the configuration names is resolved now: a missing one would otherwise surface
  // only as a 503 on the first request that needs it (e.g. masking_unavailable).
  const missing = missingSecrets(buildConfig(file, file.dev.issuer ? 'http://127.0.0.1:1' : undefined));
  if (missing.length > 0) throw new UsageError(missing.map((m) => m.message).join('\nembedgate: '));
  // Loaded lazily: the dev server pulls in the handlers, the issuer pulls in oidc-provider.
  const { startDevServer } = await import('./dev-server.js');
  let issuer: { issuer: string; tokenEndpoint: string; close(): Promise<void> } | undefined;
  if (values.issuer) {
    if (!file.dev.issuer) throw new UsageError(`--issuer needs a "dev.issuer" section in ${values.config}`);
    const { startDevIssuer } = await import('./issuer.js');
    const d = file.dev.issuer;
    issuer = await onPort('--issuer-port', issuerPort ?? d.port, (p) =>
      startDevIssuer({
        port: p,
        host: values.host,
        audience: d.audience,
        clients: d.clients,
        accessTokenTtlSeconds: d.accessTokenTtlSeconds,
        users: d.users,
        publicClients: devPublicClients(file),
      }),
    );
  }
  const config = buildConfig(file, issuer?.issuer);
  const archiveDir = resolve(values['archive-dir']);
  const functionTimeout = Number(values['function-timeout']);
  if (!Number.isFinite(functionTimeout) || functionTimeout < 4 || functionTimeout > 29)
    throw new UsageError(`--function-timeout must be 4-29 seconds (API Gateway's limit less a margin), got ${values['function-timeout']}`);
  const compactEveryMs = values['compact-every-ms'] === undefined ? undefined : Number(values['compact-every-ms']);
  if (compactEveryMs !== undefined && !(Number.isInteger(compactEveryMs) && compactEveryMs >= 10))
    throw new UsageError(`--compact-every-ms must be a whole number of milliseconds, at least 10, got ${values['compact-every-ms']}`);
  const server = await onPort('--port', port, (p) =>
    startDevServer({
      config,
      archiveDir,
      port: p,
      host: values.host,
      edgeAuth: !values['skip-edge-auth'],
      journal: !values['no-journal'],
      functionTimeoutSeconds: functionTimeout,
      ...(compactEveryMs !== undefined ? { compactEveryMs } : {}),
    }),
  ).catch(async (e: unknown) => {
    await issuer?.close();
    throw e;
  });

  const lines = [
    'embedgate dev',
    `  gateway listening on ${server.url}  (OpenAI base URL: ${server.url}/v1)`,
    ...(issuer
      ? [`  issuer ${issuer.issuer}  (token: curl -s -u CLIENT_ID:SECRET -d grant_type=client_credentials ${issuer.tokenEndpoint})`]
      : []),
    `  archive ${archiveDir}`,
    `  policy version ${config.version}`,
    ...(config.reviewerPage ? [`  reviewer page ${server.url}/review`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  await issuer?.close();
  if (values['digest-on-exit']) {
    // Digest every hour of the run, the current one included (embedgate audit digest --include-current-hour).
    const { audit } = await import('./audit.js');
    return audit(['digest', '--archive-dir', archiveDir, '--include-current-hour']);
  }
  return 0;
}

/** A mistake of the person at the keyboard: one line (or one per problem) with the fix, exit 2. */
class UsageError extends Error {}

function portOption(flag: string, text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535)
    throw new UsageError(`${flag} must be a port number 0-65535 (0 picks a free port), got ${JSON.stringify(text)}`);
  return port;
}

/** Listen through `start`; a busy port is one line naming the port and the flag that changes it. */
async function onPort<T>(flag: string, port: number, start: (port: number) => Promise<T>): Promise<T> {
  try {
    return await start(port);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new UsageError(`port ${port} is already in use: choose another with ${flag} <n> (0 picks a free port)`);
    if (code === 'EACCES') throw new UsageError(`port ${port} needs privileges this user lacks: choose one above 1023 with ${flag} <n>`);
    throw e;
  }
}

/** Whether unexpected errors print their stack: `--debug` anywhere, or the CLI_ENV.debug variable set to 1. */
function debugRequested(argv: string[], env: NodeJS.ProcessEnv): boolean {
  return argv.includes('--debug') || env[CLI_ENV.debug] === '1' || env[CLI_ENV.debug] === 'true';
}

/** What an error prints: a person's mistake is its message; anything else one line too, unless debugging. */
export function describeError(e: unknown, debug: boolean): { text: string; code: number } {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as NodeJS.ErrnoException).code;
  const expected =
    err instanceof ConfigError || err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
  if (expected) return { text: `embedgate: ${err.message}`, code: 2 };
  if (debug) return { text: `embedgate: ${err.stack ?? err.message}`, code: 1 };
  const firstLine = err.message.split('\n')[0] ?? '';
  return { text: `embedgate: ${firstLine}${code && !firstLine.includes(code) ? ` (${code})` : ''}  [--debug shows the stack]`, code: 1 };
}

/** Run the CLI and exit: 0 on success, 2 on a usage or configuration error, 1 otherwise. */
export function run(argv: string[], env: NodeJS.ProcessEnv = process.env): void {
  const debug = debugRequested(argv, env);
  main(argv.filter((a) => a !== '--debug')).then(
    (code) => process.exit(code),
    (e: unknown) => {
      const { text, code } = describeError(e, debug);
      process.stderr.write(`${text}\n`);
      process.exit(code);
    },
  );
}

// Run directly (node dist/cli/main.js); in the ESM CLI bundle `module` does not exist and cli/embedgate.js calls run().
if (typeof module !== 'undefined' && require.main === module) run(process.argv.slice(2));
