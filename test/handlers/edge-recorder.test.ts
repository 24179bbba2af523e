/** The edge recorder: one record per request API Gateway answered itself, redeliveries skipped. */
import { gzipSync } from 'node:zlib';
import type { CloudWatchLogsEvent } from 'aws-lambda';
import { loadConfig } from '../../shared/config';
import { SessionRecorder } from '../../lambda/core/recorder';
import type { Archive } from '../../lambda/core/ports';
import type { SessionRecord } from '../../lambda/core/record';
import { createEdgeRecorder, fromAccessLog } from '../../lambda/handlers/edge-recorder';

const config = loadConfig({
  issuers: [{ id: 'corp', issuer: 'https://idp.example.com', audiences: 'embedgate', jwksUri: 'https://idp.example.com/jwks' }],
  models: [{ name: 'local', provider: 'local' }],
  policy: { rules: [] },
});

class WriteOnceArchive implements Archive {
  readonly records = new Map<string, SessionRecord>();
  down = false;
  async put(r: SessionRecord) {
    if (this.down) throw new Error('S3 unavailable');
    if (this.records.has(r.session_id)) throw Object.assign(new Error('exists'), { name: 'ArchiveConflictError' });
    this.records.set(r.session_id, r);
    return { key: r.session_id };
  }
}

function setup() {
  const archive = new WriteOnceArchive();
  const recorder = new SessionRecorder({ config, archive, clock: { now: () => Date.now() } });
  return { archive, record: createEdgeRecorder(recorder) };
}

const entry = (o: Record<string, string>) =>
  JSON.stringify({
    requestId: 'r1',
    time: '1795957070541',
    ip: '203.0.113.9',
    userAgent: 'curl/8',
    method: 'POST',
    path: '/v1/embeddings',
    status: '401',
    integrationStatus: '-',
    authorizerError: 'Unauthorized',
    ...o,
  });

function event(messages: string[]): CloudWatchLogsEvent {
  const data = {
    messageType: 'DATA_MESSAGE',
    owner: '123456789012',
    logGroup: 'access',
    logStream: 's',
    subscriptionFilters: ['f'],
    logEvents: messages.map((message, i) => ({ id: String(i), timestamp: 0, message })),
  };
  return { awslogs: { data: gzipSync(JSON.stringify(data)).toString('base64') } };
}

test('each refused request becomes one record with the edge reason, the request facts, and no principal', async () => {
  const { archive, record } = setup();
  const result = await record(
    event([entry({}), entry({ requestId: 'r2', status: '404', path: '/v2/other' }), entry({ requestId: 'r3', status: '429' })]),
  );
  expect(result).toEqual({ recorded: 3, duplicates: 0, skipped: 0 });
  const byRequest = new Map([...archive.records.values()].map((r) => [r.request.request_id, r]));
  expect(byRequest.get('r1')).toMatchObject({
    principal: null,
    request: { method: 'POST', path: '/v1/embeddings', source_ip: '203.0.113.9', user_agent: 'curl/8' },
    decision: { outcome: 'deny', status: 401, reason: 'edge_token_rejected', policy_version: config.version },
    started_at: new Date(1795957070541).toISOString(),
  });
  expect(byRequest.get('r2')!.decision).toMatchObject({ outcome: 'invalid', status: 404, reason: 'edge_route_not_found' });
  expect(byRequest.get('r3')!.decision).toMatchObject({ outcome: 'error', status: 429, reason: 'edge_throttled' });
});

test('a redelivered batch is recognised by its deterministic session ids and not recorded twice', async () => {
  const { archive, record } = setup();
  await record(event([entry({})]));
  const again = await record(event([entry({})]));
  expect(again).toEqual({ recorded: 0, duplicates: 1, skipped: 0 });
  expect(archive.records.size).toBe(1);
  expect(fromAccessLog(JSON.parse(entry({}))).sessionId).toBe([...archive.records.keys()][0]);
  expect(fromAccessLog(JSON.parse(entry({ requestId: 'other' }))).sessionId).not.toBe([...archive.records.keys()][0]);
});

test('entries of requests the proxy handled, and unreadable lines, are skipped', async () => {
  const { archive, record } = setup();
  const result = await record(event([entry({ integrationStatus: '200', status: '200' }), 'not json', entry({ requestId: '' })]));
  expect(result).toEqual({ recorded: 0, duplicates: 0, skipped: 3 });
  expect(archive.records.size).toBe(0);
});

test('when the archive fails the invocation fails, so Lambda retries it and then dead-letters it', async () => {
  const { archive, record } = setup();
  archive.down = true;
  await expect(record(event([entry({})]))).rejects.toThrow('S3 unavailable');
});
