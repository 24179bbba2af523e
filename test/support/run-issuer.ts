/**
 * Child-process entry point of {@link startIssuerProcess} (see ./issuer-process.ts): runs the dev
 * issuer outside jest's module system, which cannot load the ESM-only oidc-provider.
 *
 * Protocol: the first line on stdin is the JSON of the `DevIssuerOptions` (stdin rather than argv or
 * the environment keeps client secrets out of `ps`); once listening, one JSON line
 * `{"devIssuer":{"issuer":…,"tokenEndpoint":…,"jwksUri":…}}` is written to stdout. The issuer stops
 * and the process exits when stdin ends (so it never outlives its parent) or on SIGTERM/SIGINT.
 *
 * Run with `node --import tsx test/support/run-issuer.ts`, or as compiled JavaScript.
 */
import { startDevIssuer } from '../../cli/issuer';
import type { DevIssuer, DevIssuerOptions } from '../../cli/issuer';

function readFirstLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: string): void => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline !== -1) {
        process.stdin.off('data', onData);
        process.stdin.off('end', onEnd);
        resolve(buffer.slice(0, newline));
      }
    };
    const onEnd = (): void => reject(new Error('stdin ended before the issuer options were received'));
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', onData);
    process.stdin.once('end', onEnd);
  });
}

async function main(): Promise<void> {
  const options = JSON.parse(await readFirstLine()) as DevIssuerOptions;
  const issuer: DevIssuer = await startDevIssuer(options);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    issuer.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`run-issuer: close failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.stdin.on('end', stop);
  process.stdin.resume();
  if (process.stdin.readableEnded) stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  const { issuer: url, tokenEndpoint, jwksUri } = issuer;
  process.stdout.write(`${JSON.stringify({ devIssuer: { issuer: url, tokenEndpoint, jwksUri } })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`run-issuer: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
