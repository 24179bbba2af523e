/**
 * The approval workflow end to end, as deployed: the state machine definition is taken from the
 * template `EmbeddingGateway` synthesizes and run with `aws-local-stepfunctions`; its Task states
 * are overridden by local functions that run the real code:
 *
 * - `Notify` captures the SNS message (Parameters as the state built them).
 * - `WaitForDecision` calls the real `handleApprovalTask({action: 'register'})` against a
 *   `DynamoDbApprovalStore` on dynalite, then waits until the token is released with
 *   `SendTaskSuccess` and returns its output (the `.waitForTaskToken` contract).
 * - `Expire` calls the real `handleApprovalTask({action: 'expire'})`.
 *
 * Requests, decisions and re-sends go through the real `Gateway` (the proxy's core) with the same
 * configuration document the construct ships, the DynamoDB store, and the real
 * `StepFunctionsApprovalWorkflow` with the real SFNClient talking to a fake of the Step Functions
 * API. A StartExecution there runs the local state machine; a SendTaskSuccess there releases the
 * waiting task. So every arrow of the deployed flow is exercised except AWS itself.
 *
 * Timeouts: aws-local-stepfunctions enforces `TimeoutSecondsPath` on Task states (a timer raced
 * with the task, failing it with `States.Timeout`), so the timeout is real. One difference: it
 * resolves the path against the state's effective parameters (here `{FunctionName, Payload}`),
 * where Step Functions resolves it against the state input (AWS docs; CDK's `Timeout.at`). So the
 * local run, and only it, reads the same field through the context object:
 * `$.timeoutSeconds` becomes `$$.Execution.Input.timeoutSeconds` (the state input of
 * WaitForDecision is the execution input: Notify discards its result; a test checks that).
 * The rule's timeout is at least a minute (the configuration's floor); the timeout test shortens
 * the execution input's `timeoutSeconds` to 1 second, which is the only thing it changes.
 */
import { readFileSync } from 'node:fs';
import type * as LocalStepFunctions from 'aws-local-stepfunctions';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { App, Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EmbeddingGateway, PolicyEffect, UpstreamModel } from '../../lib';
import { expandEnvRefs, loadConfig, type GatewayConfig } from '../../shared/config';
import { DynamoDbApprovalStore } from '../../lambda/adapters/aws/dynamodb-approvals';
import { StepFunctionsApprovalWorkflow } from '../../lambda/adapters/aws/step-functions-approvals';
import { InMemoryRevocationList } from '../../lambda/adapters/local/revocations';
import { APPROVAL_HEADER } from '../../lambda/core/approvals/rules';
import { handleApprovalTask, type ApprovalExecutionInput, type ApprovalTaskEvent } from '../../lambda/core/approvals/task';
import { unauthenticated } from '../../lambda/core/errors';
import { Gateway, type GatewayRequest } from '../../lambda/core/gateway';
import type { Principal } from '../../lambda/core/principal';
import { systemClock, uuidv7Ids } from '../../lambda/core/ids';
import type { EmbeddingCall, EmbeddingProvider, EmbeddingResult } from '../../lambda/core/ports';
import type { SessionRecord } from '../../lambda/core/record';
import { ASL_ENV, stateMachineDefinition, type AslDefinition } from '../support/asl';
import { startDynalite, type StandIn } from '../support/aws-standins';
import { createApprovalTable } from '../support/approval-items';
import { startFakeStepFunctions, type FakeSfnExecution, type FakeStepFunctions } from '../support/fake-step-functions';

// aws-local-stepfunctions 3 uses Promise.withResolvers (Node 22+); this process may be Node 20.
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value<T>() {
      let resolve!: (v: T | PromiseLike<T>) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
      return { promise, resolve, reject };
    },
  });
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the polyfill; the package's CommonJS build
const { StateMachine } = require('aws-local-stepfunctions') as typeof LocalStepFunctions;
/** A JSON value as aws-local-stepfunctions types it. */
type Json = Parameters<InstanceType<typeof StateMachine>['run']>[0];

// ---- the deployed definition and configuration ------------------------------------------------

const ISSUER = { id: 'okta', issuerUrl: 'https://acme.okta.com/oauth2/default', audiences: ['api://embedgate'] };

