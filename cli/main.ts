/**
 * The `embedgate` command line.
 *
 *   embedgate dev --config <file> [--port <n>] [--host <addr>] [--archive-dir <dir>] [--issuer] [--skip-edge-auth]
 *   embedgate config validate <file>
 *   embedgate audit digest|verify|query|queries ...   (see cli/audit.ts)
 *   embedgate revoke | unrevoke | revocations list ...  (see cli/revoke.ts)
 *   embedgate approvals list | show | approve | deny ...  (see cli/approvals.ts)
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/config';
import { buildConfig, readDevConfigFile } from './dev-config';

const USAGE = `usage:
  embedgate dev --config <file> [--port <n>] [--host <addr>] [--archive-dir <dir>] [--issuer] [--skip-edge-auth] [--digest-on-exit] [--function-timeout <seconds>]
      Run the gateway locally with the local adapters. --issuer also starts the embedded OIDC
      issuer configured in the file's "dev.issuer" section. --digest-on-exit writes the archive's
      signed digests when it stops (embedgate audit digest --include-current-hour).
  embedgate config validate <file>
      Validate a configuration file and print its version.
  embedgate audit digest|verify|query|queries ...
      Digests and verification of an archive, named audit queries ("embedgate audit" for details).
  embedgate revoke (--subject <sub> | --client-id <id> | --token-id <jti> --issuer <iss>) [--issuer <iss>]
                   [--reason <text>] [--until <ISO time | 30m | 12h | 7d>] [--by <name>] (--table <name> [--region <r>] | --archive-dir <dir>)
      Cut off a principal at runtime: in the DynamoDB table of a deployed gateway (its output
      RevocationTableName), or in the deny list of embedgate dev (its --archive-dir).
  embedgate unrevoke (--subject | --client-id | --token-id) <value> [--issuer <iss>] (--table <name> | --archive-dir <dir>)
  embedgate revocations list (--table <name> | --archive-dir <dir>) [--format table|json]
  embedgate approvals list | show <id> | approve <id> --reason <text> | deny <id> --reason <text> --url <gateway URL>
      Review held requests through the gateway's approval API, with the token in EMBEDGATE_TOKEN
      (or --token-file). Works the same against embedgate dev and a deployed gateway.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'dev':
      return dev(rest);
    case 'audit': {
      const { audit } = await import('./audit.js');
      return audit(rest);
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
        const file = readDevConfigFile(rest[1]);
        const config = buildConfig(file, file.dev.issuer ? 'http://127.0.0.1:1' : undefined);
        process.stdout.write(
          `valid: ${config.issuers.length} issuer(s), ${config.models.length} model(s), ${config.policy.rules.length} rule(s); version ${config.version}\n`,
        );
        return 0;
      }
      break;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

async function dev(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p', default: '8787' },
      'function-timeout': { type: 'string', default: '29' },
      host: { type: 'string', default: '127.0.0.1' },
      'archive-dir': { type: 'string', default: '.archive' },
      issuer: { type: 'boolean', default: false },
      'skip-edge-auth': { type: 'boolean', default: false },
      metrics: { type: 'boolean', default: false },
      'digest-on-exit': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.config) throw new UsageError('--config <file> is required');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got ${values.port}`);
  // Metrics go to CloudWatch as EMF in Lambda; locally they would only clutter the terminal.
  if (!values.metrics) process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

  const file = readDevConfigFile(values.config);
  // Loaded lazily: the dev server pulls in the handlers, the issuer pulls in oidc-provider.
  const functionTimeout = Number(values['function-timeout']);
  if (!Number.isFinite(functionTimeout) || functionTimeout < 4 || functionTimeout > 29)
    throw new UsageError(`--function-timeout must be 4-29 seconds (API Gateway's limit less a margin), got ${values['function-timeout']}`);
  const { startDevServer } = await import('./dev-server.js');
  let issuer: { issuer: string; tokenEndpoint: string; close(): Promise<void> } | undefined;
  if (values.issuer) {
    if (!file.dev.issuer) throw new UsageError(`--issuer needs a "dev.issuer" section in ${values.config}`);
    const { startDevIssuer } = await import('./issuer.js');
    const d = file.dev.issuer;
    issuer = await startDevIssuer({
      port: d.port,
      host: values.host,
      audience: d.audience,
      clients: d.clients,
      accessTokenTtlSeconds: d.accessTokenTtlSeconds,
    });
  }
  const config = buildConfig(file, issuer?.issuer);
  const archiveDir = resolve(values['archive-dir']);
  const server = await startDevServer({
    config,
    archiveDir,
    port,
    host: values.host,
    edgeAuth: !values['skip-edge-auth'],
    functionTimeoutSeconds: functionTimeout,
  });

  const lines = [
    'embedgate dev',
    `  gateway listening on ${server.url}  (OpenAI base URL: ${server.url}/v1)`,
    ...(issuer
      ? [`  issuer ${issuer.issuer}  (token: curl -s -u CLIENT_ID:SECRET -d grant_type=client_credentials ${issuer.tokenEndpoint})`]
      : []),
    `  archive ${archiveDir}`,
    `  policy version ${config.version}`,
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

class UsageError extends Error {}

/** Run the CLI and exit: 0 on success, 2 on a usage or configuration error, 1 otherwise. */
export function run(argv: string[]): void {
  main(argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      const expected = e instanceof ConfigError || e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
      process.stderr.write(`embedgate: ${expected ? (e as Error).message : ((e as Error).stack ?? String(e))}\n`);
      process.exit(expected ? 2 : 1);
    },
  );
}

if (require.main === module) run(process.argv.slice(2));
