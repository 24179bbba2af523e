/**
 * A local stand-in for AWS Secrets Manager's `GetSecretValue`, speaking the service's JSON 1.1
 * protocol on `node:http`, for the real `SecretsManagerClient` pointed at its `endpoint`.
 *
 * `POST /` with `x-amz-target: secretsmanager.GetSecretValue` and `{"SecretId": ...}` answers
 * `{ARN, Name, SecretString, VersionId, CreatedDate}`; an unknown id answers 400
 * `ResourceNotFoundException`. `failWith` makes every request fail (e.g. 500
 * `InternalServiceError`) until cleared. Every request is recorded.
 */
import { createAwsJsonServer, closeServer, sendAwsJson } from './aws-json';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { listenLocal } from './listen';

/** A request as the fake received it. */
export interface FakeSecretsRequest {
  /** The `x-amz-target` header, e.g. `secretsmanager.GetSecretValue`. */
  readonly target: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

/** A failure every request gets while it is set. */
export interface FakeSecretsFailure {
  readonly status: number;
  /** The error code (`__type`), e.g. `InternalServiceError`, `AccessDeniedException`. */
  readonly type: string;
  readonly message?: string;
}

/** A running fake Secrets Manager. */
export interface FakeSecretsManager {
  /** `http://127.0.0.1:<port>`: the client's `endpoint`. */
  readonly endpoint: string;
  readonly requests: FakeSecretsRequest[];
  /** Number of `GetSecretValue` requests received. */
  readonly getCount: number;
  /** Create or replace a secret (a new version). */
  setSecret(id: string, value: string): void;
  deleteSecret(id: string): void;
  /** Fail every request with this error until called with `undefined`. */
  failWith(failure: FakeSecretsFailure | undefined): void;
  /** Forget requests; keep secrets. */
  reset(): void;
  close(): Promise<void>;
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

/** Start a fake Secrets Manager on a free local port with these secrets (id → SecretString). */
export async function startFakeSecretsManager(secrets: Readonly<Record<string, string>> = {}): Promise<FakeSecretsManager> {
  const store = new Map<string, { value: string; version: number }>();
  for (const [id, value] of Object.entries(secrets)) store.set(id, { value, version: 1 });
  const requests: FakeSecretsRequest[] = [];
  let failure: FakeSecretsFailure | undefined;

  const server = createAwsJsonServer((r, res) => {
    const body = r.body;
    const target = r.target;
    requests.push({ target, headers: r.headers, body });
    if (!r.isProtocolRoute) return sendError(res, 404, 'UnknownOperationException', `no route for ${r.method} ${r.url}`);
    if (failure) return sendError(res, failure.status, failure.type, failure.message ?? `fake failure ${failure.type}`);
    if (target !== 'secretsmanager.GetSecretValue')
      return sendError(res, 400, 'UnknownOperationException', `unsupported operation ${target}`);
    const id = (body as { SecretId?: unknown } | undefined)?.SecretId;
    if (typeof id !== 'string') return sendError(res, 400, 'ValidationException', 'SecretId is required');
    const secret = store.get(id);
    if (!secret) return sendError(res, 400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    send(res, 200, {
      ARN: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-AbCdEf`,
      Name: id,
      SecretString: secret.value,
      VersionId: `00000000-0000-4000-8000-${String(secret.version).padStart(12, '0')}`,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: 1_700_000_000,
    });
  });

  const endpoint = await listenLocal(server);

  return {
    endpoint,
    requests,
    get getCount() {
      return requests.filter((r) => r.target === 'secretsmanager.GetSecretValue').length;
    },
    setSecret: (id, value) => void store.set(id, { value, version: (store.get(id)?.version ?? 0) + 1 }),
    deleteSecret: (id) => void store.delete(id),
    failWith: (f) => void (failure = f),
    reset: () => void (requests.length = 0),
    close: () => closeServer(server),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendAwsJson(res, '1.1', status, body);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  send(res, status, { __type: type, message });
}
