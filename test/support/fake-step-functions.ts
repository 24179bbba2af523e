/**
 * A local stand-in for the two AWS Step Functions calls the approval workflow adapter makes,
 * speaking the service's JSON 1.0 protocol on `node:http`, for the real `SFNClient` pointed at
 * its `endpoint`.
 *
 * - `AWSStepFunctions.StartExecution`: one execution per name. Same name and same input while
 *   it runs answers the original response (as AWS does); otherwise 400 `ExecutionAlreadyExists`.
 *   An unknown state machine answers 400 `StateMachineDoesNotExist`.
 * - `AWSStepFunctions.SendTaskSuccess`: a token from `issueToken` is released once (its output
 *   kept); a released one answers `TaskDoesNotExist`, one marked by `timeOut` `TaskTimedOut`,
 *   anything else `InvalidToken`.
 * - `AWSStepFunctions.SendTaskFailure`: the same, the waiting task then fails with its `error`
 *   (as the error's name) and `cause`.
 *
 * `failWith` makes every request fail until cleared. Every request is recorded. `onStart` and
 * `waitForRelease` let a test run the workflow itself (see test/integration/approval-workflow.test.ts).
 */
import { createAwsJsonServer, closeServer, sendAwsJson } from './aws-json';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { listenLocal } from './listen';

export interface FakeSfnRequest {
  /** The `x-amz-target` header, e.g. `AWSStepFunctions.StartExecution`. */
  readonly target: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown> | undefined;
}

export interface FakeSfnExecution {
  readonly name: string;
  readonly executionArn: string;
  readonly input: string;
  readonly startDate: number;
}

export interface FakeSfnFailure {
  readonly status: number;
  /** The error code (`__type`), e.g. `ThrottlingException`, `AccessDeniedException`. */
  readonly type: string;
}