/** Synthesize the gateway with two held rules; the state machine definition and the task function's config.json. */
function synthesized(): { definition: AslDefinition; config: GatewayConfig } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Approvals');
  const gateway = new EmbeddingGateway(stack, 'Gateway', {
    issuers: [ISSUER],
    models: [
      UpstreamModel.bedrock('amazon.titan-embed-text-v2:0', { name: 'titan-v2' }),
      UpstreamModel.bedrock('cohere.embed-english-v3', { name: 'cohere-en' }),
    ],
    rules: [
      {
        id: 'held',
        effect: PolicyEffect.ALLOW,
        groups: ['search-team'],
        models: ['titan-v2'],
        approval: { reviewers: { groups: ['reviewers'] }, timeout: Duration.hours(1) },
      },
      {
        id: 'two-person',
        effect: PolicyEffect.ALLOW,
        groups: ['search-team'],
        models: ['cohere-en'],
        approval: { reviewers: { groups: ['reviewers'] }, requiredApprovals: 2 },
      },
    ],
    alarms: false,
    dashboard: false,
  });
  const template = Template.fromStack(stack).toJSON();
  const fn = template.Resources[stack.getLogicalId(gateway.approvals!.taskFunction.node.defaultChild as CfnElement)].Properties;
  const asset = join(app.synth().directory, `asset.${(fn.Code.S3Key as string).replace(/\.zip$/, '')}`);
  const env = Object.fromEntries(
    Object.entries(fn.Environment.Variables as Record<string, unknown>).map(([k, v]) => [
      k,
      typeof v === 'string' ? v : `deploy-time-${k}`,
    ]),
  );
  const config = loadConfig(expandEnvRefs(JSON.parse(readFileSync(join(asset, 'config.json'), 'utf8')), env));
  return { definition: stateMachineDefinition(template), config };
}

/** The deployed definition with the one path aws-local-stepfunctions resolves differently (see above) rewritten. */
function forLocalRun(d: AslDefinition): AslDefinition {
  const wait = d.States.WaitForDecision!;
  if (wait.TimeoutSecondsPath !== '$.timeoutSeconds') throw new Error(`unexpected TimeoutSecondsPath ${String(wait.TimeoutSecondsPath)}`);
  return { ...d, States: { ...d.States, WaitForDecision: { ...wait, TimeoutSecondsPath: '$$.Execution.Input.timeoutSeconds' } } };
}

// ---- principals, provider, archive -------------------------------------------------------------

const base = { issuerId: ISSUER.id, issuer: ISSUER.issuerUrl, scopes: [], tokenId: null, expiresAt: null };
const PRINCIPALS: Record<string, Principal> = {
  indexer: { ...base, subject: 'svc-indexer', clientId: 'indexer', groups: ['search-team'] },
  alice: { ...base, subject: 'alice', clientId: null, groups: ['reviewers'] },
  bob: { ...base, subject: 'bob', clientId: null, groups: ['reviewers'] },
  // A reviewer who may also request: never the reviewer of their own request.
  carol: { ...base, subject: 'carol', clientId: null, groups: ['reviewers', 'search-team'] },
};

class FakeProvider implements EmbeddingProvider {
  readonly kind = 'fake';
  readonly calls: EmbeddingCall[] = [];
  async embed(call: EmbeddingCall): Promise<EmbeddingResult> {
    this.calls.push(call);
    return {
      vectors: call.input.map(() => Float32Array.from([0.1, 0.2, 0.3, 0.4])),
      usage: { promptTokens: 2, totalTokens: 2 },
      upstream: { status: 200, latencyMs: 1, attempts: 1, batches: 1 },
    };
  }
}

// ---- the workflow: a local run of the deployed definition per StartExecution -----------------------

interface Run {
  readonly execution: FakeSfnExecution;
  readonly token: string;
  /** What the Notify state published (SNS Publish parameters). */
  notification?: { TopicArn: string; Subject: string; Message: string };
  /** Resolves when WaitForDecision has registered its token. */
  readonly registered: Promise<void>;
  /** The states entered, in order. */
  readonly states: string[];
  /** The input of each state entered, by name (the last one). */
  readonly inputs: Record<string, unknown>;
  /** The execution's output; rejects if it failed. */
  readonly result: Promise<Record<string, unknown>>;
  readonly abort: () => void;
  done: boolean;
}

