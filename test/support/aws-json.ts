/**
 * The AWS JSON protocol (1.0 / 1.1) as the test fakes serve it: `POST /` with `x-amz-target:
 * <Service>.<Operation>` and a JSON body; answers JSON, errors `{__type, message}`. One place for
 * reading requests, writing answers and closing, so each fake is only its operations.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';

/** A request as a fake sees it, after its body was read. */
export interface AwsJsonRequest {
  readonly method: string | undefined;
  readonly url: string | undefined;
  /** The `x-amz-target` header, e.g. `AWSStepFunctions.StartExecution`. */
  readonly target: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** The parsed body; undefined when it is not JSON. */
  readonly body: unknown;
  /** True for `POST /`, the only route of the protocol. */
  readonly isProtocolRoute: boolean;
}

/** A server that reads each request's JSON body, then calls `handle`. */
export function createAwsJsonServer(handle: (req: AwsJsonRequest, res: ServerResponse) => void): Server {
  return createServer((raw, res) => {
    const chunks: Buffer[] = [];
    raw.on('data', (c: Buffer) => chunks.push(c));
    raw.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      } catch {
        body = undefined;
      }
      const target = typeof raw.headers['x-amz-target'] === 'string' ? raw.headers['x-amz-target'] : undefined;
      handle(
        { method: raw.method, url: raw.url, target, headers: raw.headers, body, isProtocolRoute: raw.method === 'POST' && raw.url === '/' },
        res,
      );
    });
  });
}

/** A JSON answer in the protocol's content type (`application/x-amz-json-1.0` or `-1.1`). */
export function sendAwsJson(res: ServerResponse, version: '1.0' | '1.1', status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': `application/x-amz-json-${version}`,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': 'fake-request-id',
  });
  res.end(text);
}

/** Stop listening and drop every open connection. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
