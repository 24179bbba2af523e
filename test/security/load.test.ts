/**
 * Load with nothing lost, small size (the full size is bench/load.mjs, figures in BENCHMARKS.md):
 * 500 requests at concurrency 20 through `embedgate dev` (a child process), with seeded random
 * upstream faults from the fake upstream (this process) and a mix of allowed, forbidden, invalid and
 * unauthenticated requests. Asserts invariants only, never timings:
 *
 * - every request got an answer and a session id, and no session id came back twice;
 * - every answer has exactly one record, under its session id, with its status; no other record;
 * - the records' counts by status equal the clients' counts by status;
 * - the gateway never failed internally, and keeps answering.
 */
import { generateTestKey, signToken, startJwksServer, type JwksServer } from '../support/jwks';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream';
import { auditArchive, faultScript, LOAD_AUDIENCE, loadScenarioConfig, requestMix, runLoad, type LoadResult } from '../support/load-driver';
import { archiveText, send, startGateway, type GatewayProcess } from '../support/security-harness';
import { findLeaks, SecretSet } from '../support/leak-scan';
import { readJournal } from '../../lambda/adapters/local/journal';
import { readLocalArchive } from '../../cli/archive-reader';

const REQUESTS = Number(process.env.LOAD_REQUESTS ?? 500);
const CONCURRENCY = Number(process.env.LOAD_CONCURRENCY ?? 20);
const SEED = Number(process.env.LOAD_SEED ?? 8);
const UPSTREAM_KEY = 'sk-load-upstream-key-9e8d7c6b5a';

let idp: JwksServer;
let upstream: FakeUpstream;
let gw: GatewayProcess;
let result: LoadResult;
const secrets = new SecretSet().add('upstream key', UPSTREAM_KEY);

beforeAll(async () => {
  const key = await generateTestKey('RS256', { kid: 'load-1' });
  [idp, upstream] = await Promise.all([startJwksServer({ keys: [key] }), startFakeUpstream({ dimensions: 16, script: faultScript(SEED) })]);
  gw = await startGateway({
    config: loadScenarioConfig({ issuer: idp.issuer, jwksUri: idp.jwksUri, upstreamUrl: upstream.url, keyEnv: 'LOAD_UPSTREAM_KEY' }),
    env: { LOAD_UPSTREAM_KEY: UPSTREAM_KEY },
  });
  const now = Math.floor(Date.now() / 1000);
  const token = (sub: string, groups: string[], exp = now + 900) =>
    signToken(key, { iss: idp.issuer, aud: LOAD_AUDIENCE, sub, client_id: sub, groups, iat: now - 10, exp });
  const tokens = {
    indexer: await token('svc-indexer', ['indexers']),
    bot: await token('svc-bot', ['bots']),
    expired: await token('svc-old', ['indexers'], now - 60),
  };
  for (const [k, t] of Object.entries(tokens)) secrets.token(k, t);
  result = await runLoad({ url: gw.url, requests: REQUESTS, concurrency: CONCURRENCY, next: requestMix(SEED, tokens) });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([idp?.stop(), upstream?.close()]);
});

describe(`load: ${REQUESTS} requests at concurrency ${CONCURRENCY} with random upstream faults`, () => {
  it('every request got an answer with a session id, and no id twice', () => {
    expect(result.transportErrors).toEqual([]);
    expect(result.withoutSessionId).toBe(0);
    expect(result.duplicateSessionIds).toEqual([]);
    expect(result.sessionIds).toHaveLength(REQUESTS);
  });

  it('the mix really exercised success, refusals and upstream failures', () => {
    const statuses = Object.keys(result.byStatus).map(Number);
    expect(statuses).toEqual(expect.arrayContaining([200, 400, 401, 403, 422]));
    expect(statuses.some((s) => s === 429 || s >= 500)).toBe(true);
    expect(upstream.requests.length).toBeGreaterThan(REQUESTS / 3);
  });

  it('exactly one record per request, with the status the client saw; the counts by status match', async () => {
    const audit = await auditArchive(gw.archiveDir, result);
    expect(audit.missingRecords).toEqual([]);
    expect(audit.unknownRecords).toEqual([]);
    expect(audit.duplicateRecords).toEqual([]);
    expect(audit.statusMismatches).toEqual([]);
    expect(audit.internalErrors).toBe(0);
    expect(audit.records).toBe(REQUESTS);
    expect(audit.byStatus).toEqual(result.byStatus);
  });

  it('through the write-ahead journal: every intent journaled during an upstream call has its request final record, never a no_outcome one', async () => {
    const { intents } = await readJournal(gw.archiveDir); // each session once (a carried intent is in two segments)
    const records = new Map((await readLocalArchive(gw.archiveDir)).map((r) => [r.session_id, r]));
    expect(intents.length).toBeGreaterThan(REQUESTS / 3);
    expect(intents.filter((i) => !records.has(i.session_id)).map((i) => i.session_id)).toEqual([]);
    expect([...records.values()].filter((r) => r.decision.reason === 'no_outcome')).toEqual([]);
  });

  it('the gateway keeps answering and logged no failure of its own', async () => {
    expect(gw.alive()).toBe(true);
    expect((await send(gw.url, '/health', { method: 'GET' })).status).toBe(200);
    expect(gw.output()).not.toMatch(/request failed|response failed|archive write failed/);
  });

  it('no token or upstream key in its logs or records', async () => {
    expect(
      findLeaks(
        [
          { name: 'dev output', text: gw.output() },
          { name: 'records', text: await archiveText(gw.archiveDir) },
        ],
        secrets,
      ),
    ).toEqual([]);
  });
});