let dynamo: StandIn;
let sfn: FakeStepFunctions;
let ddb: DynamoDBClient;
let sfnClient: SFNClient;
let deployed: AslDefinition;
let definition: AslDefinition;
let config: GatewayConfig;

beforeAll(async () => {
  ({ definition: deployed, config } = synthesized());
  definition = forLocalRun(deployed);
  [dynamo, sfn] = await Promise.all([startDynalite(), startFakeStepFunctions()]);
  const credentials = { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' };
  ddb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: ASL_ENV.region, credentials, maxAttempts: 1 });
  sfnClient = new SFNClient({ endpoint: sfn.endpoint, region: ASL_ENV.region, credentials, maxAttempts: 1 });
}, 60_000);
afterAll(async () => {
  ddb.destroy();
  sfnClient.destroy();
  await Promise.all([dynamo.close(), sfn.close()]);
});

let runs: Map<string, Run>;
afterEach(() => {
  sfn.onStart(undefined);
  for (const r of runs.values()) if (!r.done) r.abort();
});

async function setup(opts: { shortTimeout?: boolean; beforeRegister?: (approvalId: string) => Promise<void> } = {}) {
  runs = new Map();
  const store = new DynamoDbApprovalStore(ddb, { tableName: await createApprovalTable(ddb) });
  const workflow = new StepFunctionsApprovalWorkflow(sfnClient, { stateMachineArn: sfn.stateMachineArn });
  const records: SessionRecord[] = [];
  const archive = { put: async (r: SessionRecord) => (records.push(r), { key: r.session_id }) };
  const ids = uuidv7Ids(systemClock);
  const provider = new FakeProvider();
  const backgroundErrors: unknown[] = [];
  const task = (event: ApprovalTaskEvent) => handleApprovalTask(event, { config, store, workflow, archive, clock: systemClock, ids });
  const gateway = new Gateway({
    config,
    verifier: {
      async verify(token) {
        const p = PRINCIPALS[token];
        if (!p) throw unauthenticated('bad token', 'bad_signature');
        return p;
      },
    },
    provider: () => provider,
    revocations: new InMemoryRevocationList(),
    archive,
    approvals: { store, workflow },
    clock: systemClock,
    ids,
    onBackgroundError: (_what, e) => void backgroundErrors.push(e),
  });

  sfn.onStart((execution) => {
    const sent = JSON.parse(execution.input) as ApprovalExecutionInput;
    const input = opts.shortTimeout ? { ...sent, timeoutSeconds: 1 } : sent;
    const token = sfn.issueToken(execution.name);
    let registered!: () => void;
    const run: Run = {
      execution,
      token,
      registered: new Promise<void>((resolve) => (registered = resolve)),
      states: [],
      inputs: {},
      done: false,
    } as Omit<Run, 'result' | 'abort'> as Run;
    const machine = new StateMachine(definition as never);
    const { result, abort, eventLogs } = machine.run(input as unknown as Json, {
      context: { Execution: { Id: execution.executionArn, Name: execution.name }, Task: { Token: token } },
      overrides: {
        // Retries of the deployed definition wait seconds; here they do not wait.
        retryIntervalOverrides: { Notify: 0, WaitForDecision: 0, Confirm: 0, Expire: 0 },
        taskResourceLocalHandlers: {
          Notify: async (params: Json) => {
            run.notification = params as unknown as Run['notification'];
            return { MessageId: `msg-${execution.name}` };
          },
          WaitForDecision: async (params: Json) => {
            const { Payload } = params as unknown as { Payload: ApprovalTaskEvent };
            await opts.beforeRegister?.(Payload.approvalId);
            await task(Payload);
            registered();
            return JSON.parse(await sfn.waitForRelease(Payload.action === 'register' ? Payload.taskToken : '')) as Json;
          },
          Confirm: async (params: Json) => ({ Payload: await task((params as unknown as { Payload: ApprovalTaskEvent }).Payload) }),
          Expire: async (params: Json) => ({ Payload: await task((params as unknown as { Payload: ApprovalTaskEvent }).Payload) }),
        },
      },
    });
    Object.assign(run, {
      abort,
      result: (result as Promise<Record<string, unknown>>).finally(() => {
        run.done = true;
        // The execution ended: its token is no longer waited for.
        if (!sfn.released.has(token)) sfn.timeOut(token);
        sfn.end(execution.name);
      }),
    });
    run.result.catch(() => undefined);
    void (async () => {
      for await (const e of eventLogs) {
        if (e.type === 'StateEntered') {
          run.states.push(e.state.name);
          run.inputs[e.state.name] = e.state.input;
        }
      }
    })();
    runs.set(execution.name, run);
  });

  const send = async (who: string, opts: { method?: string; path?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const r: GatewayRequest = {
      method: opts.method ?? 'POST',
      path: opts.path ?? '/v1/embeddings',
      domainName: 'gw.example.com',
      headers: { host: 'gw.example.com', authorization: `Bearer ${who}`, 'content-type': 'application/json', ...opts.headers },
      rawQueryString: '',
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      isBase64Encoded: false,
      requestId: `req-${Math.random()}`,
      sourceIp: '10.0.0.1',
    };
    const h = await gateway.handle(r);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies of many shapes
    return { status: h.response.status, json: JSON.parse(h.response.body) as Record<string, any>, record: h.record };
  };
  const body = (model = 'titan-v2', input: string[] = ['quarterly revenue by region']) => ({ model, input });
  const embed = (who: string, b: unknown = body(), headers: Record<string, string> = {}) => send(who, { body: b, headers });
  const resend = (who: string, id: string, b: unknown = body()) => embed(who, b, { [APPROVAL_HEADER]: id });
  const decide = (who: string, id: string, decision: 'approve' | 'deny', reason = 'checked the preview') =>
    send(who, { path: `/v1/approvals/${id}/decision`, body: { decision, reason } });
  const view = (who: string, id: string) => send(who, { method: 'GET', path: `/v1/approvals/${id}` });
  /** Hold a request; resolves when its execution has registered its token. */
  const hold = async (who = 'indexer', b: unknown = body()) => {
    const r = await embed(who, b);
    expect(r.status).toBe(202);
    const id = r.json.approval_id as string;
    const run = runs.get(id);
    if (!run) throw new Error(`no execution was started for approval ${id}`);
    return { id, run, response: r };
  };
  const steps = () => records.filter((r) => r.approval).map((r) => `${r.approval!.step}:${r.approval!.status}`);
  return { store, records, provider, backgroundErrors, embed, resend, decide, view, hold, steps, body };
}

/** The run's state names (after the event log caught up with the result). */
async function finished(run: Run): Promise<{ output: Record<string, unknown>; states: string[] }> {
  const output = await run.result;
  await new Promise((r) => setImmediate(r));
  return { output, states: run.states };
}

/** Still waiting after `ms` (not finished). */
async function stillWaiting(run: Run, ms = 150): Promise<boolean> {
  await new Promise((r) => setTimeout(r, ms));
  return !run.done;
}

// ---- the scenarios -----------------------------------------------------------------------------

describe('the deployed approval workflow, run locally against the real handlers and adapters', () => {
  test('approved: notify → register → a reviewer approves → SendTaskSuccess releases the wait → Approved; the re-sent request is forwarded once', async () => {
    const g = await setup();
    const { id, run, response } = await g.hold();
    expect(response.json).toMatchObject({ approval_id: id, status: 'pending', poll_url: `https://gw.example.com/v1/approvals/${id}` });
    expect(g.provider.calls).toHaveLength(0);

    // The execution is named after the approval; its input is the core's, with the rule's timeout.
    expect(run.execution.name).toBe(id);
    expect(JSON.parse(run.execution.input)).toMatchObject({ approvalId: id, timeoutSeconds: 3600 });
    await run.registered;
    // Notify published the notification the gateway wrote: who, model, rule, masked preview, how to decide.
    expect(run.notification!.TopicArn).toMatch(/^arn:aws:sns:/);
    expect(run.notification!.Subject).toBe('embedgate approval: titan-v2 for svc-indexer');
    expect(run.notification!.Message).toContain('rule "held"');
    expect(run.notification!.Message).toContain('[no preview: masking is off, the text was not scanned]');
    expect(run.notification!.Message).toContain(`https://gw.example.com/v1/approvals/${id}/decision`);
    // register stored the task token on the approval in DynamoDB (and the API never shows it).
    await expect(g.store.get(id)).resolves.toMatchObject({ status: 'pending', taskToken: run.token });
    expect(JSON.stringify((await g.view('indexer', id)).json)).not.toContain(run.token);
    expect(await stillWaiting(run)).toBe(true);

    const d = await g.decide('alice', id, 'approve');
    expect(d.status).toBe(200);
    expect(d.json).toMatchObject({ status: 'approved' });
    const { output, states } = await finished(run);
    expect(JSON.parse(sfn.released.get(run.token)!)).toEqual({ status: 'approved' });
    // What released the wait is discarded; the table's status decided the end.
    expect(output).toMatchObject({ approvalId: id, confirmed: { status: 'approved' } });
    expect(output).not.toHaveProperty('decision');
    expect(states).toEqual(['Notify', 'WaitForDecision', 'Confirm', 'Decision', 'Approved']);

    const used = await g.resend('indexer', id);
    expect(used.status).toBe(200);
    expect(used.json.data).toHaveLength(1);
    expect(g.provider.calls).toHaveLength(1);
    await expect(g.store.get(id)).resolves.toMatchObject({ status: 'used' });
    expect(g.steps()).toEqual(['requested:pending', 'viewed:pending', 'decided:approved', 'used:used']);
    expect(g.backgroundErrors).toEqual([]);
  });

  test('denied: the workflow ends in Denied and the re-sent request is refused', async () => {
    const g = await setup();
    const { id, run } = await g.hold();
    await run.registered;
    expect((await g.decide('bob', id, 'deny', 'not for this dataset')).json).toMatchObject({ status: 'denied' });
    const { states } = await finished(run);
    expect(JSON.parse(sfn.released.get(run.token)!)).toEqual({ status: 'denied' });
    expect(states).toEqual(['Notify', 'WaitForDecision', 'Confirm', 'Decision', 'Denied']);
    const r = await g.resend('indexer', id);
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('approval_denied');
    expect(g.provider.calls).toHaveLength(0);
    expect(g.steps()).toEqual(['requested:pending', 'decided:denied', 'refused:denied']);
  });

  test('timed out: TimeoutSecondsPath fails the wait with States.Timeout, Expire marks the approval expired and records it; later decisions and re-sends are refused', async () => {
    const g = await setup({ shortTimeout: true });
    const { id, run } = await g.hold();
    const started = Date.now();
    const { output, states } = await finished(run);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(states).toEqual(['Notify', 'WaitForDecision', 'Expire', 'ExpiryOutcome', 'Expired']);
    // What the deployed path ($.timeoutSeconds) reads in Step Functions: the state input of WaitForDecision.
    expect(deployed.States.WaitForDecision!.TimeoutSecondsPath).toBe('$.timeoutSeconds');
    expect(run.inputs.WaitForDecision).toMatchObject({ approvalId: id, timeoutSeconds: 1 });
    expect(output).toMatchObject({ approvalId: id, timeout: { Error: 'States.Timeout' }, expiry: { status: 'expired' } });
    await expect(g.store.get(id)).resolves.toMatchObject({ status: 'expired' });
    const expiry = g.records.find((r) => r.approval?.step === 'expired')!;
    expect(expiry).toMatchObject({
      request: { method: 'WORKFLOW', request_id: run.execution.executionArn },
      decision: { reason: 'approval_expired' },
      principal: { subject: 'svc-indexer' },
    });

    const late = await g.decide('alice', id, 'approve');
    expect(late.status).toBe(409);
    expect(late.json.error.code).toBe('approval_not_pending');
    const r = await g.resend('indexer', id);
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('approval_expired');
    expect(g.provider.calls).toHaveLength(0);
    expect(sfn.released.has(run.token)).toBe(false);
  });

  /** Bring an approval's deadline to a second from now in the table (the rule's shortest timeout is a minute). */
  const deadlineSoon = async (g: Awaited<ReturnType<typeof setup>>, id: string) => {
    const a = (await g.store.get(id))!;
    expect(await g.store.update({ ...a, revision: a.revision + 1, expiresAt: Date.now() + 1000 }, a.revision)).toBe(true);
  };
  // Someone with states:SendTaskSuccess / SendTaskFailure who read the token from the execution history.
  const forgeSuccess = (token: string) =>
    sfnClient.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ status: 'approved' }) }));

  test('a forged release (SendTaskSuccess by someone else, the table still pending) is not a decision: the workflow waits for the deadline from the table and expires the approval, with its record', async () => {
    const g = await setup();
    const { id, run } = await g.hold();
    await run.registered;
    await deadlineSoon(g, id);
    await forgeSuccess(run.token);
    const started = Date.now();
    const { output, states } = await finished(run);
    expect(states).toEqual(['Notify', 'WaitForDecision', 'Confirm', 'Decision', 'WaitForDeadline', 'Expire', 'ExpiryOutcome', 'Expired']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(output).toMatchObject({ confirmed: { status: 'pending' }, expiry: { status: 'expired' } });
    await expect(g.store.get(id)).resolves.toMatchObject({ status: 'expired' });
    expect(g.records.filter((x) => x.approval?.step === 'expired')).toHaveLength(1);
    // The gateway never took the forged release for an approval.
    const r = await g.resend('indexer', id);
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('approval_expired');
    expect(g.provider.calls).toHaveLength(0);
  });

  test('a forged release, then a real approval before the deadline: the workflow ends Approved, with no expiry record', async () => {
    const g = await setup();
    const { id, run } = await g.hold();
    await run.registered;
    await deadlineSoon(g, id);
    await forgeSuccess(run.token);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The reviewer decides while the workflow waits for the deadline (the token is spent: the gateway's release fails quietly).
    expect((await g.decide('alice', id, 'approve')).json).toMatchObject({ status: 'approved' });
    const { states, output } = await finished(run);
    expect(states).toEqual(['Notify', 'WaitForDecision', 'Confirm', 'Decision', 'WaitForDeadline', 'Expire', 'ExpiryOutcome', 'Approved']);
    expect(output).toMatchObject({ expiry: { status: 'approved' } });
    expect(g.records.filter((x) => x.approval?.step === 'expired')).toHaveLength(0);
  });

  test('a forged SendTaskFailure is not a decision either: Confirm reads the table, the workflow waits for the deadline and expires', async () => {
    const g = await setup();
    const { id, run } = await g.hold();
    await run.registered;
    await deadlineSoon(g, id);
    await sfnClient.send(new SendTaskFailureCommand({ taskToken: run.token, error: 'Forged', cause: 'not a reviewer' }));
    const { states } = await finished(run);
    expect(states).toEqual(['Notify', 'WaitForDecision', 'Confirm', 'Decision', 'WaitForDeadline', 'Expire', 'ExpiryOutcome', 'Expired']);
    await expect(g.store.get(id)).resolves.toMatchObject({ status: 'expired' });
    expect(g.records.filter((x) => x.approval?.step === 'expired')).toHaveLength(1);
  });

  test('self-approval is refused and does not release the workflow; another reviewer can still approve', async () => {
    const g = await setup();
    const { id, run } = await g.hold('carol');
    await run.registered;
    const self = await g.decide('carol', id, 'approve');
    expect(self.status).toBe(403);
    expect(self.json.error.code).toBe('self_approval');
    expect(await stillWaiting(run)).toBe(true);
    await expect(g.store.get(id)).resolves.toMatchObject({ status: 'pending', decisions: [] });
    // The requester cannot approve it by another route either: the API answers like for anyone else.
    expect((await g.view('carol', id)).json.status).toBe('pending');

    await g.decide('alice', id, 'approve');
    expect((await finished(run)).states.at(-1)).toBe('Approved');
    expect((await g.resend('carol', id)).status).toBe(200);
    expect(g.steps()).toEqual(['requested:pending', 'refused:pending', 'viewed:pending', 'decided:approved', 'used:used']);
  });

  test('a different payload after approval is refused (nothing forwarded); the approved payload still goes through', async () => {
    const g = await setup();
    const { id, run } = await g.hold();
    await run.registered;
    await g.decide('alice', id, 'approve');
    await finished(run);
    for (const other of [
      g.body('titan-v2', ['quarterly revenue by region', 'and one more item']),
      g.body('titan-v2', ['another text']),
      { ...g.body(), dimensions: 256 },
    ]) {
      const r = await g.resend('indexer', id, other);
      expect([r.status, r.json.error.code]).toEqual([403, 'approval_payload_mismatch']);
    }
    // Another model is decided by another rule (the two-person rule): a use of this approval there is refused too.
    const otherModel = await g.resend('indexer', id, g.body('cohere-en'));
    expect([otherModel.status, otherModel.json.error.code]).toEqual([403, 'approval_rule_mismatch']);
    expect(g.provider.calls).toHaveLength(0);
    await expect(g.store.get(id)).resolves.toMatchObject({ status: 'approved' });
    expect((await g.resend('indexer', id)).status).toBe(200);
    expect(g.provider.calls).toHaveLength(1);
  });

  test('replay of a used approval is refused, even when two re-sends race', async () => {
    const g = await setup();
    const { id, run } = await g.hold();
    await run.registered;
    await g.decide('alice', id, 'approve');
    await finished(run);
    const [a, b] = await Promise.all([g.resend('indexer', id), g.resend('indexer', id)]);
    expect([a.status, b.status].sort()).toEqual([200, 403]);
    expect([a, b].find((r) => r.status === 403)!.json.error.code).toBe('approval_used');
    const again = await g.resend('indexer', id);
    expect([again.status, again.json.error.code]).toEqual([403, 'approval_used']);
    expect(g.provider.calls).toHaveLength(1);
    // Another principal replaying the id learns nothing: it is not theirs.
    const other = await g.resend('carol', id);
    expect([other.status, other.json.error.code]).toEqual([404, 'approval_not_found']);
  });

  test('two-person rule: one approval keeps the workflow waiting; the same reviewer twice does not count; a second reviewer releases it', async () => {
    const g = await setup();
    const { id, run } = await g.hold('indexer', g.body('cohere-en'));
    await run.registered;
    const first = await g.decide('alice', id, 'approve');
    expect(first.json).toMatchObject({ status: 'pending', approvals: 1, required_approvals: 2 });
    expect(await stillWaiting(run)).toBe(true);
    const twice = await g.decide('alice', id, 'approve');
    expect([twice.status, twice.json.error.code]).toEqual([409, 'already_decided']);
    const early = await g.resend('indexer', id, g.body('cohere-en'));
    expect([early.status, early.json.error.code]).toEqual([409, 'approval_pending']);
    expect(await stillWaiting(run, 50)).toBe(true);

    const second = await g.decide('bob', id, 'approve');
    expect(second.json).toMatchObject({ status: 'approved', approvals: 2 });
    expect((await finished(run)).states).toEqual(['Notify', 'WaitForDecision', 'Confirm', 'Decision', 'Approved']);
    expect((await g.resend('indexer', id, g.body('cohere-en'))).status).toBe(200);
    const decisions = (await g.store.get(id))!.decisions.map((d) => d.reviewer.subject);
    expect(decisions).toEqual(['alice', 'bob']);
  });

  test('decided before the workflow registered its token: register releases it at once', async () => {
    let allowRegister!: () => void;
    const gate = new Promise<void>((resolve) => (allowRegister = resolve));
    const g = await setup({ beforeRegister: () => gate });
    const { id, run } = await g.hold();
    // The reviewer is faster than the workflow: no token yet, so the decision releases nothing.
    await expect(g.store.get(id)).resolves.toMatchObject({ taskToken: null });
    expect((await g.decide('alice', id, 'deny', 'no')).json).toMatchObject({ status: 'denied' });
    expect(sfn.released.size === 0 || !sfn.released.has(run.token)).toBe(true);
    allowRegister();
    expect((await finished(run)).states).toEqual(['Notify', 'WaitForDecision', 'Confirm', 'Decision', 'Denied']);
    expect(JSON.parse(sfn.released.get(run.token)!)).toEqual({ status: 'denied' });
  });
});