export interface FakeStepFunctions {
  /** `http://127.0.0.1:<port>`: the client's `endpoint`. */
  readonly endpoint: string;
  readonly stateMachineArn: string;
  readonly requests: FakeSfnRequest[];
  /** Executions by name. */
  readonly executions: ReadonlyMap<string, FakeSfnExecution>;
  /** Outputs sent with `SendTaskSuccess`, by token. */
  readonly released: ReadonlyMap<string, string>;
  /** A new task token of the execution `name` (what `$$.Task.Token` would be). */
  issueToken(name: string): string;
  /** The task holding `token` timed out: releasing it now answers `TaskTimedOut`. */
  timeOut(token: string): void;
  /** Mark an execution ended (a same-name start then answers `ExecutionAlreadyExists`). */
  end(name: string): void;
  failWith(failure: FakeSfnFailure | undefined): void;
  /** Called with every new execution, after the StartExecution answer is decided (replaces the previous listener). */
  onStart(listener: ((execution: FakeSfnExecution) => void) | undefined): void;
  /**
   * Resolves with the output `SendTaskSuccess` releases `token` with, or rejects with the error
   * `SendTaskFailure` fails it with (at once if it was released already).
   */
  waitForRelease(token: string): Promise<string>;
  close(): Promise<void>;
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

export async function startFakeStepFunctions(stateMachineName = 'ApprovalWorkflow'): Promise<FakeStepFunctions> {
  const stateMachineArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${stateMachineName}`;
  const executions = new Map<string, FakeSfnExecution & { running: boolean }>();
  const tokens = new Map<string, { state: 'waiting' | 'released' | 'timedOut' }>();
  const released = new Map<string, string>();
  const requests: FakeSfnRequest[] = [];
  let failure: FakeSfnFailure | undefined;
  let issued = 0;
  let startListener: ((execution: FakeSfnExecution) => void) | undefined;
  const waiters = new Map<string, { resolve: (output: string) => void; reject: (e: Error) => void }[]>();
  /** Tokens released with `SendTaskFailure`: the error the waiting task fails with. */
  const failed = new Map<string, Error>();

  /** Marks a waiting token released; answers the error (and returns false) for any other. */
  const release = (res: ServerResponse, token: string): boolean => {
    const t = tokens.get(token);
    if (!t) sendError(res, 400, 'InvalidToken', 'Invalid Token');
    else if (t.state === 'timedOut') sendError(res, 400, 'TaskTimedOut', 'Task Timed Out');
    else if (t.state === 'released') sendError(res, 400, 'TaskDoesNotExist', 'Task Does Not Exist');
    else {
      t.state = 'released';
      return true;
    }
    return false;
  };

  const server = createAwsJsonServer((r, res) => {
    const body = r.body as Record<string, unknown> | undefined;
    const target = r.target;
    requests.push({ target, headers: r.headers, body });
    if (!r.isProtocolRoute) return sendError(res, 404, 'UnknownOperationException', `no route for ${r.method} ${r.url}`);
    if (failure) return sendError(res, failure.status, failure.type, `fake failure ${failure.type}`);
    if (!body) return sendError(res, 400, 'SerializationException', 'the body is not JSON');
    switch (target) {
      case 'AWSStepFunctions.StartExecution': {
        if (body.stateMachineArn !== stateMachineArn)
          return sendError(res, 400, 'StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(body.stateMachineArn)}'`);
        const name = String(body.name);
        const input = typeof body.input === 'string' ? body.input : '{}';
        const existing = executions.get(name);
        if (existing) {
          if (existing.running && existing.input === input)
            return send(res, 200, { executionArn: existing.executionArn, startDate: existing.startDate / 1000 });
          return sendError(res, 400, 'ExecutionAlreadyExists', `Execution Already Exists: '${existing.executionArn}'`);
        }
        const execution = {
          name,
          executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:${stateMachineName}:${name}`,
          input,
          startDate: Date.now(),
          running: true,
        };
        executions.set(name, execution);
        send(res, 200, { executionArn: execution.executionArn, startDate: execution.startDate / 1000 });
        startListener?.(execution);
        return;
      }
      case 'AWSStepFunctions.SendTaskSuccess': {
        const token = String(body.taskToken);
        if (!release(res, token)) return;
        released.set(token, String(body.output));
        send(res, 200, {});
        for (const w of waiters.get(token) ?? []) w.resolve(String(body.output));
        waiters.delete(token);
        return;
      }
      case 'AWSStepFunctions.SendTaskFailure': {
        const token = String(body.taskToken);
        if (!release(res, token)) return;
        const error = Object.assign(new Error(typeof body.cause === 'string' ? body.cause : ''), {
          name: typeof body.error === 'string' ? body.error : 'Error',
        });
        failed.set(token, error);
        send(res, 200, {});
        for (const w of waiters.get(token) ?? []) w.reject(error);
        waiters.delete(token);
        return;
      }
      default:
        return sendError(res, 400, 'UnknownOperationException', `unsupported operation ${target}`);
    }
  });
  const endpoint = await listenLocal(server);

  return {
    endpoint,
    stateMachineArn,
    requests,
    executions,
    released,
    issueToken: (name) => {
      const token = `AAAA${Buffer.from(`${name}:${++issued}`).toString('base64')}`;
      tokens.set(token, { state: 'waiting' });
      return token;
    },
    timeOut: (token) => void tokens.set(token, { state: 'timedOut' }),
    end: (name) => {
      const e = executions.get(name);
      if (e) e.running = false;
    },
    failWith: (f) => void (failure = f),
    onStart: (listener) => void (startListener = listener),
    waitForRelease: (token) => {
      const done = released.get(token);
      if (done !== undefined) return Promise.resolve(done);
      const error = failed.get(token);
      if (error) return Promise.reject(error);
      return new Promise<string>((resolve, reject) => waiters.set(token, [...(waiters.get(token) ?? []), { resolve, reject }]));
    },
    close: () => closeServer(server),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendAwsJson(res, '1.0', status, body);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  send(res, status, { __type: `com.amazonaws.swf.service.v2.model#${type}`, message });
}
